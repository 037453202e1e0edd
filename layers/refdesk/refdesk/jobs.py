"""The jobs queue (SQS FIFO) between the webhooks and the dispatcher. Only typed jobs
(refdesk.models) cross it."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from refdesk import clients
from refdesk.models import Job
from refdesk.settings import get_settings

# Which attempt at the current job this is (1 = first). A retry may follow a crash right after
# a call succeeded, so a step whose effect cannot be checked in the table (a Slack post) looks
# for it before doing it again when this is above 1.
_attempt: ContextVar[int] = ContextVar("attempt", default=1)


def attempt() -> int:
    return _attempt.get()


@contextmanager
def attempting(number: int) -> Iterator[None]:
    """This attempt's number while the job runs, and the first attempt's again after it, so that
    nothing that runs next (another record, a test) takes itself for a retry."""
    token = _attempt.set(number)
    try:
        yield
    finally:
        _attempt.reset(token)


def enqueue(job: Job) -> None:
    """One SendMessage. The FIFO group keeps one conversation's (or thread's) jobs in order; the
    de-duplication id makes a webhook's retry a no-op for five minutes."""
    clients.get("sqs").send_message(
        QueueUrl=get_settings().jobs_queue_url,
        MessageBody=job.to_body(),
        MessageGroupId=hashlib.sha256(job.group.encode()).hexdigest(),
        MessageDeduplicationId=hashlib.sha256(f"{job.kind}:{job.idempotency_key}".encode()).hexdigest(),
    )


# The message attribute that carries a dead-lettered job's attempts through a redrive, so that
# its next attempt looks for what the earlier ones may have done.
EARLIER_ATTEMPTS = "EarlierAttempts"


@dataclass(frozen=True)
class Received:
    """A job as the dispatcher received it: its body and what the queue says about this delivery."""

    body: str
    attempt: int  # the queue's receive count: 1 = the first attempt
    receipt_handle: str
    group_id: str
    message_id: str
    earlier_attempts: int = 0  # before it was dead-lettered, for a job redriven from there


def retry_in(received: Received, seconds: int) -> None:
    """Keep a failed job hidden for `seconds` before its next attempt. Lambda leaves the
    visibility of a reported failure as it is, and a FIFO queue holds the job's group (the
    jobs behind it) until then."""
    clients.get("sqs").change_message_visibility(QueueUrl=get_settings().jobs_queue_url,
                                                 ReceiptHandle=received.receipt_handle, VisibilityTimeout=seconds)


def dead_letter(received: Received) -> None:
    """Move a job that is given up to the dead-letter queue, in its group (scripts/redrive.py puts
    it back). Its message id de-duplicates a repeat after a crash."""
    clients.get("sqs").send_message(
        QueueUrl=get_settings().dead_letter_queue_url, MessageBody=received.body, MessageGroupId=received.group_id,
        MessageDeduplicationId=received.message_id,
        MessageAttributes={EARLIER_ATTEMPTS: {"DataType": "Number",
                                              "StringValue": str(received.attempt + received.earlier_attempts)}})
