"""The jobs queue (SQS FIFO) between the webhooks and the dispatcher. Only typed jobs
(refdesk.models) cross it.

Nothing polls the queue, so a month without patrons costs nothing (a Lambda SQS trigger long-polls
around the clock, some 650,000 billed receives a month). Whoever queues a job wakes the
dispatcher instead (`wake`: an asynchronous invocation), which drains the queue
(refdesk.dispatch.drain): it receives one job at a time, from any FIFO group not held by a job in
flight, until none is left, and wakes a successor if its time runs out first. A job that failed
is hidden until its next attempt (`retry_in`) and a one-time schedule wakes the dispatcher then
(refdesk.wake_ups). What if a wake-up is lost:
* it fails (once, or for an hour): enqueue raises, so the webhook answers 503 and is sent again
  (its job de-duplicated by the queue) and a job queued by a job fails that job, retried;
* the answer is lost after it succeeded: the webhook is sent again, and a second wake finds the
  queue drained (one empty receive);
* a failed job's wake-up cannot be scheduled: the dispatcher's invocation fails, and Lambda
  tries it again a minute, then three minutes later;
* the dispatcher crashes mid-job: Lambda retries the asynchronous invocation (twice, a minute
  then two apart), and the job is visible again after the queue's VisibilityTimeout; any later
  wake drains it too, and the oldest-job alarm tells operations if none comes."""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from refdesk import clients, wake_ups
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


# Set while the dispatcher drains the queue: a job queued by a job is received by the same drain.
_draining: ContextVar[bool] = ContextVar("draining", default=False)


@contextmanager
def draining() -> Iterator[None]:
    token = _draining.set(True)
    try:
        yield
    finally:
        _draining.reset(token)


def enqueue(job: Job) -> None:
    """One SendMessage, then the dispatcher woken (unless it is the one queueing). The FIFO group
    keeps one conversation's (or thread's) jobs in order; the de-duplication id makes a
    webhook's retry a no-op for five minutes."""
    clients.get("sqs").send_message(
        QueueUrl=get_settings().jobs_queue_url,
        MessageBody=job.to_body(),
        MessageGroupId=hashlib.sha256(job.group.encode()).hexdigest(),
        MessageDeduplicationId=hashlib.sha256(f"{job.kind}:{job.idempotency_key}".encode()).hexdigest(),
    )
    if not _draining.get():
        wake()


def wake() -> None:
    """Invoke the dispatcher asynchronously: Lambda queues the invocation and answers at once."""
    clients.get("lambda").invoke(FunctionName=get_settings().dispatcher_function_arn, InvocationType="Event",
                                 Payload=b"{}")


def receive() -> "Received | None":
    """The next job any FIFO group offers, or None when the queue has none visible."""
    settings = get_settings()
    # boto3 retries a receive whose answer was lost with the same attempt id, and SQS answers it
    # with the same job, instead of leaving that job hidden (and its group held) until its
    # visibility timeout with nobody to wake for it.
    answer = clients.get("sqs").receive_message(
        QueueUrl=settings.jobs_queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=settings.jobs_receive_wait_seconds,
        AttributeNames=["ApproximateReceiveCount", "SentTimestamp", "MessageGroupId"],
        MessageAttributeNames=[EARLIER_ATTEMPTS], ReceiveRequestAttemptId=uuid.uuid4().hex)
    messages = answer.get("Messages") or []
    if not messages:
        return None
    [message] = messages
    attributes = message.get("Attributes") or {}
    earlier = ((message.get("MessageAttributes") or {}).get(EARLIER_ATTEMPTS) or {}).get("StringValue") or ""
    return Received(body=message["Body"], attempt=int(attributes.get("ApproximateReceiveCount") or 1),
                    receipt_handle=message["ReceiptHandle"], group_id=attributes.get("MessageGroupId", ""),
                    message_id=message["MessageId"], earlier_attempts=int(earlier) if earlier.isdigit() else 0,
                    sent_at=int(attributes.get("SentTimestamp") or 0) / 1000)


def done(received: "Received") -> None:
    """The job ran (or was given up): off the queue, and its FIFO group's next job is free."""
    clients.get("sqs").delete_message(QueueUrl=get_settings().jobs_queue_url, ReceiptHandle=received.receipt_handle)


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
    sent_at: float = 0.0  # when it was queued (epoch seconds)


class WakeUpNotScheduled(Exception):
    """A failed job is hidden until its next attempt, but nothing will wake the dispatcher then."""


def retry_in(received: Received, seconds: int) -> None:
    """Keep a failed job hidden for `seconds` before its next attempt, and wake the dispatcher
    then. A FIFO queue holds the job's group (the jobs behind it) until then. Wake-ups are named
    after their second, so a busy minute of failures makes one wake-up a second at most."""
    settings = get_settings()
    clients.get("sqs").change_message_visibility(QueueUrl=settings.jobs_queue_url,
                                                 ReceiptHandle=received.receipt_handle, VisibilityTimeout=seconds)
    if seconds > 0:
        try:
            wake_ups.schedule("jobs", datetime.now(timezone.utc) + timedelta(seconds=seconds),
                              settings.dispatcher_function_arn, {})
        except Exception as error:
            raise WakeUpNotScheduled(type(error).__name__) from error


def dead_letter(received: Received) -> None:
    """Move a job that is given up to the dead-letter queue, in its group (scripts/redrive.py puts
    it back). Its message id de-duplicates a repeat after a crash."""
    clients.get("sqs").send_message(
        QueueUrl=get_settings().dead_letter_queue_url, MessageBody=received.body, MessageGroupId=received.group_id,
        MessageDeduplicationId=received.message_id,
        MessageAttributes={EARLIER_ATTEMPTS: {"DataType": "Number",
                                              "StringValue": str(received.attempt + received.earlier_attempts)}})
