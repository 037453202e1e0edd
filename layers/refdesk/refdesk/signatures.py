"""Webhook signatures: Slack's v0 HMAC and Twilio's X-Twilio-Signature. Nothing is parsed,
stored or enqueued before these pass.

Slack signs the raw body bytes. The HMAC is computed here over `Request.body` (API Gateway's
base64 already undone) rather than with slack_sdk's SignatureVerifier, which decodes the body as
UTF-8 and compares strings: a forged request with bytes that are not UTF-8, or a non-ASCII
signature header, would make it raise instead of answering 403. Twilio signs the URL and the
form parameters; its RequestValidator does that."""
from __future__ import annotations

import hashlib
import hmac
import re
import time

from refdesk.errors import Forbidden
from refdesk.http import Request
from refdesk.settings import get_settings

SLACK_MAX_AGE = 5 * 60  # seconds; Slack's recommendation against replays
# Slack's timestamp is Unix seconds: 10 digits until the year 2286. Anything longer is refused
# before int() (which raises past 4,300 digits) and could never be fresh anyway.
SLACK_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), b"v0:" + timestamp.encode("ascii") + b":" + body, hashlib.sha256)
    return "v0=" + digest.hexdigest()


def verify_slack(request: Request, *, now: float | None = None) -> None:
    timestamp = str(request.headers.get("x-slack-request-timestamp", ""))
    signature = str(request.headers.get("x-slack-signature", ""))
    if not SLACK_TIMESTAMP.fullmatch(timestamp) or not signature:
        raise Forbidden("missing or malformed Slack signature headers")
    if abs((time.time() if now is None else now) - int(timestamp)) > SLACK_MAX_AGE:
        raise Forbidden("bad Slack signature or stale timestamp")
    expected = slack_signature(get_settings().secret("slack_signing_secret"), timestamp, request.body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise Forbidden("bad Slack signature or stale timestamp")


def verify_twilio(request: Request, params: dict[str, str]) -> None:
    from twilio.request_validator import RequestValidator

    signature = str(request.headers.get("x-twilio-signature", ""))
    validator = RequestValidator(get_settings().secret("twilio_auth_token"))
    if not signature or not validator.validate(request.public_url(get_settings().public_base_url), params, signature):
        raise Forbidden("bad Twilio signature")
