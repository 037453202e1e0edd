"""Webhook signatures: Slack's v0 HMAC and Twilio's X-Twilio-Signature. Nothing is parsed,
stored or enqueued before these pass."""
from __future__ import annotations

from refdesk.errors import Forbidden
from refdesk.http import Request
from refdesk.settings import get_settings


def verify_slack(request: Request) -> None:
    from slack_sdk.signature import SignatureVerifier

    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature")
    if not timestamp.isdigit() or not signature:
        raise Forbidden("missing or malformed Slack signature headers")
    verifier = SignatureVerifier(get_settings().secret("slack_signing_secret"))
    if not verifier.is_valid(body=request.body, timestamp=timestamp, signature=signature):
        raise Forbidden("bad Slack signature or stale timestamp")


def verify_twilio(request: Request, params: dict[str, str]) -> None:
    from twilio.request_validator import RequestValidator

    signature = request.headers.get("x-twilio-signature", "")
    validator = RequestValidator(get_settings().secret("twilio_auth_token"))
    if not signature or not validator.validate(request.public_url(get_settings().public_base_url), params, signature):
        raise Forbidden("bad Twilio signature")
