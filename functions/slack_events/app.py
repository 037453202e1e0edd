"""POST /slack/events - verify, answer url_verification, enqueue relevant events, ack fast."""
from refdesk import http, jobs
from refdesk.http import Api, Router
from refdesk.observability import count, logger
from refdesk.signatures import verify_slack
from refdesk.slack.events import router as listeners

slack = Router()


@slack.post("/slack/events")
def events():
    request = http.request(slack)
    verify_slack(request)
    payload = request.json()
    if payload.get("type") == "url_verification":
        return http.json_response(200, {"challenge": str(payload.get("challenge", ""))})
    if payload.get("type") != "event_callback":
        return http.respond(200)
    job = listeners.job_for_event(payload)
    if job:
        jobs.enqueue(job)
        count("SlackEventQueued")
    logger.info("slack event", extra={"event_id": str(payload.get("event_id")), "queued": bool(job),
                                      "retry": str(request.headers.get("x-slack-retry-num", "0"))})
    return http.respond(200)


app = Api(slack, max_body=http.MAX_SLACK_EVENT_BODY)

handler = http.lambda_handler(app)
