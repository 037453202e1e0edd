"""The reporting function, the only one with a chart library:

* the reports queue: `/refdesk stats [7d|30d|90d|term]` -> the key figures and a chart in the
  staff channel, with a signed link to the HTML report;
* EventBridge, monthly (cron(0 6 1 * ? *)): last month's CSV of the daily aggregates to the
  reports bucket (`{"month": "YYYY-MM"}` invoked directly exports that month instead);
* GET /reports/{token}: the HTML report of a signed, unexpired link (403 otherwise)."""
import report_charts
import report_page

from refdesk import http, reports
from refdesk.http import Api, Router
from refdesk.observability import count, logger, metrics
from refdesk.slack import api as slack_api
from refdesk.settings import get_settings

web = Router()


@web.get("/reports/<token>")
def report(token: str):
    of = reports.figures(reports.open_link(token))
    return http.respond(200, report_page.html(of, report_charts.charts(of)), report_page.CONTENT_TYPE,
                        report_page.HEADERS)


api = Api(web)
http_handler = http.lambda_handler(api)


def post_stats(request: reports.ReportRequest) -> None:
    """The figures and the chart in the staff channel, for the librarian who asked."""
    of = reports.figures(reports.period(request.period))
    text, blocks = reports.summary_blocks(of, reports.link(request.api_url, of.period))
    channel = get_settings().slack_staff_channel
    if request.user_id:
        blocks.insert(1, {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Asked by <@{request.user_id}>"}]})
    slack_api.post(channel, text, blocks)
    slack_api.upload(channel, None, report_charts.overview_png(of), f"refdesk-stats-{of.period.name}.png",
                     f"Reference desk, {of.period.label}")


def stats_requests(event: dict) -> dict:
    """Each request is answered once: a failure tells the librarian and is not retried (a retry
    could post the figures twice)."""
    done = failed = 0
    for record in event.get("Records", []):
        try:
            request = reports.ReportRequest.from_body(record["body"])
        except (ValueError, KeyError, TypeError):
            logger.warning("report request unreadable", extra={"message_id": record.get("messageId")})
            failed += 1
            continue
        try:
            post_stats(request)
            done += 1
        except Exception as error:  # told to the librarian; the log names the error type only
            failed += 1
            logger.exception("report failed", extra={"error": type(error).__name__, "period": request.period})
            _tell_failure(request)
    if done:
        count("ReportsPosted", done)
    return {"posted": done, "failed": failed}


def _tell_failure(request: reports.ReportRequest) -> None:
    try:
        slack_api.tell(get_settings().slack_staff_channel, request.user_id,
                       "Sorry, the statistics could not be made just now; try `/refdesk stats` again later.")
    except Exception:  # nosec B110 - Slack itself failing: the error above is logged already
        logger.warning("could not tell the librarian the report failed")


def monthly_export(event: dict) -> dict:
    of = reports.month(event["month"]) if isinstance(event.get("month"), str) else reports.previous_month()
    result = reports.export_month(of)
    logger.info("monthly stats exported", extra=result)
    return result


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def _background(event: dict, context) -> dict:
    if "Records" in event:
        return stats_requests(event)
    return monthly_export(event)


def handler(event, context):
    if isinstance(event, dict) and ("Records" in event or event.get("source") == "aws.events" or "month" in event):
        return _background(event, context)
    return http_handler(event, context)
