"""While anything waits: keep the desk's digest of who waits (one message in the staff channel,
mentioning the on-duty librarians when posted, then edited in place). Invoked by its wake-ups,
one-time EventBridge Scheduler schedules (asynchronously; each event names its schedule), which
the dispatcher arms when a conversation starts waiting and each sweep re-arms while something
still waits; nothing runs while nothing waits. Reads the waiting queue, takes the digest's turn
with one conditional write and queues it; the dispatcher posts or edits (refdesk.waiting). A
failure is retried by Lambda with the same event."""
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
