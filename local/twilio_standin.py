"""A stand-in for Twilio's Messages API (the base URL that replaces https://api.twilio.com),
recording the texts the library sends (with their MMS media URLs) and every attempt to send one,
listing them as Twilio's Messages list does (GET …/Messages.json: newest first, filtered by To,
From and DateSent, DateSent< or DateSent> — whole days, GMT — PageSize at a time, the next page
by next_page_uri), and serving the media of patrons' MMS messages (GET …/Messages/{sid}/Media/{sid},
with the account's HTTP basic auth, as Twilio does with "Enforce HTTP Auth on Media URLs" on).
Injected faults fail sends only; the list always answers.

A text sent without a StatusCallback is sent the moment it is accepted: listed, it is "sent",
with date_sent its date_created. One with a StatusCallback is "queued" (no date_sent) until its
status reports are made: "sent", then "delivered" (or, under a fault with "delivery", "sent" then
"undelivered" with its ErrorCode, or "failed" at once), each a form POST to the StatusCallback
signed with X-Twilio-Signature as Twilio signs (report_statuses). With `report_after` (the local
stack), they are made that many seconds after the send, over HTTP; otherwise whoever drives the
stand-in makes them (the tests: with the handler in-process)."""
from __future__ import annotations

import base64
import collections
import copy
import math
import operator
import re
import threading
import urllib.request
import uuid
from datetime import date
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from local.console import excerpt, say
from local.faults import Fault, InjectedFaults
from local.servers import Request, Response, Server, json_response
from local.signing import twilio_signature_header

API_VERSION = "2010-04-01"
MESSAGES_PATH = re.compile(r"/2010-04-01/Accounts/([^/]+)/Messages\.json")
MEDIA_PATH = re.compile(r"/2010-04-01/Accounts/([^/]+)/Messages/([^/]+)/Media/([^/.]+)")
MAX_MEDIA = 10  # per message, as Twilio
MAX_STORED_MEDIA = 200  # patrons' media kept for fetching; the oldest are forgotten
MAX_SMS_LENGTH = 1600
GSM7 = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = "^{}\\[~]|€\f"  # two septets each
MAX_ATTEMPTS = 1_000  # the attempt log keeps the latest only
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000  # Twilio's, for lists
# The list's date filters: the day a text was sent (GMT) against the day given, whatever time is given
DATE_FILTERS = {"DateSent": operator.eq, "DateSent<": operator.le, "DateSent>": operator.ge}
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the status callbacks: no proxy locally


def new_message_sid() -> str:
    return "SM" + uuid.uuid4().hex


def segment_count(body: str) -> int:
    """SMS parts: 160 GSM-7 septets (153 per part when split), or 70 UCS-2 units (67) once any
    character is outside GSM-7."""
    if all(char in GSM7 or char in GSM7_EXTENSION for char in body):
        units, single, part = len(body) + sum(char in GSM7_EXTENSION for char in body), 160, 153
    else:
        units, single, part = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / part)


def _silent(source: str, message: str) -> None:
    pass


def _listed(message: dict) -> dict:
    """An accepted text as the Messages list shows it."""
    return {key: value for key, value in message.items() if key not in ("media_urls", "status_callback")}


def post_report(url: str, params: dict, headers: dict) -> None:
    """A status report as Twilio makes it: a signed form POST (its answer is not Twilio's concern)."""
    request = urllib.request.Request(url, data=urlencode(params).encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded", **headers})
    try:
        with _DIRECT.open(request, timeout=15) as answer:
            answer.read()
    except OSError:  # Twilio does not try a status callback again either
        pass


def _error(status: int, code: int, message: str):
    return json_response(status, {"code": code, "message": message,
                                  "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status})


class TwilioStandIn:
    """console=False: nothing is printed (tests that read the process's output)."""

    def __init__(self, account_sid: str, auth_token: str, from_number: str, *, console: bool = True,
                 report_after: float | None = None):
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._from_number = from_number
        self._say = say if console else _silent
        self.faults = InjectedFaults()
        self.media_faults = InjectedFaults()  # for fetches of patrons' media only
        self._lock = threading.Lock()
        self._sent: list[dict] = []
        self._media: collections.OrderedDict[str, tuple[str, bytes]] = collections.OrderedDict()
        self._media_fetches: list[dict] = []
        self._attempts: collections.deque[dict] = collections.deque(maxlen=MAX_ATTEMPTS)
        self._list_requests: collections.deque[dict] = collections.deque(maxlen=MAX_ATTEMPTS)
        self._opted_out: set[str] = set()
        self._reports: list[tuple[str, str, str]] = []  # (sid, status, error code) still to report, in order
        self._report_after = report_after
        self._server = Server(self)
        self.api_url = self._server.url

    def stop(self) -> None:
        self._server.stop()

    def sent(self) -> list[dict]:
        """Each message Twilio accepted, as its API answered it (its status as reported since) plus
        "media_urls" (the MMS media) and "status_callback"."""
        with self._lock:
            return copy.deepcopy(self._sent)

    def add_media(self, content_type: str, data: bytes, message_sid: str | None = None) -> str:
        """Keep a patron's MMS medium as Twilio would and return its URL (MediaUrl{i})."""
        message_sid = message_sid or "MM" + uuid.uuid4().hex
        media_sid = "ME" + uuid.uuid4().hex
        with self._lock:
            self._media[media_sid] = (content_type, bytes(data))
            while len(self._media) > MAX_STORED_MEDIA:
                self._media.popitem(last=False)
        return f"{self.api_url}/{API_VERSION}/Accounts/{self._account_sid}/Messages/{message_sid}/Media/{media_sid}"

    def media_fetches(self) -> list[dict]:
        """Every request for a medium: {"media_sid", "authorized", "status"}."""
        with self._lock:
            return copy.deepcopy(self._media_fetches)

    def attempts(self) -> list[dict]:
        """Every authenticated send, refused or not: {"to", "from", "body", "status"}."""
        with self._lock:
            return copy.deepcopy(list(self._attempts))

    def list_requests(self) -> list[dict]:
        """The query parameters of every authenticated GET of the Messages list."""
        with self._lock:
            return copy.deepcopy(list(self._list_requests))

    def forget_sent(self) -> None:
        with self._lock:
            self._sent.clear()
            self._attempts.clear()
            self._list_requests.clear()

    def report_statuses(self, deliver=post_report) -> int:
        """Makes the status reports owed so far, in order: each text's status (and date_sent once
        sent) changes, then `deliver(url, params, headers)` posts the signed report. Returns how
        many were made."""
        with self._lock:
            owed, self._reports = self._reports, []
            by_sid = {message["sid"]: message for message in self._sent}
            reports = []
            for sid, status, error_code in owed:
                message = by_sid[sid]
                message["status"] = status
                if status in ("sent", "delivered", "undelivered"):
                    message["date_sent"] = message["date_sent"] or formatdate(usegmt=True)
                if error_code:
                    message["error_code"] = int(error_code)
                params = {"SmsSid": sid, "SmsStatus": status, "MessageStatus": status, "To": message["to"],
                          "MessageSid": sid, "AccountSid": self._account_sid, "From": message["from"],
                          "ApiVersion": API_VERSION, **({"ErrorCode": error_code} if error_code else {})}
                url = message["status_callback"]
                reports.append((url, params, twilio_signature_header(self._auth_token, url, params)))
        for url, params, headers in reports:
            self._say("twilio", f"status callback {params['MessageStatus']} for {params['MessageSid']}")
            deliver(url, params, headers)
        return len(reports)

    def _owe_reports(self, sid: str, fault: Fault | None) -> None:
        outcome = fault.delivery if fault and fault.delivery else "delivered"
        error_code = str(fault.code or "") if fault and fault.delivery else ""
        statuses = [outcome] if outcome == "failed" else ["sent", outcome]
        with self._lock:
            self._reports += [(sid, status, error_code if status == outcome else "") for status in statuses]
        if self._report_after is not None:
            timer = threading.Timer(self._report_after, self.report_statuses)
            timer.daemon = True
            timer.start()

    def opt_out(self, numbers: list[str]) -> None:
        """Sends to these numbers now fail with error 21610 (replaces the previous list)."""
        with self._lock:
            self._opted_out = set(numbers)

    def reset(self) -> None:
        with self._lock:
            self._sent.clear()
            self._attempts.clear()
            self._list_requests.clear()
            self._opted_out.clear()
            self._reports.clear()
            self._media.clear()
            self._media_fetches.clear()
        self.faults.clear()
        self.media_faults.clear()

    def __call__(self, request: Request):
        media = MEDIA_PATH.fullmatch(request.path)
        if media and request.method in ("GET", "HEAD"):
            return self._serve_media(request, media.group(1), media.group(3))
        path = MESSAGES_PATH.fullmatch(request.path)
        if request.method not in ("GET", "POST") or not path:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        if not self._authorized(request, path.group(1)):
            return _error(401, 20003, "Authenticate")
        if request.method == "GET":
            return self._list(request)
        form = request.params()
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        # MediaUrl may be given several times (the form's other fields once).
        media = parse_qs(request.body.decode("utf-8", "replace")).get("MediaUrl", []) if request.body else []
        response = self._answer(to, sender, body, form, media)
        with self._lock:
            self._attempts.append({"to": to, "from": sender, "body": body, "media_urls": media,
                                   "status": response.status})
        return response

    def _answer(self, to: str, sender: str, body: str, form: dict, media: list[str]):
        fault = self.faults.take()
        if fault and not fault.commit and not fault.delivery:
            return self._fault(fault)
        refusal = self._refusal(to, sender, body, form) or self._media_refusal(media)
        if refusal:
            self._say("twilio", f"refused SMS to {to}: {refusal.body.decode()}")
            return refusal
        message = self._message(to, sender, body, form.get("MessagingServiceSid"))
        message["num_media"] = str(len(media))
        callback = form.get("StatusCallback", "")
        with self._lock:
            self._sent.append({**message, "media_urls": media, "status_callback": callback,
                               **({} if callback else {"status": "sent", "date_sent": message["date_created"]})})
        if callback:
            self._owe_reports(message["sid"], fault)
        kind = f"MMS with {len(media)} medium/media" if media else "SMS"
        self._say("twilio", f"{kind} to {to} ({message['num_segments']} segment(s)): {excerpt(body)}")
        # A committing fault: the text was sent above; only the answer is the failure.
        return self._fault(fault) if fault and fault.commit else json_response(201, message)

    def _list(self, request: Request):
        query = dict(parse_qsl(request.query, keep_blank_values=True))
        with self._lock:
            self._list_requests.append(query)
            newest_first = [_listed(message) for message in reversed(self._sent)]
        try:
            size = int(query.get("PageSize") or DEFAULT_PAGE_SIZE)
            number = int(query.get("Page") or 0)
            days = [(compare, date.fromisoformat(query[name][:10])) for name, compare in DATE_FILTERS.items()
                    if query.get(name)]
        except ValueError:
            return _error(400, 20001, "Invalid PageSize, Page or date value")
        if not (1 <= size <= MAX_PAGE_SIZE and number >= 0):
            return _error(400, 20001, f"PageSize is 1 to {MAX_PAGE_SIZE}, Page at least 0")
        found = [message for message in newest_first
                 if query.get("To", message["to"]) == message["to"]  # a filter given must match
                 and query.get("From", message["from"]) == message["from"]
                 and (not days or message["date_sent"] and all(
                     compare(parsedate_to_datetime(message["date_sent"]).date(), day) for compare, day in days))]
        # The token names the last text of the page before: texts sent meanwhile shift nothing.
        token = query.get("PageToken", "")
        start = next((index + 1 for index, message in enumerate(found) if "PA" + message["sid"] == token),
                     number * size)
        page = found[start:start + size]
        filters = {name: value for name, value in query.items() if name not in ("Page", "PageSize", "PageToken")}

        def uri(page_number: int, page_token: str = "") -> str:
            token_param = {"PageToken": page_token} if page_token else {}
            return f"{request.path}?{urlencode({**filters, 'PageSize': size, 'Page': page_number, **token_param})}"

        return json_response(200, {
            "messages": page, "page": number, "page_size": size, "start": start,
            "end": start + max(len(page) - 1, 0), "uri": uri(number, token), "first_page_uri": uri(0),
            "next_page_uri": uri(number + 1, "PA" + page[-1]["sid"]) if start + size < len(found) else None,
            "previous_page_uri": uri(number - 1) if number else None})

    def _media_refusal(self, media: list[str]):
        if len(media) > MAX_MEDIA:
            return _error(400, 21623, f"Too many media: at most {MAX_MEDIA} per message.")
        for url in media:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                return _error(400, 21620, "Invalid media URL(s)")
        return None

    def _serve_media(self, request: Request, account_sid: str, media_sid: str):
        authorized = self._authorized(request, account_sid)
        with self._lock:
            stored = self._media.get(media_sid)
        fault = self.media_faults.take() if authorized else None
        if not authorized:
            response = _error(401, 20003, "Authenticate")
        elif fault:
            response = self._fault(fault)
        elif stored is None:
            response = _error(404, 20404, f"The requested resource {request.path} was not found")
        else:
            content_type, data = stored
            response = Response(200, data, [("Content-Type", content_type)])
        with self._lock:
            self._media_fetches.append({"media_sid": media_sid, "authorized": authorized,
                                        "status": response.status})
        self._say("twilio", f"media {media_sid} fetched -> {response.status}")
        return response

    def _fault(self, fault: Fault):
        status = fault.status or 400
        code = fault.code or 20000 + status
        self._say("twilio", f"injected HTTP {status} (error {code})")
        return _error(status, code, fault.message or HTTPStatus(status).phrase)

    def _authorized(self, request: Request, account_sid: str) -> bool:
        scheme, _, encoded = request.header("authorization").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return scheme.lower() == "basic" and user == account_sid == self._account_sid and password == self._auth_token

    def _refusal(self, to: str, sender: str, body: str, form: dict):
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if sender != self._from_number and not form.get("MessagingServiceSid"):
            return _error(400, 21606, f"The From phone number {sender} is not a valid, SMS-capable inbound "
                                      "phone number or short code for your account.")
        if not body and not form.get("MediaUrl"):
            return _error(400, 21602, "Message body is required.")
        if len(body) > MAX_SMS_LENGTH:
            return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        with self._lock:
            opted_out = to in self._opted_out
        if opted_out:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        return None

    def _message(self, to: str, sender: str, body: str, messaging_service_sid: str | None) -> dict:
        sid, now = new_message_sid(), formatdate(usegmt=True)
        uri = f"/{API_VERSION}/Accounts/{self._account_sid}/Messages/{sid}"
        return {
            "account_sid": self._account_sid, "api_version": API_VERSION, "body": body,
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": sender,
            "messaging_service_sid": messaging_service_sid, "num_media": "0",
            "num_segments": str(segment_count(body)), "price": None, "price_unit": "USD", "sid": sid,
            "status": "queued", "subresource_uris": {"media": f"{uri}/Media.json"}, "to": to, "uri": f"{uri}.json",
        }
