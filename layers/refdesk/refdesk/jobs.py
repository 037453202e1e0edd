"""The jobs queue (SQS FIFO) between the webhooks and the dispatcher."""
from __future__ import annotations

import hashlib
import json

from refdesk import clients
from refdesk.settings import get_settings

PATRON_MESSAGE = "patron_message"
STAFF_REPLY = "staff_reply"
STAFF_EDIT = "staff_edit"
CLOSE = "close"


def enqueue(kind: str, payload: dict, *, group: str, idempotency_key: str) -> None:
    """One SendMessage. The FIFO group keeps one conversation's jobs in order; the
    de-duplication id makes a webhook's retry a no-op for five minutes."""
    clients.get("sqs").send_message(
        QueueUrl=get_settings().jobs_queue_url,
        MessageBody=json.dumps({"kind": kind, **payload}),
        MessageGroupId=hashlib.sha256(group.encode()).hexdigest(),
        MessageDeduplicationId=hashlib.sha256(f"{kind}:{idempotency_key}".encode()).hexdigest(),
    )
