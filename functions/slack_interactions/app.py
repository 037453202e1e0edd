"""POST /slack/interactions - button presses (Close): verify, enqueue, ack within 3 s."""
from aws_lambda_powertools import Logger

from refdesk import jobs, slack_inbound
from refdesk.http import Request, api_handler, respond
from refdesk.signatures import verify_slack

logger = Logger(service="refdesk")


@logger.inject_lambda_context
@api_handler
def handler(request: Request, event: dict) -> dict:
    verify_slack(request)
    payload = slack_inbound.parse_interaction(request.form())
    found = slack_inbound.job_for_interaction(payload)
    if found:
        kind, job, group, key = found
        jobs.enqueue(kind, job, group=group, idempotency_key=key)
    logger.info("slack interaction", extra={"type": payload.get("type"), "queued": bool(found)})
    return respond(200)
