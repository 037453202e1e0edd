"""POST /slack/events - verify, answer url_verification, enqueue relevant events, ack fast."""

from refdesk import jobs
from refdesk.slack.events import router
from refdesk.http import Request, api_handler, json_response, respond
from refdesk.signatures import verify_slack
from refdesk.observability import logger



@logger.inject_lambda_context
@api_handler
def handler(request: Request, event: dict) -> dict:
    verify_slack(request)
    payload = request.json()
    if payload.get("type") == "url_verification":
        return json_response(200, {"challenge": str(payload.get("challenge", ""))})
    if payload.get("type") != "event_callback":
        return respond(200)
    job = router.job_for_event(payload)
    if job:
        jobs.enqueue(job)
    logger.info("slack event", extra={"event_id": payload["event_id"], "queued": bool(job),
                                      "retry": request.headers.get("x-slack-retry-num", "0")})
    return respond(200)
