"""The jobs queue (SQS FIFO) between the webhooks and the dispatcher. Only typed jobs
(refdesk.models) cross it."""
from __future__ import annotations

import hashlib
from contextvars import ContextVar

from refdesk import clients
from refdesk.models import Job
from refdesk.settings import get_settings

# Which attempt at the current job this is (1 = first). A retry may follow a crash right after
# a call succeeded, so a step whose effect cannot be checked in the table (a Slack post) looks
# for it before doing it again when this is above 1.
_attempt: ContextVar[int] = ContextVar("attempt", default=1)


def attempt() -> int:
    return _attempt.get()


def set_attempt(number: int) -> None:
    _attempt.set(number)


def enqueue(job: Job) -> None:
    """One SendMessage. The FIFO group keeps one conversation's (or thread's) jobs in order; the
    de-duplication id makes a webhook's retry a no-op for five minutes."""
    clients.get("sqs").send_message(
        QueueUrl=get_settings().jobs_queue_url,
        MessageBody=job.to_body(),
        MessageGroupId=hashlib.sha256(job.group.encode()).hexdigest(),
        MessageDeduplicationId=hashlib.sha256(f"{job.kind}:{job.idempotency_key}".encode()).hexdigest(),
    )
