"""A stand-in for Twilio's Messages API (the base URL that replaces https://api.twilio.com),
recording the texts the library sends and every attempt to send one."""
from __future__ import annotations

import base64
import collections
import copy
import math
import re
import threading
import uuid
from email.utils import formatdate
from http import HTTPStatus

from local.console import excerpt, say
from local.faults import Fault, InjectedFaults
from local.servers import Request, Server, json_response

API_VERSION = "2010-04-01"
MESSAGES_PATH = re.compile(r"/2010-04-01/Accounts/([^/]+)/Messages\.json")
MAX_SMS_LENGTH = 1600
GSM7 = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = "^{}\\[~]|€\f"  # two septets each
MAX_ATTEMPTS = 1_000  # the attempt log keeps the latest only


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


def _error(status: int, code: int, message: str):
    return json_response(status, {"code": code, "message": message,
                                  "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status})


class TwilioStandIn:
    """console=False: nothing is printed (tests that read the process's output)."""

    def __init__(self, account_sid: str, auth_token: str, from_number: str, *, console: bool = True):
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._from_number = from_number
        self._say = say if console else _silent
        self.faults = InjectedFaults()
        self._lock = threading.Lock()
        self._sent: list[dict] = []
        self._attempts: collections.deque[dict] = collections.deque(maxlen=MAX_ATTEMPTS)
        self._opted_out: set[str] = set()
        self._server = Server(self)
        self.api_url = self._server.url

    def stop(self) -> None:
        self._server.stop()

    def sent(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._sent)

    def attempts(self) -> list[dict]:
        """Every authenticated send, refused or not: {"to", "from", "body", "status"}."""
        with self._lock:
            return copy.deepcopy(list(self._attempts))

    def forget_sent(self) -> None:
        with self._lock:
            self._sent.clear()
            self._attempts.clear()

    def opt_out(self, numbers: list[str]) -> None:
        """Sends to these numbers now fail with error 21610 (replaces the previous list)."""
        with self._lock:
            self._opted_out = set(numbers)

    def reset(self) -> None:
        with self._lock:
            self._sent.clear()
            self._attempts.clear()
            self._opted_out.clear()
        self.faults.clear()

    def __call__(self, request: Request):
        path = MESSAGES_PATH.fullmatch(request.path)
        if request.method != "POST" or not path:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        if not self._authorized(request, path.group(1)):
            return _error(401, 20003, "Authenticate")
        form = request.params()
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        response = self._answer(to, sender, body, form)
        with self._lock:
            self._attempts.append({"to": to, "from": sender, "body": body, "status": response.status})
        return response

    def _answer(self, to: str, sender: str, body: str, form: dict):
        fault = self.faults.take()
        if fault:
            return self._fault(fault)
        refusal = self._refusal(to, sender, body, form)
        if refusal:
            self._say("twilio", f"refused SMS to {to}: {refusal.body.decode()}")
            return refusal
        message = self._message(to, sender, body, form.get("MessagingServiceSid"))
        with self._lock:
            self._sent.append(message)
        self._say("twilio", f"SMS to {to} ({message['num_segments']} segment(s)): {excerpt(body)}")
        return json_response(201, message)

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
