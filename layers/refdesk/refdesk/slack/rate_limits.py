"""Slack's 429 answers: how long Slack asked to wait, and the WebClient's retry handler that waits
out a short pause in-process (registered by refdesk.clients; a longer pause is refdesk.slack.api's
RetryLater, which the queue honours)."""
from __future__ import annotations

from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

# A 429 whose Retry-After is at most this is waited out in-process; a longer one is the queue's.
WAIT_IN_PROCESS_SECONDS = 3


def retry_after(headers: dict) -> float:
    """Seconds of a 429's Retry-After (header values may come as lists); 1 if Slack left it out."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value[0] if isinstance(value, list) else value))
            except (TypeError, ValueError, IndexError):
                break
    return 1.0


class ShortPauseRetry(RateLimitErrorRetryHandler):
    """Registered on the WebClient (refdesk.clients): a 429 asking for at most
    WAIT_IN_PROCESS_SECONDS is slept and tried once more; anything longer is left to the caller."""

    def __init__(self):
        super().__init__(max_retry_count=1)

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return (super()._can_retry(state=state, request=request, response=response, error=error)
                and retry_after(response.headers) <= WAIT_IN_PROCESS_SECONDS)
