"""POST /slack/events - verify, answer url_verification, enqueue relevant events, ack fast."""
from aws_lambda_powertools import Logger

from refdesk import jobs, slack_inbound
from refdesk.http import Request, api_handler, json_response, respond
from refdesk.signatures import verify_slack

logger = Logger(service="refdesk")


@logger.inject_lambda_context
@api_handler
def handler(request: Request, event: dict) -> dict:
    verify_slack(request)
    payload = request.json()
    if payload.get("type") == "url_verification":
        return json_response(200, {"challenge": str(payload.get("challenge", ""))})
    if payload.get("type") != "event_callback":
        return respond(200)
    found = slack_inbound.job_for_event(payload)
    if found:
        kind, job, group = found
        jobs.enqueue(kind, job, group=group, idempotency_key=payload["event_id"])
    logger.info("slack event", extra={"event_id": payload["event_id"], "queued": bool(found),
                                      "retry": request.headers.get("x-slack-retry-num", "0")})
    return respond(200)
