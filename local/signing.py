"""Signs requests the way Slack and Twilio sign their webhooks, with their own SDKs.
Shared by the control API and the tests."""
from __future__ import annotations

import time

from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator


def slack_signature_headers(signing_secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """X-Slack-Request-Timestamp and X-Slack-Signature for this exact body."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=stamp, body=body)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


def twilio_signature_header(auth_token: str, url: str, params: dict[str, str]) -> dict[str, str]:
    """X-Twilio-Signature for a form POST of params to url (the full URL Twilio calls)."""
    return {"X-Twilio-Signature": RequestValidator(auth_token).compute_signature(url, params)}
