"""A stand-in for Slack: the Web API that WebClient(base_url=...) calls, and response_url.
It records the channel as Slack would show it to the staff, and every Web API call it answered."""
from __future__ import annotations

import base64
import collections
import copy
import functools
import json
import math
import mimetypes
import threading
import time
import uuid

from local.console import excerpt, say
from local.faults import Fault, InjectedFaults
from local.servers import Request, Response, Server, json_response

TEAM_ID = "T0LIBRARY"
TEAM_DOMAIN = "library"
APP_ID = "A0REFDESK"
BOT_USER_ID = "U0REFDESK"
BOT_ID = "B0REFDESK"
STAFF_CHANNEL_NAME = "refdesk-staff"
DEFAULT_USER = "U0AMANDA"
# user id -> (first name, last name, title)
DIRECTORY = {
    "U0AMANDA": ("Amanda", "Reyes", "Reference Librarian"),
    "U0BEN": ("Ben", "Okafor", "Reference Librarian"),
    "U0PRIYA": ("Priya", "Natarajan", "IT"),
    "U0SAM": ("Sam", "Ito", "Archivist"),
}
# Departments (refdesk/config/desk.json, the shipped example): user group id -> members, and
# department channel id -> members (conversations.members).
USERGROUPS = {"S0LIBIT": ["U0PRIYA"], "S0ARCHIVES": ["U0SAM"], "S0SUBJECT": ["U0BEN"],
              "S0PRIVACY": ["U0SAM"]}  # desk.json's audit_usergroups: may see the reveal audit
WORKSPACE_ADMINS = {"U0PRIYA"}  # users.info is_admin (IT runs the workspace)
CHANNEL_MEMBERS = {"C0LIBIT": ["U0PRIYA", BOT_USER_ID], "C0ARCHIVES": ["U0SAM", BOT_USER_ID],
                   "C0GOVDOCS": ["U0BEN", BOT_USER_ID]}
TRIGGER_SECONDS = 3  # a trigger_id is good for 3 seconds (views.open)
# Slack Connect: a channel shared with another organisation, where its members are the patrons.
PARTNER_TEAM_ID = "T0PARTNER"
PARTNER_TEAM_NAME = "Riverside University"
PARTNER_CHANNEL = "C0PARTNER1"
PARTNER_CHANNEL_NAME = "riverside-library"
PARTNER_DEFAULT_USER = "U0PARTNER1"
# user id -> (first name, last name, title), all of PARTNER_TEAM_ID
PARTNER_DIRECTORY = {
    "U0PARTNER1": ("Jordan", "Lee", "Graduate Student"),
    "U0PARTNER2": ("Tom", "Becker", "Research Assistant"),
}
MAX_TEXT = 40_000
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3_000
RESPONSE_PREFIX = "/_local/response/"
# files_upload_v2: files.getUploadURLExternal answers an upload URL, the client POSTs the bytes
# there, files.completeUploadExternal shares the file (in a thread); the file is then served.
UPLOAD_PREFIX = "/_local/upload/"
FILES_PREFIX = "/_local/files/"
# url_private_download: what an app reads a shared file from, with its bot token (files:read).
DOWNLOAD_PREFIX = "/_local/download/"
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_CALLS = 1_000  # the call log keeps the latest calls only
# Reading history (conversations.history, conversations.replies): a page's size by default and at most.
DEFAULT_PAGE = 100
MAX_PAGE = 999
# Methods that put a new message in a channel, and where they name it: what a per-channel
# rate limit (set_post_limit) counts.
POSTING_METHODS = {"chat.postMessage": "channel", "files.completeUploadExternal": "channel_id"}


class SlackError(Exception):
    """A Web API error, which Slack answers with HTTP 200 and ok: false."""


def user_name(user_id: str) -> str:
    people = {**DIRECTORY, **PARTNER_DIRECTORY}
    return people[user_id][0].lower() if user_id in people else user_id.lower()


def team_of(user_id: str) -> str:
    return PARTNER_TEAM_ID if user_id in PARTNER_DIRECTORY else TEAM_ID


def user_info(user_id: str) -> dict | None:
    people = {**DIRECTORY, **PARTNER_DIRECTORY}
    if user_id not in people:
        return None
    first, last, title = people[user_id]
    return {
        "id": user_id,
        "team_id": team_of(user_id),
        "name": first.lower(),
        "real_name": f"{first} {last}",
        "is_bot": False,
        "is_admin": user_id in WORKSPACE_ADMINS,
        "is_owner": False,
        "is_primary_owner": False,
        "profile": {"first_name": first, "last_name": last, "real_name": f"{first} {last}",
                    "display_name": first, "title": title},
    }


def slack_shape(message: dict) -> dict:
    """A recorded message as Slack's API answers and payloads present it."""
    shaped = {"type": "message", "user": message["user"], "text": message["text"], "ts": message["ts"],
              "blocks": message["blocks"], "team": team_of(message["user"])}
    if message["user"] == BOT_USER_ID:
        shaped.update(bot_id=BOT_ID, app_id=APP_ID)
    for key in ("thread_ts", "username", "icon_url"):
        if message[key]:
            shaped[key] = message[key]
    if message.get("files"):  # shared with files_upload_v2
        shaped.update(subtype="file_share", files=message["files"])
    return shaped


class PostLimit:
    """Slack's limit on posting into one channel (about one message a second, short bursts
    tolerated), scaled: `per_second` messages a second per channel, `burst` at once. A post
    over it is refused with how long to wait."""

    def __init__(self, per_second: float, burst: int):
        self.per_second, self.burst = per_second, burst
        self._lock = threading.Lock()
        self._channels: dict[str, tuple[float, float]] = {}  # channel -> (tokens, when counted)

    def refusal(self, channel: str) -> float:
        """0 when a post into the channel is allowed now (and counted), else the seconds until
        one would be."""
        with self._lock:
            now = time.monotonic()
            tokens, counted = self._channels.get(channel, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - counted) * self.per_second)
            if tokens < 1:
                self._channels[channel] = (tokens, now)
                return (1 - tokens) / self.per_second
            self._channels[channel] = (tokens - 1, now)
            return 0.0


class SlackStandIn:
    """console=False: nothing is printed (tests that read the process's output)."""

    max_body = MAX_FILE_BYTES + 1024  # local.servers: uploads are larger than API calls

    def __init__(self, bot_token: str, *, console: bool = True):
        self._bot_token = bot_token
        self._say = say if console else _silent
        self.faults = InjectedFaults()
        self._post_limit: PostLimit | None = None  # off unless set (set_post_limit)
        self._lock = threading.Lock()
        self._messages: list[dict] = []
        self._calls: collections.deque[dict] = collections.deque(maxlen=MAX_CALLS)
        self._response_targets: dict[str, tuple] = {}
        self._files: dict[str, dict] = {}  # file id -> {"meta": as Slack shows it, "data": bytes | None}
        self._views: dict[str, dict] = {}  # modals open now (views.open): view id -> the view as Slack holds it
        self._home_views: dict[str, dict] = {}  # user -> the Home tab view last published for them
        self._last_ts = 0
        self._methods = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "reactions.add": functools.partial(self._react, add=True),
            "reactions.remove": functools.partial(self._react, add=False),
            "users.info": self._users_info,
            "views.open": self._open_view,
            "chat.getPermalink": self._permalink,
            "usergroups.users.list": self._usergroup_users,
            "conversations.members": self._channel_members,
            "views.publish": self._publish_view,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "files.info": self._file_info,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
        }
        self._server = Server(self)
        self.url = self._server.url
        self.api_url = f"{self.url}/api/"

    def stop(self) -> None:
        self._server.stop()

    # What the control API uses.

    def messages(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._messages)

    def calls(self) -> list[dict]:
        """Web API calls in order: {"method", "params" (without the token), "status", "response"}."""
        with self._lock:
            return copy.deepcopy(list(self._calls))

    def forget_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def set_post_limit(self, per_second: float, burst: int = 1) -> None:
        """Posts into one channel beyond `per_second` a second (bursts of `burst`) are answered
        HTTP 429 with Retry-After, as Slack does; per_second 0 lifts the limit."""
        if per_second < 0 or burst < 1:
            raise ValueError("per_second must be 0 or more and burst at least 1")
        self._post_limit = PostLimit(per_second, burst) if per_second else None

    def find(self, ts: str, channel: str | None = None) -> dict | None:
        with self._lock:
            return next((copy.deepcopy(message) for message in self._messages
                         if message["ts"] == ts and channel in (None, message["channel"])), None)

    def record_human(self, channel: str, user: str, text: str, thread_ts: str | None, ts: str | None = None,
                     files: list[dict] | None = None) -> dict:
        """A person's message (with the files they shared: share_file's). With a ts, the message
        Slack already shows under it, if any."""
        existing = self.find(ts, channel) if ts else None
        if existing:
            return existing
        message = self._record(channel=channel, user=user, text=text, thread_ts=thread_ts, ts=ts,
                               **({"files": files} if files else {}))
        self._say("slack", f"{user_name(user)} in {_where(message)}: {excerpt(text)}")
        return message

    def response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        key = uuid.uuid4().hex
        with self._lock:
            self._response_targets[key] = (channel, user, message_ts)
        return f"{self.url}{RESPONSE_PREFIX}{key}"

    def record_response(self, channel: str, user: str, payload: dict, message_ts: str | None = None) -> None:
        """Shows a slash command's or a response_url's answer as Slack would: replacing or deleting
        the message acted on, or as a new message, seen only by `user` unless in_channel."""
        text, blocks = str(payload.get("text") or ""), _blocks(payload.get("blocks"))
        if message_ts and payload.get("delete_original"):
            with self._lock:
                self._messages.remove(self._find(channel, message_ts))
            self._say("slack", f"response deleted {message_ts}")
        elif message_ts and payload.get("replace_original"):
            with self._lock:
                self._find(channel, message_ts).update(text=text, blocks=blocks, edited=True)
            self._say("slack", f"response replaced {message_ts}: {excerpt(text or '[blocks]')}")
        elif text or blocks:
            ephemeral = payload.get("response_type") != "in_channel"
            message = self._record(channel=channel, text=text, blocks=blocks, thread_ts=payload.get("thread_ts"),
                                   ephemeral=ephemeral, visible_to=user if ephemeral else None)
            self._say("slack", f"response in {_where(message)}: {excerpt(text or '[blocks]')}")

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._response_targets.clear()
            self._calls.clear()
            self._files.clear()
            self._views.clear()
            self._home_views.clear()
        self.faults.clear()
        self._post_limit = None

    def home_view(self, user: str) -> dict | None:
        """The Home tab last published for `user` (views.publish), or None."""
        with self._lock:
            return copy.deepcopy(self._home_views.get(user))

    def open_views(self) -> list[dict]:
        """The modals open now (views.open), oldest first: as Slack holds them (id, hash, state)."""
        with self._lock:
            return copy.deepcopy(list(self._views.values()))

    def close_view(self, view_id: str) -> None:
        """A submitted (answered with an empty 200) or cancelled modal closes."""
        with self._lock:
            self._views.pop(view_id, None)

    def file_data(self, file_id: str) -> bytes | None:
        """The bytes uploaded for a file (None until its upload POST)."""
        with self._lock:
            stored = self._files.get(file_id)
            return stored["data"] if stored else None

    # HTTP.

    def __call__(self, request: Request):
        if request.path.startswith(RESPONSE_PREFIX):
            return self._respond(request)
        if request.path.startswith(UPLOAD_PREFIX):
            return self._upload(request)
        if request.path.startswith(FILES_PREFIX) and request.method in ("GET", "HEAD"):
            return self._serve_file(request)
        if request.path.startswith(DOWNLOAD_PREFIX) and request.method in ("GET", "HEAD"):
            if request.header("authorization") != f"Bearer {self._bot_token}":
                return Response(403, b"Forbidden", [("Content-Type", "text/plain")])
            return self._serve_file(request, DOWNLOAD_PREFIX)
        if not request.path.startswith("/api/"):
            return json_response(404, {"ok": False, "error": "unknown_method"})
        method = request.path.removeprefix("/api/")
        try:
            params = request.params()
        except ValueError:  # a body that is not the JSON or form it claims to be
            params = None
        token = params.pop("token", "") if params else ""
        status, answer, headers = self._answer(method, params, token, request)
        with self._lock:
            self._calls.append({"method": method, "params": copy.deepcopy(params or {}), "status": status,
                                "response": copy.deepcopy(answer)})
        return json_response(status, answer, headers)

    def _answer(self, method: str, params: dict | None, token: str, request: Request) -> tuple[int, dict, list | None]:
        fault = self.faults.take(method)
        if fault and not fault.commit:
            return self._fault(method, fault)
        try:
            if params is None:
                raise SlackError("invalid_arguments")
            scheme, _, bearer = request.header("authorization").partition(" ")
            if (token or (bearer.strip() if scheme.lower() == "bearer" else "")) != self._bot_token:
                raise SlackError("invalid_auth")
            if method not in self._methods:
                raise SlackError("unknown_method")
            wait = self._over_post_limit(method, params)
            if wait:
                self._say("slack", f"{method}: rate limited (retry after {wait} s)")
                return 429, {"ok": False, "error": "ratelimited"}, [("Retry-After", str(wait))]
            answer = self._methods[method](params)
        except SlackError as error:
            self._say("slack", f"{method}: {error}")
            answer = {"ok": False, "error": str(error)}
        # A committing fault: the call took effect above; only its answer is lost.
        return self._fault(method, fault) if fault else (200, answer, None)

    def _over_post_limit(self, method: str, params: dict) -> int:
        """0, or the whole seconds to wait (Retry-After) when this post is over the channel's limit."""
        limit, channel_field = self._post_limit, POSTING_METHODS.get(method)
        if limit is None or channel_field is None or not params.get(channel_field):
            return 0
        wait = limit.refusal(str(params[channel_field]))
        return max(1, math.ceil(wait)) if wait else 0

    def _fault(self, method: str, fault: Fault) -> tuple[int, dict, list | None]:
        status = fault.status or 200
        error = fault.error or ("ratelimited" if status == 429 else "fatal_error")
        self._say("slack", f"{method}: injected {f'HTTP {status} ' if status != 200 else ''}{error}")
        return status, {"ok": False, "error": error}, [("Retry-After", str(fault.retry_after))] if status == 429 else None

    def _respond(self, request: Request):
        target = self._response_targets.get(request.path.removeprefix(RESPONSE_PREFIX))
        if request.method != "POST" or target is None:
            return json_response(404, {"ok": False, "error": "expired_url"})
        channel, user, message_ts = target
        try:
            self.record_response(channel, user, request.json(), message_ts)
        except SlackError as error:
            return json_response(400, {"ok": False, "error": str(error)})
        return json_response(200, {"ok": True})

    # Web API methods.

    def _auth_test(self, params: dict) -> dict:
        return {"ok": True, "url": f"https://{TEAM_DOMAIN}.slack.com/", "team": "Library", "user": "refdesk",
                "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}

    def _post_message(self, params: dict) -> dict:
        channel, text, blocks = _channel(params), str(params.get("text") or ""), _blocks(params.get("blocks"))
        if not text and not blocks:
            raise SlackError("no_text")
        message = self._record(channel=channel, text=text[:MAX_TEXT], blocks=blocks,
                               thread_ts=params.get("thread_ts") or None,
                               username=params.get("username"), icon_url=params.get("icon_url"),
                               metadata=_metadata(params.get("metadata")))
        self._say("slack", f"chat.postMessage {_where(message)}: {excerpt(text or '[blocks]')}")
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": slack_shape(message)}

    def _post_ephemeral(self, params: dict) -> dict:
        channel, text, blocks = _channel(params), str(params.get("text") or ""), _blocks(params.get("blocks"))
        if not params.get("user"):
            raise SlackError("user_not_in_channel")
        if not text and not blocks:
            raise SlackError("no_text")
        message = self._record(channel=channel, text=text[:MAX_TEXT], blocks=blocks,
                               thread_ts=params.get("thread_ts") or None,
                               ephemeral=True, visible_to=params["user"])
        self._say("slack", f"chat.postEphemeral to {params['user']} in {_where(message)}: "
                           f"{excerpt(text or '[blocks]')}")
        return {"ok": True, "message_ts": message["ts"]}

    def _update(self, params: dict) -> dict:
        channel, ts = _channel(params), params.get("ts")
        blocks = _blocks(params["blocks"]) if "blocks" in params else None
        with self._lock:
            message = self._find(channel, ts)
            if message["user"] != BOT_USER_ID:
                raise SlackError("cant_update_message")
            if "text" in params:
                message["text"] = str(params["text"])[:MAX_TEXT]
            if blocks is not None:
                message["blocks"] = blocks
            message["edited"] = True
            shaped = slack_shape(message)
        self._say("slack", f"chat.update {channel} {ts}: {excerpt(shaped['text'] or '[blocks]')}")
        return {"ok": True, "channel": channel, "ts": ts, "text": shaped["text"], "message": shaped}

    def _react(self, params: dict, *, add: bool) -> dict:
        channel, ts, name = _channel(params), params.get("timestamp"), params.get("name")
        if not name:
            raise SlackError("invalid_name")
        with self._lock:
            reactions = self._find(channel, ts)["reactions"]
            if add == (name in reactions):
                raise SlackError("already_reacted" if add else "no_reaction")
            if add:
                reactions.append(name)
            else:
                reactions.remove(name)
        self._say("slack", f"reactions.{'add' if add else 'remove'} :{name}: on {ts}")
        return {"ok": True}

    def _publish_view(self, params: dict) -> dict:
        user, view = params.get("user_id"), params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not user or not isinstance(view, dict) or view.get("type") != "home":
            raise SlackError("invalid_arguments")
        if len(view.get("blocks") or []) > 100:
            raise SlackError("invalid_blocks")
        with self._lock:
            self._home_views[str(user)] = view
        self._say("slack", f"views.publish Home tab for {user_name(str(user))}: {len(view.get('blocks') or [])} blocks")
        return {"ok": True, "view": {"id": "V" + uuid.uuid4().hex[:10].upper(), **view}}

    def _open_view(self, params: dict) -> dict:
        """views.open: a modal, for a trigger_id at most TRIGGER_SECONDS old (the local control API
        makes trigger ids "{epoch seconds}.…", as Slack's start)."""
        trigger, view = str(params.get("trigger_id") or ""), params.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except ValueError:
                raise SlackError("invalid_arguments") from None
        issued = trigger.split(".")[0]
        if not issued.isdigit():
            raise SlackError("invalid_trigger_id")
        if time.time() - int(issued) > TRIGGER_SECONDS + 1:  # whole seconds: allow the one it started in
            raise SlackError("expired_trigger_id")
        if not isinstance(view, dict) or view.get("type") != "modal" or not view.get("title"):
            raise SlackError("invalid_arguments")
        blocks = view.get("blocks")
        if not isinstance(blocks, list) or not blocks or len(blocks) > 100:
            raise SlackError("invalid_blocks")
        if len(str(view.get("private_metadata") or "")) > 3000:
            raise SlackError("invalid_arguments")
        opened = {**view, "id": "V" + uuid.uuid4().hex[:10].upper(), "hash": uuid.uuid4().hex[:16],
                  "team_id": TEAM_ID, "app_id": APP_ID, "bot_id": BOT_ID, "trigger_id": trigger,
                  "state": {"values": {}}, "private_metadata": str(view.get("private_metadata") or ""),
                  "callback_id": str(view.get("callback_id") or "")}
        with self._lock:
            self._views[opened["id"]] = opened
        self._say("slack", f"views.open {opened['callback_id'] or 'modal'} {opened['id']}")
        return {"ok": True, "view": copy.deepcopy(opened)}

    def _permalink(self, params: dict) -> dict:
        channel, ts = _channel(params), str(params.get("message_ts") or "")
        with self._lock:
            message = self._find(channel, ts)
            thread = message["thread_ts"]
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        if thread and thread != ts:
            link += f"?thread_ts={thread}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _usergroup_users(self, params: dict) -> dict:
        group = str(params.get("usergroup") or "")
        if group not in USERGROUPS:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": list(USERGROUPS[group])}

    def _channel_members(self, params: dict) -> dict:
        channel = _channel(params)
        if channel not in CHANNEL_MEMBERS:
            raise SlackError("channel_not_found")
        return {"ok": True, "members": list(CHANNEL_MEMBERS[channel]), "response_metadata": {"next_cursor": ""}}

    def _history(self, params: dict) -> dict:
        """conversations.history: the channel's messages outside threads (thread parents
        included), newest first, between `oldest` and `latest`, a page at a time."""
        channel = _channel(params)
        with self._lock:
            listed = [message for message in self._messages
                      if message["channel"] == channel and not message["ephemeral"]
                      and message["thread_ts"] in (None, message["ts"])]
        listed.sort(key=lambda message: _ts_key(message["ts"]), reverse=True)
        return self._page(_between(listed, params), params)

    def _replies(self, params: dict) -> dict:
        """conversations.replies: a thread's parent first, then its replies oldest first,
        between `oldest` and `latest`, a page at a time."""
        channel, ts = _channel(params), str(params.get("ts") or "")
        with self._lock:
            parent = next((message for message in self._messages
                           if message["channel"] == channel and message["ts"] == ts and not message["ephemeral"]), None)
            if parent is None:
                raise SlackError("thread_not_found")
            replies = [message for message in self._messages if message["channel"] == channel
                       and message["thread_ts"] == ts and message["ts"] != ts and not message["ephemeral"]]
        replies.sort(key=lambda message: _ts_key(message["ts"]))
        return self._page([parent, *_between(replies, params)], params)

    def _page(self, listed: list[dict], params: dict) -> dict:
        """One page of a listing, as Slack shapes it; metadata only with include_all_metadata.
        The cursor names the last message given, so a page is not shifted by new ones."""
        try:
            limit = min(max(int(params.get("limit") or DEFAULT_PAGE), 1), MAX_PAGE)
        except ValueError:
            raise SlackError("invalid_limit") from None
        start = 0
        if params.get("cursor"):
            try:
                after = base64.urlsafe_b64decode(str(params["cursor"]).encode()).decode()
            except ValueError:
                raise SlackError("invalid_cursor") from None
            start = next((index + 1 for index, message in enumerate(listed) if message["ts"] == after), None)
            if start is None:
                raise SlackError("invalid_cursor")
        page = listed[start:start + limit]
        more = start + limit < len(listed)
        with_metadata = _truthy(params.get("include_all_metadata"))
        shaped = []
        for message in page:
            shown = slack_shape(message)
            if with_metadata and message["metadata"]:
                shown["metadata"] = copy.deepcopy(message["metadata"])
            shaped.append(shown)
        cursor = base64.urlsafe_b64encode(page[-1]["ts"].encode()).decode() if more else ""
        return {"ok": True, "messages": shaped, "has_more": more, "response_metadata": {"next_cursor": cursor}}

    def _users_info(self, params: dict) -> dict:
        user = user_info(params.get("user", ""))
        if user is None:
            raise SlackError("user_not_found")
        return {"ok": True, "user": user}

    def _get_upload_url(self, params: dict) -> dict:
        filename, length = str(params.get("filename") or ""), str(params.get("length") or "")
        if not filename or not length.isdigit() or not 0 < int(length) <= MAX_FILE_BYTES:
            raise SlackError("invalid_arguments")
        meta = self._new_file(filename, mimetypes.guess_type(filename)[0] or "application/octet-stream",
                              BOT_USER_ID, int(length), alt_txt=str(params.get("alt_txt") or ""))
        return {"ok": True, "upload_url": f"{self.url}{UPLOAD_PREFIX}{meta['id']}", "file_id": meta["id"]}

    def _new_file(self, filename: str, mimetype: str, user: str, size: int, data: bytes | None = None,
                  **extra) -> dict:
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        meta = {"id": file_id, "name": filename, "title": filename, "mimetype": mimetype, "size": size,
                "user": user, **extra,
                "url_private": f"{self.url}{FILES_PREFIX}{file_id}/{filename}",
                "url_private_download": f"{self.url}{DOWNLOAD_PREFIX}{file_id}/{filename}"}
        with self._lock:
            self._files[file_id] = {"meta": meta, "data": data}
        return copy.deepcopy(meta)

    def share_file(self, filename: str, mimetype: str, data: bytes, user: str) -> dict:
        """A file a person attaches in Slack's composer (shared with their message): its metadata."""
        return self._new_file(filename, mimetype, user, len(data), data)

    def delete_file(self, file_id: str) -> None:
        with self._lock:
            self._files.pop(file_id, None)

    def _file_info(self, params: dict) -> dict:
        with self._lock:
            stored = self._files.get(str(params.get("file") or ""))
            if stored is None or stored["data"] is None:
                raise SlackError("file_not_found")
            return {"ok": True, "file": copy.deepcopy(stored["meta"])}

    def _upload(self, request: Request):
        """The upload URL: the file's bytes, as the body of a POST (no token: the URL is the secret)."""
        file_id = request.path.removeprefix(UPLOAD_PREFIX)
        with self._lock:
            stored = self._files.get(file_id)
            if request.method != "POST" or stored is None or stored["data"] is not None:
                return Response(404, b"Not Found", [("Content-Type", "text/plain")])
            stored["data"] = request.body
            stored["meta"]["size"] = len(request.body)
        self._say("slack", f"file {file_id} uploaded ({len(request.body)} bytes)")
        return Response(200, f"OK - {len(request.body)}".encode(), [("Content-Type", "text/plain")])

    def _complete_upload(self, params: dict) -> dict:
        try:
            files = json.loads(params.get("files") or "")
        except ValueError:
            raise SlackError("invalid_arguments") from None
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
            raise SlackError("invalid_arguments")
        channel, thread_ts = params.get("channel_id") or None, params.get("thread_ts") or None
        with self._lock:
            if any(self._files.get(str(f.get("id")), {}).get("data") is None for f in files):
                raise SlackError("file_not_found")
            shared = []
            for f in files:
                meta = self._files[str(f["id"])]["meta"]
                meta["title"] = str(f.get("title") or meta["name"])
                shared.append(copy.deepcopy(meta))
            if thread_ts and not any(m["ts"] == thread_ts and m["channel"] == channel for m in self._messages):
                raise SlackError("invalid_thread_ts")
        if channel:  # shared: Slack shows a message with the files (subtype file_share)
            message = self._record(channel=channel, text=str(params.get("initial_comment") or ""),
                                   thread_ts=thread_ts, files=shared)
            self._say("slack", f"files.completeUploadExternal {_where(message)}: "
                               f"{', '.join(f['title'] for f in shared)}")
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in shared]}

    def _serve_file(self, request: Request, prefix: str = FILES_PREFIX):
        file_id = request.path.removeprefix(prefix).split("/")[0]
        with self._lock:
            stored = self._files.get(file_id)
        if stored is None or stored["data"] is None:
            return Response(404, b"Not Found", [("Content-Type", "text/plain")])
        return Response(200, stored["data"], [("Content-Type", stored["meta"]["mimetype"]),
                                              ("Cache-Control", "private, max-age=3600")])

    # Records.

    def _record(self, ts: str | None = None, **fields) -> dict:
        with self._lock:
            if ts:
                seconds, _, fraction = ts.partition(".")
                self._last_ts = max(self._last_ts, int(seconds) * 1_000_000 + int(fraction or 0))
            else:
                # Unique, increasing, in Slack's "seconds.microseconds" form.
                micros = max(int(time.time() * 1_000_000), self._last_ts + 1)
                self._last_ts = micros
                ts = f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
            message = {"channel": fields.pop("channel"), "ts": ts,
                       "thread_ts": None, "text": "", "blocks": [], "username": None, "icon_url": None,
                       "user": BOT_USER_ID, "reactions": [], "edited": False, "ephemeral": False,
                       "visible_to": None, "metadata": None, **fields}
            self._messages.append(message)
            return copy.deepcopy(message)

    def _find(self, channel: str, ts: str) -> dict:
        """The live record; the caller holds the lock."""
        for message in self._messages:
            if message["channel"] == channel and message["ts"] == ts:
                return message
        raise SlackError("message_not_found")


def _silent(source: str, message: str) -> None:
    pass


def _channel(params: dict) -> str:
    if not params.get("channel"):
        raise SlackError("channel_not_found")
    return params["channel"]


def _blocks(value) -> list:
    """Blocks arrive as a list (JSON bodies) or a JSON string (form bodies)."""
    if not value:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise SlackError("invalid_blocks_format") from None
    if not isinstance(value, list) or len(value) > MAX_BLOCKS or not all(isinstance(b, dict) for b in value):
        raise SlackError("invalid_blocks")
    for block in value:
        if block.get("type") == "section" and len((block.get("text") or {}).get("text", "")) > MAX_SECTION_TEXT:
            raise SlackError("invalid_blocks")
    return value


def _metadata(value) -> dict | None:
    """chat.postMessage's metadata: an object (JSON bodies) or its JSON (form bodies), with an
    event_type and an event_payload object."""
    if not value:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise SlackError("invalid_metadata_format") from None
    if not (isinstance(value, dict) and isinstance(value.get("event_type"), str) and value["event_type"]
            and isinstance(value.get("event_payload"), dict)):
        raise SlackError("invalid_metadata_schema")
    return {"event_type": value["event_type"], "event_payload": value["event_payload"]}


def _truthy(value) -> bool:
    """A boolean argument, as JSON (true) or as the form value slack_sdk sends ("1")."""
    return value is True or str(value).lower() in ("1", "true")


def _ts_key(ts: str) -> tuple[int, int]:
    """A Slack ts ("seconds.microseconds", or a bound given with fewer digits) for comparing."""
    seconds, _, fraction = str(ts).partition(".")
    try:
        return int(seconds or 0), int((fraction + "000000")[:6])
    except ValueError:
        raise SlackError("invalid_ts_oldest") from None


def _between(messages: list[dict], params: dict) -> list[dict]:
    """The messages after `oldest` and before `latest` (including them when `inclusive`)."""
    inclusive = _truthy(params.get("inclusive"))
    oldest = _ts_key(params["oldest"]) if params.get("oldest") else None
    latest = _ts_key(params["latest"]) if params.get("latest") else None
    kept = []
    for message in messages:
        key = _ts_key(message["ts"])
        if oldest is not None and (key < oldest or (key == oldest and not inclusive)):
            continue
        if latest is not None and (key > latest or (key == latest and not inclusive)):
            continue
        kept.append(message)
    return kept


def _where(message: dict) -> str:
    thread = f" thread {message['thread_ts']}" if message["thread_ts"] else ""
    return f"{message['channel']}{thread}"
