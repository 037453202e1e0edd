"""Domain errors. Each carries the HTTP status it maps to; refdesk.http turns them into answers."""
from __future__ import annotations


class RefDeskError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class BadRequest(RefDeskError):
    status, code = 400, "bad_request"


class Forbidden(RefDeskError):
    status, code = 403, "forbidden"


class NotFound(RefDeskError):
    status, code = 404, "not_found"


class Conflict(RefDeskError):
    status, code = 409, "conflict"


class Gone(RefDeskError):
    """What was there is no longer kept (a librarian's file past its conversation's retention)."""

    status, code = 410, "gone"


def chat_ended() -> Conflict:
    """What the widget is told when it sends to a web chat that has ended."""
    return Conflict("this chat has ended; start a new one", code="closed")


class NotConfigured(RefDeskError):
    """A secret the request is checked with is not stored yet (a first deploy, before the Slack
    app exists: Slack's URL verification is refused until the signing secret is, then Retry)."""

    status, code = 403, "not_configured"


class PayloadTooLarge(RefDeskError):
    status, code = 413, "too_large"


class UnsupportedMediaType(RefDeskError):
    status, code = 415, "unsupported_media_type"


class RateLimited(RefDeskError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class DuplicateDelivery(RefDeskError):
    """A webhook delivered the same message again; the first copy is kept."""

    status, code = 200, "duplicate"

    def __init__(self, conversation_id: str):
        super().__init__("message already received")
        self.conversation_id = conversation_id


class DeliveryFailed(RefDeskError):
    """Sending to a patron failed for good (opted out, invalid number): retrying will not help."""

    code = "delivery_failed"


class RetryLater(RefDeskError):
    """A call was refused for now (Slack's 429 with Retry-After, a pause it asked for): the job is
    tried again after `seconds`, however many attempts it has had."""

    status, code = 503, "retry_later"

    def __init__(self, message: str, *, seconds: float):
        super().__init__(message)
        self.seconds = seconds
