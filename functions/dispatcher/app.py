"""The jobs queue's consumer: every call to Slack and Twilio happens here. Invoked
asynchronously, by whoever queued a job or by a failed job's wake-up, it drains the queue
(refdesk.dispatch.drain): nothing polls the queue while nobody writes to it. SNS invokes it too
with SES's bounces and complaints of e-mailed replies (refdesk.channels.email.undelivered), which
queue their ❌ before the drain (refdesk.delivery_status); one that fails is tried again by Lambda
with the same event."""
import json

from refdesk import delivery_status, dispatch
from refdesk.channels import email
from refdesk.observability import logger, metrics, traced


@traced
@logger.inject_lambda_context(log_event=False)  # never the event: it holds nothing, but keep it that way
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    for record in event.get("Records") or []:
        bounced = email.undelivered(json.loads(record["Sns"]["Message"]))
        if bounced:
            message_id, why = bounced
            delivery_status.report(message_id, "failed", why)
    return {"outcomes": dispatch.drain(context.get_remaining_time_in_millis)}
