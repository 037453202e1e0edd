"""The jobs queue (SQS FIFO) between the webhooks and the dispatcher. Only typed jobs
(refdesk.models) cross it."""
from __future__ import annotations

import hashlib

from refdesk import clients
from refdesk.models import Job
from refdesk.settings import get_settings


def enqueue(job: Job) -> None:
    """One SendMessage. The FIFO group keeps one conversation's (or thread's) jobs in order; the
    de-duplication id makes a webhook's retry a no-op for five minutes."""
    clients.get("sqs").send_message(
        QueueUrl=get_settings().jobs_queue_url,
        MessageBody=job.to_body(),
        MessageGroupId=hashlib.sha256(job.group.encode()).hexdigest(),
        MessageDeduplicationId=hashlib.sha256(f"{job.kind}:{job.idempotency_key}".encode()).hexdigest(),
    )
