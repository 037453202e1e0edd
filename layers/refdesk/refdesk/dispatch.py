"""Runs one job from the queue, and tells staff when its last attempt fails."""
from __future__ import annotations

from typing import Callable

from aws_lambda_powertools import Logger

from refdesk import assignment, blocking, relay, waiting
from refdesk.models import BlockPatronJob, NudgeJob, UnblockPatronJob
from refdesk.models import (ClaimJob, CloseJob, HomeOpenedJob, Job, PatronEditJob, PatronMessageJob, StaffEditJob,
                            StaffReplyJob, TransferJob, job_from_body)
from refdesk import departments
from refdesk.models import InviteJob, QuickReplyJob
from refdesk.settings import get_settings
from refdesk import erasure
from refdesk.models import ErasePatronJob

logger = Logger(child=True)

HANDLERS: dict[type[Job], Callable] = {
    PatronMessageJob: relay.deliver_patron_message,
    StaffReplyJob: relay.relay_staff_reply,
    StaffEditJob: relay.handle_staff_edit,
    CloseJob: relay.close,
    PatronEditJob: relay.handle_patron_edit,
    InviteJob: departments.invite,
    QuickReplyJob: relay.send_quick_reply,
    ClaimJob: assignment.claim,
    TransferJob: assignment.transfer,
    HomeOpenedJob: assignment.home_opened,
    NudgeJob: waiting.nudge,
    BlockPatronJob: blocking.block,
    UnblockPatronJob: blocking.unblock,
}

from refdesk import assessment  # noqa: E402 - READ, topic and ratings (store.stats)
from refdesk.models import AssessJob, RatingJob  # noqa: E402

HANDLERS.update({AssessJob: assessment.assess, RatingJob: assessment.rate})
HANDLERS[ErasePatronJob] = erasure.erase  # a patron's "delete"

from refdesk import reveal  # noqa: E402 - Reveal on a redacted patron message
from refdesk.models import RevealJob  # noqa: E402

HANDLERS[RevealJob] = reveal.reveal


def run(body: str, attempts: int) -> None:
    job = job_from_body(body)
    try:
        HANDLERS[type(job)](job)
    except Exception as error:
        # Only the error's type: messages from Twilio and Slack can quote phone numbers or text.
        logger.warning("job failed", extra={"kind": job.kind, "attempt": attempts, "error": type(error).__name__})
        if attempts >= get_settings().max_delivery_attempts:
            _report(job, attempts)
        raise


def _report(job: Job, attempts: int) -> None:
    try:
        relay.report_undeliverable(job, attempts)
    except Exception as error:  # Slack itself may be what is failing; the DLQ still has the job.
        logger.error("could not report the failure to staff", extra={"error": type(error).__name__})
