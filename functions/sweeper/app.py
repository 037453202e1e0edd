"""Every minute (EventBridge schedule rate(1 minute); a timer in `make dev`): nudge the on-duty
librarians about conversations nobody has claimed. Reads the waiting queue, takes each nudge with
a conditional write and queues it; the dispatcher posts in the thread (refdesk.waiting)."""
from refdesk import waiting
from refdesk.observability import count, logger, metrics


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    kind = event.get("detail-type") if isinstance(event, dict) else None
    result = waiting.sweep()
    if result["nudged"]:
        count("ConversationsNudged", result["nudged"])
    logger.info("sweep", extra={"trigger": str(kind or "direct"), **result})
    return result
