"""POST /slack/interactions - button presses (Close): verify, enqueue, ack within 3 s."""

from refdesk import jobs
from refdesk.slack import interactions
from refdesk.http import Request, api_handler, respond
from refdesk.signatures import verify_slack
from refdesk.observability import logger



@logger.inject_lambda_context
@api_handler
def handler(request: Request, event: dict) -> dict:
    verify_slack(request)
    payload = interactions.parse_payload(request.form())
    job = interactions.router.job_for_interaction(payload)
    if job:
        jobs.enqueue(job)
    logger.info("slack interaction", extra={"type": str(payload.get("type")), "queued": bool(job)})
    return respond(200)
