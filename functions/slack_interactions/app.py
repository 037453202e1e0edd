"""POST /slack/interactions - button presses and modal submissions: verify, enqueue, ack within 3 s.

The one exception to "webhooks only enqueue": an element that opens a modal (Invite; "Add a
comment" on a Slack Connect patron's rating) calls views.open here, once, because Slack honours
the click's trigger_id for 3 seconds only and a queued job could not make it. Nothing else calls Slack from a webhook; the modal's submission
(view_submission) is queued like any action, or answered with the fields to fix."""
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
    if payload.get("type") == "view_submission":
        try:
            job = interactions.router.job_for_view(payload)  # an empty 200 closes the modal
        except interactions.ViewErrors as fix:  # Slack keeps the modal open and shows why
            return http.json_response(200, {"response_action": "errors", "errors": fix.errors})
    else:
        _open_modal(payload)
        job = interactions.router.job_for_interaction(payload)
    if job:
        jobs.enqueue(job)
        count("SlackActionQueued")
    logger.info("slack interaction", extra={"type": str(payload.get("type")), "queued": bool(job)})
    return http.respond(200)


def _open_modal(payload: dict) -> None:
    """views.open with the click's trigger_id, when the element opens a modal: one Slack call. A
    failure (an expired trigger on a retried delivery, Slack down) is logged, not retried: whoever
    clicked clicks again."""
    found = interactions.router.modal_for_interaction(payload)
    if not found:
        return
    from refdesk.slack import api as slack_api

    try:
        slack_api.open_view(*found)
    except Exception as error:  # SlackApiError, timeouts: only the type, never the answer
        logger.warning("modal not opened", extra={"error": type(error).__name__})
        count("SlackModalNotOpened")
        return
    count("SlackModalOpened")


app = Api(slack)

handler = http.lambda_handler(app)
