"""Runs one job from the queue, and tells staff when its last attempt fails."""
from __future__ import annotations

from aws_lambda_powertools import Logger

from refdesk import conversations, jobs
from refdesk.settings import get_settings

logger = Logger(service="refdesk")

HANDLERS = {
    jobs.PATRON_MESSAGE: conversations.deliver_patron_message,
    jobs.STAFF_REPLY: conversations.relay_staff_reply,
    jobs.STAFF_EDIT: conversations.handle_staff_edit,
    jobs.CLOSE: conversations.close,
}


def run(job: dict, attempts: int) -> None:
    try:
        HANDLERS[job["kind"]](job)
    except Exception as error:
        # Only the error's type: messages from Twilio and Slack can quote phone numbers or text.
        logger.warning("job failed", extra={"kind": job.get("kind"), "attempt": attempts,
                                            "error": type(error).__name__})
        if attempts >= get_settings().max_delivery_attempts:
            _report(job, attempts)
        raise


def _report(job: dict, attempts: int) -> None:
    try:
        conversations.report_undeliverable(job, attempts)
    except Exception as error:  # Slack itself may be what is failing; the DLQ still has the job.
        logger.error("could not report the failure to staff", extra={"error": type(error).__name__})
