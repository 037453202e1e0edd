"""POST /slack/interactions - button presses (Close): verify, enqueue, ack within 3 s."""
from refdesk import http, jobs
from refdesk.http import Api, Router
from refdesk.observability import count, logger
from refdesk.signatures import verify_slack
from refdesk.slack import interactions

slack = Router()


@slack.post("/slack/interactions")
def interaction():
    request = http.request(slack)
    verify_slack(request)
    payload = interactions.parse_payload(request.form())
    job = interactions.router.job_for_interaction(payload)
    if job:
        jobs.enqueue(job)
        count("SlackActionQueued")
    logger.info("slack interaction", extra={"type": str(payload.get("type")), "queued": bool(job)})
    return http.respond(200)


app = Api(slack)

handler = http.lambda_handler(app)
