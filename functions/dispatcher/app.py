"""The jobs queue's consumer: every call to Slack and Twilio happens here. Invoked
asynchronously, by whoever queued a job or by a failed job's wake-up, it drains the queue
(refdesk.dispatch.drain): nothing polls the queue while nobody writes to it."""
from refdesk import dispatch
from refdesk.observability import logger, metrics, traced


@traced
@logger.inject_lambda_context(log_event=False)  # never the event: it holds nothing, but keep it that way
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    return {"outcomes": dispatch.drain(context.get_remaining_time_in_millis)}
