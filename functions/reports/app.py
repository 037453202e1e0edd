"""The reporting function, the only one that draws charts (SVG written by report_charts, no chart
library):

* invoked asynchronously by `/refdesk` (refdesk.reports.ask): `/refdesk stats [7d|30d|90d|term]` -> the key figures in the staff channel,
  with a signed link to the HTML report and its charts (Slack shows no SVG inline, so no file is
  uploaded); `/refdesk reveals [7d|30d|90d]` -> the reveal audit, to the requester only, if they
  may see it (refdesk.reveal_audit);
* EventBridge, monthly (cron(0 6 1 * ? *)): last month's CSVs of the daily aggregates and of the
  reveals to the reports bucket (`{"month": "YYYY-MM"}` invoked directly exports that month instead);
* GET /reports/{token}: the HTML report of a signed, unexpired link (403 otherwise)."""
import json

import report_charts
import report_page

from refdesk import http, reports, reveal_audit
from refdesk.http import Api, Router
from refdesk.observability import count, logger, metrics
from refdesk.slack import api as slack_api
from refdesk.settings import get_settings

web = Router()


@web.get("/reports/<token>")
def report(token: str):
    of = reports.figures(reports.open_link(token))
    return http.respond(200, report_page.html(of, report_charts.charts(of), _librarian_name),
                        report_page.CONTENT_TYPE, report_page.HEADERS)


def _librarian_name(user: str) -> str:
    """Their first name in Slack, or their user id when Slack does not say."""
    name = slack_api.first_name(user)
    return user if name == "Librarian" else name


api = Api(web)
http_handler = http.lambda_handler(api)


def post_stats(request: reports.ReportRequest) -> None:
    """The figures and the report link (its charts) in the staff channel, for the librarian who asked."""
    of = reports.figures(reports.period(request.period))
    text, blocks = reports.summary_blocks(of, reports.link(request.api_url, of.period))
    channel = get_settings().slack_staff_channel
    if request.user_id:
        blocks.insert(1, {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Asked by <@{request.user_id}>"}]})
    slack_api.post(channel, text, blocks)


def read_request(body: str) -> reports.ReportRequest | reveal_audit.AuditRequest:
    """A request by its kind; stats when it names none."""
    if json.loads(body).get("kind") == reveal_audit.KIND:
        return reveal_audit.AuditRequest.from_body(body)
    return reports.ReportRequest.from_body(body)


def asked(body: str) -> dict:
    """A request is answered once: a failure tells the librarian and is not retried (a retry
    could post the figures twice), so the invocation succeeds either way."""
    try:
        request = read_request(body)
    except (ValueError, KeyError, TypeError, AttributeError):
        logger.warning("report request unreadable")
        return {"posted": 0, "failed": 1}
    try:
        if isinstance(request, reveal_audit.AuditRequest):
            reveal_audit.answer(request)
        else:
            post_stats(request)
    except Exception as error:  # told to the librarian; the log names the error type only
        logger.exception("report failed", extra={"error": type(error).__name__, "period": request.period})
        _tell_failure(request)
        return {"posted": 0, "failed": 1}
    count("ReportsPosted")
    return {"posted": 1, "failed": 0}


def _tell_failure(request: reports.ReportRequest | reveal_audit.AuditRequest) -> None:
    text = (reveal_audit.FAILED if isinstance(request, reveal_audit.AuditRequest)
            else "Sorry, the statistics could not be made just now; try `/refdesk stats` again later.")
    try:
        slack_api.tell(get_settings().slack_staff_channel, request.user_id, text)
    except Exception:  # nosec B110 - Slack itself failing: the error above is logged already
        logger.warning("could not tell the librarian the report failed")


def monthly_export(event: dict) -> dict:
    of = reports.month(event["month"]) if isinstance(event.get("month"), str) else reports.previous_month()
    result = {**reports.export_month(of), **reveal_audit.export_month(of)}
    logger.info("monthly stats and reveals exported", extra=result)
    return result


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def _background(event: dict, context) -> dict:
    if isinstance(event.get(reports.REQUEST_FIELD), str):
        return asked(event[reports.REQUEST_FIELD])
    return monthly_export(event)


def handler(event, context):
    if isinstance(event, dict) and (reports.REQUEST_FIELD in event or event.get("source") == "aws.events"
                                    or "month" in event):
        return _background(event, context)
    return http_handler(event, context)
