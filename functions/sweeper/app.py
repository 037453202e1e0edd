"""While anything waits: keep the desk's digest of who waits (one message in the staff channel,
mentioning the on-duty librarians when posted, then edited in place). While a conversation someone
has taken is open: close the idle ones quietly. Invoked by its wake-ups, one-time EventBridge
Scheduler schedules (asynchronously; each event names its schedule, and its purpose when it is the
idle close's), which the dispatcher arms when a conversation starts waiting or is taken and each
sweep re-arms while something still waits or is open; nothing runs while nothing does. Reads the
waiting queue (refdesk.waiting: the digest's turn, one conditional write) or the open
conversations by activity (refdesk.idle) and queues jobs; the dispatcher posts, edits and closes.
A failure is retried by Lambda with the same event."""
from refdesk import idle, waiting
from refdesk.observability import count, logger, metrics


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict, context) -> dict:
    # The wake-up's schedule names it: retried after a failure, it re-arms as itself.
    wake_up = str(event.get("wake_up") or "") if isinstance(event, dict) else ""
    purpose = str(event.get("purpose") or "") if isinstance(event, dict) else ""
    if purpose == idle.PURPOSE:
        result = idle.sweep(armed_by=f"idle:{wake_up}" if wake_up else "")
        if result["idle"]:
            count("ConversationsIdle", result["idle"])
    else:
        result = waiting.sweep(armed_by=f"sweep:{wake_up}" if wake_up else "")
        if result["nudged"]:
            count("ConversationsNudged", result["nudged"])
    logger.info("sweep", extra={"trigger": "wake-up" if wake_up else "direct", "wake_up": wake_up,
                                "purpose": purpose or "waiting", **result})
    return result
