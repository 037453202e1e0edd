"""While anything waits: nudge the on-duty librarians about conversations nobody has claimed.
Invoked by its wake-ups, one-time EventBridge Scheduler schedules (asynchronously; each event
names its schedule), which the dispatcher arms when a conversation starts waiting and each sweep
re-arms while something still waits; nothing runs while nothing waits. Reads the waiting queue,
takes each nudge with a conditional write and queues it; the dispatcher posts in the thread
(refdesk.waiting). A failure is retried by Lambda with the same event."""
from refdesk import waiting
from refdesk.observability import count, logger, metrics


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    # The wake-up's schedule names it: retried after a failure, it re-arms as itself.
    wake_up = str(event.get("wake_up") or "") if isinstance(event, dict) else ""
    result = waiting.sweep(armed_by=f"sweep:{wake_up}" if wake_up else "")
    if result["nudged"]:
        count("ConversationsNudged", result["nudged"])
    logger.info("sweep", extra={"trigger": "wake-up" if wake_up else "direct", "wake_up": wake_up, **result})
    return result
