"""The local control API (/_local/api/...), which exists only in the local stack. It drives the
app as Slack and Twilio would, over HTTP to the gateway's public routes with real signatures,
and shows what the stand-ins recorded."""
from __future__ import annotations

import base64
import json
import os
import re
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import parse_qsl, urlencode

from local.console import say
from local.servers import FORM, JSON_TYPE, Request, json_response
from local.signing import slack_signature_headers, twilio_signature_header
from local.slack_standin import (APP_ID, BOT_USER_ID, DEFAULT_USER, PARTNER_CHANNEL, PARTNER_CHANNEL_NAME,
                                 PARTNER_DEFAULT_USER, PARTNER_DIRECTORY, PARTNER_TEAM_ID, PARTNER_TEAM_NAME,
                                 STAFF_CHANNEL_NAME, TEAM_DOMAIN, TEAM_ID, SlackError, slack_shape, team_of,
                                 user_name)
from local.twilio_standin import API_VERSION, new_message_sid, segment_count

SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
TWILIO_USER_AGENT = "TwilioProxy/1.1"
# Straight to 127.0.0.1, whatever proxy the developer's shell names.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Control:
    def __init__(self, gateway_url: str, aws, slack, twilio):
        self._gateway_url = gateway_url
        self._aws = aws
        self._slack = slack
        self._twilio = twilio
        self._triggers: dict[str, str] = {}  # trigger_id -> who clicked (a modal's submission is theirs)
        self._actions = {
            ("GET", "/_local/api/config"): self.config,
            ("GET", "/_local/api/slack/messages"): self.slack_messages,
            ("POST", "/_local/api/slack/reply"): self.slack_reply,
            ("POST", "/_local/api/slack/click"): self.slack_click,
            ("GET", "/_local/api/slack/home"): self.slack_home,
            ("POST", "/_local/api/slack/home"): self.slack_home_open,
            ("POST", "/_local/api/slack/home/click"): self.slack_home_click,
            ("POST", "/_local/api/slack/select"): self.slack_select,
            ("GET", "/_local/api/slack/views"): self.slack_views,
            ("POST", "/_local/api/slack/submit"): self.slack_submit,
            ("POST", "/_local/api/slack/views/close"): self.slack_close_view,
            ("POST", "/_local/api/slack/command"): self.slack_command,
            ("POST", "/_local/api/slack/partner"): self.slack_partner,
            ("POST", "/_local/api/phone/send"): self.phone_send,
            ("GET", "/_local/api/phone/messages"): self.phone_messages,
            ("POST", "/_local/api/faults"): self.faults,
            ("POST", "/_local/api/slack/rate_limit"): self.slack_rate_limit,
            ("POST", "/_local/api/reset"): self.reset,
            ("GET", "/_local/api/dlq"): self.dead_letters,
            ("GET", "/_local/api/mail"): self.mail,
        }

    def __call__(self, request: Request):
        action = self._actions.get((request.method, request.path))
        if action is None:
            return json_response(404, {"message": "Not Found"})
        try:
            return json_response(200, action(request))
        except ControlError as error:
            return json_response(error.status, {"error": str(error)})

    def config(self, request: Request) -> dict:
        return {
            "aws_endpoint_url": os.environ["AWS_ENDPOINT_URL"],
            "slack_api_url": os.environ["SLACK_API_URL"],
            "twilio_api_url": os.environ["TWILIO_API_URL"],
            "embedded": {"aws": self._aws.embedded, "slack": self._slack is not None,
                         "twilio": self._twilio is not None},
            "table_name": os.environ["TABLE_NAME"],
            "jobs_queue_url": os.environ["JOBS_QUEUE_URL"],
            "lambda_endpoint_url": os.environ["AWS_ENDPOINT_URL_LAMBDA"],
            "dispatcher_function_arn": os.environ["DISPATCHER_FUNCTION_ARN"],
            "dead_letter_queue_urls": self._aws.dead_letter_queue_urls,
            "public_base_url": os.environ["PUBLIC_BASE_URL"],
            "slack_staff_channel": os.environ["SLACK_STAFF_CHANNEL"],
            "slack_partner": {"channel": PARTNER_CHANNEL, "channel_name": PARTNER_CHANNEL_NAME,
                              "team_id": PARTNER_TEAM_ID, "team_name": PARTNER_TEAM_NAME,
                              "users": {user: " ".join(name[:2]) for user, name in PARTNER_DIRECTORY.items()}},
            "twilio_from_number": os.environ["TWILIO_FROM_NUMBER"],
            "library_timezone": os.environ.get("LIBRARY_TIMEZONE", ""),
        }

    # Slack

    def slack_messages(self, request: Request) -> dict:
        return {"messages": self._stand_in("slack").messages()}

    def slack_reply(self, request: Request) -> dict:
        """A librarian types in the staff channel: Slack shows it, then sends the event."""
        data = _input(request)
        slack = self._stand_in("slack")
        channel = data.get("channel") or os.environ["SLACK_STAFF_CHANNEL"]
        # The Slack client escapes what people type before it reaches apps.
        user = data.get("user") or DEFAULT_USER
        files = [slack.share_file(name, content_type, content, user)
                 for name, content_type, content in _shared_files(data.get("files"))]
        typed = (data.get("text") if files else _required(data, "text")) or ""
        typed = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        message = slack.record_human(channel, user, typed, data.get("thread_ts"), _scripted_ts(data), files)
        team = team_of(message["user"])  # a partner's member may write in a shared staff channel
        event = {"type": "message", "channel": channel, "user": message["user"], "text": message["text"],
                 "ts": message["ts"], "channel_type": "channel", "event_ts": message["ts"], "team": team,
                 "user_team": team, "source_team": team}
        if files:  # attached in Slack's composer: a file_share
            event.update(subtype="file_share", files=files)
        if message["thread_ts"]:
            event["thread_ts"] = message["thread_ts"]
        envelope = {
            "token": "local", "team_id": TEAM_ID, "api_app_id": APP_ID, "event": event,
            "type": "event_callback", "event_id": "Ev" + uuid.uuid4().hex[:12].upper(),
            "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                                "is_bot": True, "is_enterprise_install": False}],
            # The shared channel, or a staff channel shared too (a partner's member is writing there).
            "is_ext_shared_channel": channel == PARTNER_CHANNEL or team != TEAM_ID,
        }
        status, _ = self._post_slack("/slack/events", json.dumps(envelope), JSON_TYPE)
        return {"status": status, "ts": message["ts"]}

    def slack_partner(self, request: Request) -> dict:
        """A member of the partner organisation writes in the Slack Connect channel (a new message,
        or a reply in a thread with thread_ts): Slack shows it, then sends the event as it does
        for a shared channel (is_ext_shared_channel, user_team and source_team of the partner,
        the envelope's team_id that of the channel's host, authorizations the library's)."""
        data = _input(request)
        slack = self._stand_in("slack")
        user = data.get("user") or PARTNER_DEFAULT_USER
        if user not in PARTNER_DIRECTORY:
            raise ControlError(400, f"user must be one of the partner's: {', '.join(PARTNER_DIRECTORY)}")
        text = _required(data, "text")
        if not isinstance(text, str) or not text.strip():
            raise ControlError(400, "text must be a non-empty string")
        typed = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        message = slack.record_human(PARTNER_CHANNEL, user, typed, data.get("thread_ts") or None, _scripted_ts(data))
        first, last, _ = PARTNER_DIRECTORY[user]
        event = {"type": "message", "channel": PARTNER_CHANNEL, "user": user, "text": message["text"],
                 "ts": message["ts"], "channel_type": "channel", "event_ts": message["ts"],
                 "client_msg_id": str(uuid.uuid4()), "team": PARTNER_TEAM_ID, "user_team": PARTNER_TEAM_ID,
                 "source_team": PARTNER_TEAM_ID,
                 "user_profile": {"first_name": first, "real_name": f"{first} {last}", "display_name": first,
                                  "team": PARTNER_TEAM_ID, "name": f"{first}.{last}".lower(),
                                  "is_restricted": False, "is_ultra_restricted": False}}
        if message["thread_ts"]:
            event.update(thread_ts=message["thread_ts"], parent_user_id=user)
        envelope = {
            "token": "local", "team_id": PARTNER_TEAM_ID, "context_team_id": PARTNER_TEAM_ID,
            "context_enterprise_id": None, "api_app_id": APP_ID, "event": event, "type": "event_callback",
            "event_id": "Ev" + uuid.uuid4().hex[:12].upper(), "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": True,
        }
        status, _ = self._post_slack("/slack/events", json.dumps(envelope), JSON_TYPE)
        return {"status": status, "ts": message["ts"], "channel": PARTNER_CHANNEL}

    def slack_click(self, request: Request) -> dict:
        """A librarian clicks a button in a recorded message; with "selected_user", picks that
        person in its users_select instead (the card's "Transfer to…")."""
        data = _input(request)
        slack = self._stand_in("slack")
        ts, action_id = _required(data, "ts"), _required(data, "action_id")
        message = slack.find(ts, data.get("channel"))
        if message is None:
            raise ControlError(404, f"no recorded Slack message with ts {ts}")
        user = data.get("user") or DEFAULT_USER
        if data.get("selected_user"):
            block, menu = _find_element(message["blocks"], action_id, "users_select")
            action = {"action_id": action_id, "block_id": block.get("block_id", ""), "type": "users_select",
                      "selected_user": str(data["selected_user"]), "placeholder": menu.get("placeholder"),
                      "action_ts": f"{time.time():.6f}"}
            return self._block_actions(slack, message, user, action)
        block, button = _find_button(message["blocks"], action_id)
        action = {"action_id": action_id, "block_id": block.get("block_id", ""), "text": button.get("text"),
                  "type": "button", "action_ts": f"{time.time():.6f}"}
        action.update({key: button[key] for key in ("value", "style") if key in button})
        return self._block_actions(slack, message, user, action)

    def _block_actions(self, slack, message: dict, user: str, action: dict) -> dict:
        """Sends a signed block_actions payload for `action` on a recorded message; its
        trigger_id is remembered for the modal it may open (whose submission is the user's)."""
        ts = message["ts"]
        trigger_id = _trigger_id()
        self._triggers[trigger_id] = user
        while len(self._triggers) > 200:  # only fresh triggers can open a modal
            self._triggers.pop(next(iter(self._triggers)))
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user_name(user), "name": user_name(user), "team_id": team_of(user)},
            "api_app_id": APP_ID,
            "token": "local",
            "team": {"id": team_of(user), "domain": TEAM_DOMAIN},
            "container": {"type": "message", "message_ts": ts, "channel_id": message["channel"],
                          "is_ephemeral": False, **({"thread_ts": message["thread_ts"]} if message["thread_ts"] else {})},
            "trigger_id": trigger_id,
            "channel": {"id": message["channel"], "name": STAFF_CHANNEL_NAME},
            "message": slack_shape(message),
            "state": {"values": {}},
            "response_url": slack.response_url(message["channel"], user, ts),
            "actions": [action],
        }
        status, _ = self._post_slack("/slack/interactions", urlencode({"payload": json.dumps(payload)}), FORM)
        return {"status": status}

    def slack_home(self, request: Request) -> dict:
        """The Home tab last published for ?user= (views.publish), or null."""
        user = dict(parse_qsl(request.query)).get("user") or DEFAULT_USER
        return {"user": user, "view": self._stand_in("slack").home_view(user)}

    def slack_home_open(self, request: Request) -> dict:
        """A librarian opens the app's Home tab: a signed app_home_opened event."""
        user = _input(request).get("user") or DEFAULT_USER
        envelope = {"token": "local", "team_id": TEAM_ID, "api_app_id": APP_ID, "type": "event_callback",
                    "event_id": "Ev" + uuid.uuid4().hex[:12].upper(), "event_time": int(time.time()),
                    "event": {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home",
                              "event_ts": f"{time.time():.6f}"}}
        status, _ = self._post_slack("/slack/events", json.dumps(envelope), JSON_TYPE)
        return {"status": status}

    def slack_home_click(self, request: Request) -> dict:
        """A librarian presses a button in their Home tab, or picks an option of one of its
        static_selects (the filter): {"user", "action_id", "value"}; a pick is sent with
        selected_option, as Slack sends it."""
        data = _input(request)
        user, action_id, value = data.get("user") or DEFAULT_USER, _required(data, "action_id"), data.get("value")
        view = self._stand_in("slack").home_view(user)
        if view is None:
            raise ControlError(404, "no Home tab published for that user")
        elements = [(block, element) for block in view.get("blocks") or []
                    for element in (block.get("elements") or []) + [block.get("accessory") or {}]
                    if element.get("action_id") == action_id]
        if elements and elements[0][1].get("type") == "static_select":
            block, menu = elements[0]
            value = _required(data, "value")
            option = _option(menu, value)
            if option is None:
                raise ControlError(404, f"no option {value!r} in the Home tab's {action_id} menu")
            action = {"type": "static_select", "selected_option": option, "placeholder": menu.get("placeholder"),
                      **({"initial_option": menu["initial_option"]} if "initial_option" in menu else {})}
        else:
            buttons = [(block, element) for block, element in elements
                       if element.get("type") == "button" and (value is None or element.get("value") == value)]
            if not buttons:
                raise ControlError(404, f"no {action_id} button with that value in the Home tab")
            block, button = buttons[0]
            action = {"type": "button", "value": button.get("value", ""), "text": button.get("text")}
        payload = {
            "type": "block_actions", "api_app_id": APP_ID, "token": "local", "trigger_id": _trigger_id(),
            "user": {"id": user, "username": user_name(user), "name": user_name(user), "team_id": team_of(user)},
            "team": {"id": team_of(user), "domain": TEAM_DOMAIN}, "container": {"type": "view", "view_id": "V0HOME"},
            "view": {**view, "id": "V0HOME"}, "state": {"values": {}},
            "actions": [{"action_id": action_id, "block_id": block.get("block_id", ""), **action,
                         "action_ts": f"{time.time():.6f}"}],
        }
        status, _ = self._post_slack("/slack/interactions", urlencode({"payload": json.dumps(payload)}), FORM)
        return {"status": status}

    def slack_select(self, request: Request) -> dict:
        """A librarian picks an option of a static_select in a recorded message ("Quick reply…"):
        {"ts", "action_id", "value", "user"}, sent as Slack sends block_actions (selected_option)."""
        data = _input(request)
        slack = self._stand_in("slack")
        ts, action_id, value = _required(data, "ts"), _required(data, "action_id"), _required(data, "value")
        message = slack.find(ts, data.get("channel"))
        if message is None:
            raise ControlError(404, f"no recorded Slack message with ts {ts}")
        block, menu = _find_element(message["blocks"], action_id, "static_select")
        option = _option(menu, value)
        if option is None:
            raise ControlError(404, f"no option {value!r} in that menu")
        user = data.get("user") or DEFAULT_USER
        action = {"action_id": action_id, "block_id": block.get("block_id", ""), "type": "static_select",
                  "selected_option": option, "placeholder": menu.get("placeholder"),
                  "action_ts": _scripted_ts(data, "action_ts") or f"{time.time():.6f}"}
        return self._block_actions(slack, message, user, action)

    def slack_views(self, request: Request) -> dict:
        """The modals open now (views.open), oldest first."""
        return {"views": self._stand_in("slack").open_views()}

    def slack_close_view(self, request: Request) -> dict:
        """A librarian cancels an open modal (Slack sends nothing: notify_on_close is off)."""
        self._stand_in("slack").close_view(str(_required(_input(request), "view_id")))
        return {"ok": True}

    def slack_submit(self, request: Request) -> dict:
        """A librarian submits an open modal: {"view_id" (default: the latest), "user", "values":
        {block_id: value}}; each input's value goes to its element as Slack puts it in
        view.state (static_select: selected_option, plain_text_input: value). Sent signed as
        view_submission; an empty 200 closes the modal, as in Slack."""
        data = _input(request)
        slack = self._stand_in("slack")
        views = slack.open_views()
        view_id = data.get("view_id") or (views[-1]["id"] if views else "")
        view = next((view for view in views if view["id"] == view_id), None)
        if view is None:
            raise ControlError(404, "no such open modal")
        values = data.get("values") or {}
        if not isinstance(values, dict):
            raise ControlError(400, "values is an object: {block_id: value}")
        user = data.get("user") or self._triggers.get(view.get("trigger_id"), DEFAULT_USER)
        payload = {
            "type": "view_submission", "team": {"id": team_of(user), "domain": TEAM_DOMAIN},
            "user": {"id": user, "username": user_name(user), "name": user_name(user), "team_id": team_of(user)},
            "api_app_id": APP_ID, "token": "local", "trigger_id": _trigger_id(),
            "view": {**view, "state": {"values": _view_state(view, values)}},
            "response_urls": [], "is_enterprise_install": False, "enterprise": None,
        }
        status, text = self._post_slack("/slack/interactions", urlencode({"payload": json.dumps(payload)}), FORM)
        if status == 200 and not text.strip():
            slack.close_view(view_id)
        return {"status": status, "view_id": view_id, "closed": status == 200 and not text.strip(), "body": text}

    def slack_command(self, request: Request) -> dict:
        """A librarian types a slash command; Slack shows them the immediate answer."""
        data = _input(request)
        slack = self._stand_in("slack")
        user = data.get("user") or DEFAULT_USER
        channel = data.get("channel") or os.environ["SLACK_STAFF_CHANNEL"]
        form = {
            "token": "local", "team_id": team_of(user), "team_domain": TEAM_DOMAIN, "channel_id": channel,
            "channel_name": STAFF_CHANNEL_NAME, "user_id": user, "user_name": user_name(user),
            "command": data.get("command") or "/refdesk", "text": data.get("text", ""), "api_app_id": APP_ID,
            "is_enterprise_install": "false", "response_url": slack.response_url(channel, user),
            "trigger_id": _trigger_id(),
        }
        status, text = self._post_slack("/slack/commands", urlencode(form), FORM)
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = text
        if status == 200 and isinstance(body, dict):
            try:
                slack.record_response(channel, user, body)
            except SlackError as error:
                say("slack", f"the command's answer is not a valid Slack message: {error}")
        return {"status": status, "body": body}

    # Phone

    def phone_send(self, request: Request) -> dict:
        """A patron texts the library: Twilio calls the webhook. With "media" (a list of
        {"content_type", "data": base64}), an MMS: the Twilio stand-in keeps each medium and
        the webhook gets its MediaUrl{i} and MediaContentType{i}, as from Twilio."""
        data = _input(request)
        media = _media(data.get("media"))
        sid = data.get("message_sid") or ("MM" + uuid.uuid4().hex if media else new_message_sid())
        body = data.get("body", "")
        params = {
            "ToCountry": "US", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "", "FromZip": "",
            "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "", "Body": body,
            "FromCountry": "US", "To": os.environ["TWILIO_FROM_NUMBER"], "ToZip": "",
            "NumSegments": str(segment_count(body)), "MessageSid": sid,
            "AccountSid": os.environ["TWILIO_ACCOUNT_SID"], "From": _required(data, "from"),
            "ApiVersion": API_VERSION,
        }
        if media:
            twilio = self._stand_in("twilio")
            params["NumMedia"] = str(len(media))
            for index, (content_type, content) in enumerate(media):
                params[f"MediaContentType{index}"] = content_type
                params[f"MediaUrl{index}"] = twilio.add_media(content_type, content, sid)
        # Twilio signs the URL it was configured with, which is PUBLIC_BASE_URL's.
        signed_url = os.environ["PUBLIC_BASE_URL"].rstrip("/") + "/sms/inbound"
        headers = {"Content-Type": FORM, "User-Agent": TWILIO_USER_AGENT,
                   "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
                   **twilio_signature_header(os.environ["TWILIO_AUTH_TOKEN"], signed_url, params)}
        status, text = self._post("/sms/inbound", urlencode(params), headers)
        return {"status": status, "twiml": text, "message_sid": sid}

    def phone_messages(self, request: Request) -> dict:
        """The texts Twilio accepted ("messages") and every send it was asked for, refused ones
        included, with the HTTP status it answered ("attempts"); ?number= those to one number."""
        # A "+" typed into the URL is not a space here.
        number = dict(parse_qsl(request.query.replace("+", "%2B"))).get("number")
        sent, attempts = self._stand_in("twilio").sent(), self._stand_in("twilio").attempts()
        if number:
            sent = [message for message in sent if _digits(message["to"]) == _digits(number)]
            attempts = [attempt for attempt in attempts if _digits(attempt["to"]) == _digits(number)]
        return {"messages": sent, "attempts": attempts}

    # Faults, reset, dead letters

    def faults(self, request: Request) -> dict:
        data = _input(request)
        unknown = set(data) - {"slack", "twilio", "twilio_media", "twilio_opted_out", "dynamodb"}
        if unknown:
            raise ControlError(400, f"unknown fault(s): {', '.join(sorted(unknown))}")
        try:
            if "slack" in data:
                self._stand_in("slack").faults.set(data["slack"])
            if "twilio" in data:
                self._stand_in("twilio").faults.set(data["twilio"])
            if "twilio_media" in data:  # fetches of patrons' MMS media
                self._stand_in("twilio").media_faults.set(data["twilio_media"])
            if "dynamodb" in data:  # requests to the embedded moto's DynamoDB (local.aws)
                if not self._aws.embedded:
                    raise ControlError(409, f"DynamoDB faults need the embedded moto, not {self._aws.endpoint_url}")
                self._aws.dynamodb_faults.set(data["dynamodb"])
        except ValueError as error:
            raise ControlError(400, str(error)) from None
        if "twilio_opted_out" in data:
            if not isinstance(data["twilio_opted_out"], list):
                raise ControlError(400, "twilio_opted_out is a list of phone numbers")
            self._stand_in("twilio").opt_out(data["twilio_opted_out"])
        return {"ok": True}

    def slack_rate_limit(self, request: Request) -> dict:
        """Slack's per-channel limit on posting, scaled: {"per_second": 10, "burst": 3} answers
        posts beyond it with HTTP 429 and Retry-After; {"per_second": 0} lifts it (as does reset)."""
        data = _input(request)
        per_second, burst = data.get("per_second", 0), data.get("burst", 1)
        numbers = not isinstance(per_second, bool) and isinstance(per_second, (int, float)) \
            and not isinstance(burst, bool) and isinstance(burst, int)
        if not numbers:
            raise ControlError(400, "per_second is a number and burst an integer")
        try:
            self._stand_in("slack").set_post_limit(float(per_second), burst)
        except ValueError as error:
            raise ControlError(400, str(error)) from None
        return {"ok": True}

    def reset(self, request: Request) -> dict:
        for stand_in in (self._slack, self._twilio):
            if stand_in:
                stand_in.reset()
        self._aws.forget_mail()
        self._aws.dynamodb_faults.clear()
        return {"ok": True}

    def dead_letters(self, request: Request) -> dict:
        return {"count": self._aws.dead_letter_count()}

    # Mail

    def mail(self, request: Request) -> dict:
        """The e-mails SES (moto) accepted, oldest first: {"id", "from", "to", "subject", "body"};
        ?to=<address> keeps those to that address."""
        to = dict(parse_qsl(request.query)).get("to", "").strip().lower()
        try:
            sent = self._aws.sent_mail()
        except (OSError, ValueError) as error:
            raise ControlError(409, f"no mailbox: {self._aws.endpoint_url} is not a moto server "
                                    f"({type(error).__name__})") from None
        if to:
            sent = [message for message in sent if to in (address.lower() for address in message["to"])]
        return {"sender": self._aws.ses_sender_identity, "messages": sent}

    # Helpers

    def _stand_in(self, name: str):
        stand_in = self._slack if name == "slack" else self._twilio
        if stand_in is None:
            variable = "SLACK_API_URL" if name == "slack" else "TWILIO_API_URL"
            raise ControlError(409, f"the {name} stand-in is not running here ({variable} is set)")
        return stand_in

    def _post_slack(self, path: str, body: str, content_type: str) -> tuple[int, str]:
        headers = {"Content-Type": content_type, "User-Agent": SLACK_USER_AGENT,
                   **slack_signature_headers(os.environ["SLACK_SIGNING_SECRET"], body)}
        return self._post(path, body, headers)

    def _post(self, path: str, body: str, headers: dict) -> tuple[int, str]:
        request = urllib.request.Request(self._gateway_url + path, data=body.encode(), headers=headers, method="POST")
        try:
            with _opener.open(request, timeout=30) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")


def _input(request: Request) -> dict:
    if not request.body:
        return {}
    # A JSON content type cannot be sent cross-site without a CORS preflight, which this API
    # never grants: web pages the developer visits cannot drive the stack.
    if request.content_type != JSON_TYPE:
        raise ControlError(415, "send JSON with Content-Type: application/json")
    try:
        data = request.json()
    except ValueError:
        raise ControlError(400, "malformed JSON") from None
    if not isinstance(data, dict):
        raise ControlError(400, "expected a JSON object")
    return data


def _media(value) -> list[tuple[str, bytes]]:
    """phone/send's "media": one {"content_type", "data" (base64)} or a list of up to 10."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if len(items) > 10:
        raise ControlError(400, "at most 10 media per message")
    media = []
    for item in items:
        content_type = item.get("content_type") if isinstance(item, dict) else None
        if not isinstance(content_type, str) or not re.fullmatch(r"[\w.+-]+/[\w.+-]+", content_type):
            raise ControlError(400, 'each medium is {"content_type": "image/png", "data": "<base64>"}')
        try:
            content = base64.b64decode(str(item.get("data") or ""), validate=True)
        except ValueError:
            raise ControlError(400, "a medium's data is not base64") from None
        media.append((content_type, content))
    return media


def _shared_files(value) -> list[tuple[str, str, bytes]]:
    """slack/reply's "files": [{"name", "content_type", "data" (base64)}], at most 10."""
    items = value if isinstance(value, list) else [] if value is None else None
    if items is None or len(items) > 10 or not all(isinstance(item, dict) and item.get("name") for item in items):
        raise ControlError(400, 'files is a list of up to 10 {"name", "content_type", "data": "<base64>"}')
    return [(str(item["name"]), content_type, content) for item, (content_type, content) in zip(items, _media(items))]


def _scripted_ts(data: dict, key: str = "ts") -> str | None:
    """When a scripted person acted ("1765000000.000100", Slack's form), for tests that need known
    times (a scripted day of conversations with known waits); None: now."""
    ts = data.get(key)
    if ts is None:
        return None
    if not isinstance(ts, str) or not re.fullmatch(r"\d{10}\.\d{6}", ts):
        raise ControlError(400, f"{key} is a Slack timestamp such as 1765000000.000100")
    return ts


def _required(data: dict, key: str):
    if key not in data:
        raise ControlError(400, f"{key} is required")
    return data[key]


def _find_button(blocks: list, action_id: str) -> tuple[dict, dict]:
    for block in blocks:
        elements = block.get("elements", []) if block.get("type") == "actions" else [block.get("accessory") or {}]
        for element in elements:
            if element.get("type") == "button" and element.get("action_id") == action_id:
                return block, element
    raise ControlError(404, f"no button with action_id {action_id} in that message")


def _find_element(blocks: list, action_id: str, kind: str) -> tuple[dict, dict]:
    for block in blocks:
        elements = block.get("elements", []) if block.get("type") == "actions" else [block.get("accessory") or {}]
        for element in elements:
            if element.get("type") == kind and element.get("action_id") == action_id:
                return block, element
    raise ControlError(404, f"no {kind} with action_id {action_id} in that message")


def _option(menu: dict, value) -> dict | None:
    """The option of a static_select whose value is `value`, or None."""
    return next((option for option in menu.get("options") or [] if option.get("value") == value), None)


def _view_state(view: dict, values: dict) -> dict:
    """view.state.values for a submission: {block_id: {action_id: state}} for the view's inputs,
    from {block_id: value}; inputs not given are absent, as Slack leaves empty optional ones."""
    state = {}
    for block in view.get("blocks") or []:
        element = block.get("element") if block.get("type") == "input" else None
        if not isinstance(element, dict) or block.get("block_id") not in values:
            continue
        value, kind = values[block["block_id"]], element.get("type")
        if kind == "static_select":
            option = _option(element, value)
            if option is None:
                raise ControlError(400, f"no option {value!r} in {block['block_id']}")
            entry = {"type": kind, "selected_option": option}
        elif kind == "plain_text_input":
            entry = {"type": kind, "value": str(value)}
        else:
            raise ControlError(400, f"the control API cannot fill a {kind} input")
        state[block["block_id"]] = {element.get("action_id", ""): entry}
    return state


def _trigger_id() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)
