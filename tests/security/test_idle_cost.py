"""What the stack costs doing nothing, and what a first deployment on a new account needs: at most
4 alarms and no dashboard with the default parameters, custom metrics only where an alarm or the
dashboard reads them (refdesk.observability.PUBLISHED), and parameters that refuse a malformed
value before anything is created. Prices (us-east-1): a standard alarm $0.10 a month per metric it
watches, a dashboard $3.00, a custom metric $0.30 in the hours it has data; the free tier gives 10
alarm metrics, 3 dashboards and 10 custom metrics."""
from __future__ import annotations

import json
import re

import pytest

from tests.security.cfn import deployed, deployed_resources, template

ALARM_METRIC_MONTHLY = 0.10
DASHBOARD_MONTHLY = 3.00


def _alarms(data: dict) -> dict[str, dict]:
    return {name: alarm["Properties"] for name, alarm in deployed_resources(data, "AWS::CloudWatch::Alarm").items()}


def _metrics_watched(alarm: dict) -> list[dict]:
    """The metrics an alarm is billed for: its one metric, or each MetricStat of its metric math."""
    if "MetricName" in alarm:
        return [{"Namespace": alarm["Namespace"], "MetricName": alarm["MetricName"],
                 "Dimensions": alarm.get("Dimensions", [])}]
    return [query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query]


def test_the_defaults_create_at_most_4_alarms_watching_5_metrics_and_no_dashboard():
    data = deployed()
    alarms = _alarms(data)
    assert set(alarms) == {"DeadLetterQueueAlarm", "OldestJobAlarm", "DeliveryFailureRateAlarm", "FunctionErrorsAlarm"}
    watched = [metric for alarm in alarms.values() for metric in _metrics_watched(alarm)]
    assert len(watched) <= 5
    assert round(len(watched) * ALARM_METRIC_MONTHLY, 2) <= 0.50  # and inside the free tier's 10
    assert not deployed_resources(data, "AWS::CloudWatch::CompositeAlarm", "AWS::CloudWatch::AnomalyDetector")
    assert all(alarm.get("Period", 300) >= 60 and "HighResolution" not in json.dumps(alarm) for alarm in alarms.values())
    assert not deployed_resources(data, "AWS::CloudWatch::Dashboard")


def test_the_dashboard_is_a_parameter_off_by_default():
    parameter = template()["Parameters"]["CreateDashboard"]
    assert parameter["Default"] == "false" and set(parameter["AllowedValues"]) == {"true", "false"}
    [dashboard] = deployed_resources(deployed(CreateDashboard="true"), "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Condition"] == "HasDashboard"
    assert len(_alarms(deployed(CreateDashboard="true"))) == len(_alarms(deployed()))  # no alarm depends on it


def _refdesk_metrics_read() -> set[str]:
    """The RefDesk metrics an alarm or the dashboard reads."""
    data = deployed(CreateDashboard="true")
    read = {metric["MetricName"] for alarm in _alarms(data).values() for metric in _metrics_watched(alarm)
            if metric["Namespace"] == "RefDesk"}
    [dashboard] = deployed_resources(data, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(re.sub(r"\$\{[^}]+\}", "0", dashboard["Properties"]["DashboardBody"]["Fn::Sub"]))
    for widget in body["widgets"]:
        previous = ["", ""]
        for row in widget.get("properties", {}).get("metrics", []):
            previous = [previous[index] if row[index] == "." else row[index] for index in (0, 1)]  # "." = as above
            if previous[0] == "RefDesk":
                read.add(previous[1])
    return read


def test_every_metric_an_alarm_or_the_dashboard_reads_is_published_and_nothing_else_is():
    from refdesk import observability

    read = _refdesk_metrics_read()
    from_log_filters = {metric_filter["Properties"]["MetricTransformations"][0]["MetricName"]
                        for metric_filter in deployed_resources(deployed(), "AWS::Logs::MetricFilter").values()}
    assert from_log_filters == {"FunctionErrors"}
    unpublished = read - from_log_filters - observability.PUBLISHED
    assert not unpublished, f"read by an alarm or the dashboard but never published: {unpublished}"
    assert observability.PUBLISHED == read - from_log_filters  # nothing published that nothing reads


@pytest.fixture
def printed(monkeypatch, capsys):
    """printed(call): calls it and returns what it printed, as (EMF lines, other JSON lines)."""
    import logging
    import sys

    from refdesk import observability

    observability.metrics.clear_metrics()

    def run(call) -> tuple[list[dict], list[dict]]:
        for handler in logging.getLogger(observability.logger.name).handlers:  # Powertools keeps the stdout it saw
            if isinstance(handler, logging.StreamHandler):
                monkeypatch.setattr(handler, "stream", sys.stdout)
        capsys.readouterr()
        call()
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        return [line for line in lines if "_aws" in line], [line for line in lines if "_aws" not in line]

    return run


def test_a_metric_nothing_reads_is_one_log_line_and_no_cloudwatch_metric(printed):
    from refdesk import observability

    def handler(event, context):
        observability.count("ChatSessionCreated")
        observability.count("ErasureRequested", channel="sms")
        observability.seconds("SomeDuration", 1.5)
        observability.count("MessagesRelayed")

    emf, logs = printed(lambda: observability.metrics.log_metrics(handler)({}, None))
    published = {metric["Name"] for line in emf for metric in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert published == {"MessagesRelayed"}
    logged = {line["metric"]: line for line in logs if line.get("message") == "metric"}
    assert set(logged) == {"ChatSessionCreated", "ErasureRequested", "SomeDuration"}
    assert logged["ErasureRequested"]["dimensions"] == {"channel": "sms"} and logged["SomeDuration"]["unit"] == "Seconds"


def test_a_handler_that_raises_logs_the_failure_line_with_the_error_type_only(printed):
    from refdesk import observability

    def handler(event, context):
        raise KeyError("+15551234567")

    def run():
        with pytest.raises(KeyError):
            observability.metrics.log_metrics(handler)({}, None)

    _, logs = printed(run)
    [failure] = [line for line in logs if line.get("message") == observability.UNHANDLED_ERROR]
    assert failure["level"] == "ERROR" and failure["error"] == "KeyError"
    assert "+15551234567" not in json.dumps(logs)


def test_a_handler_that_returns_logs_no_failure(printed):
    from refdesk import observability

    _, logs = printed(lambda: observability.metrics.log_metrics(lambda event, context: {"ok": True})({}, None))
    assert not [line for line in logs if line.get("message") == observability.UNHANDLED_ERROR]


# Parameters a new deployment must get right: a malformed value is refused before anything is made.

@pytest.mark.parametrize(("parameter", "good", "bad"), [
    ("SlackStaffChannel", ["C0STAFF01", "C0123456789", "G01ABCDEFGH"],
     ["", "#reference", "reference", "c0staff01", "C0STAFF", "D0123456789", "U0123456789", "C0STAFF01 ",
      "C0123456789ABCD", "https://library.slack.com/archives/C0123456789"]),
    ("TwilioFromNumber", ["+15005550006", "+15551234567", "+442071234567", "+3612345678"],
     ["", "15005550006", "+1 500 555 0006", "+1-500-555-0006", "(500) 555-0006", "+05005550006", "+1",
      "+1234567890123456", "+1500555000x"]),
])
def test_the_slack_channel_and_twilio_number_are_format_checked(parameter, good, bad):
    from local.environment import LOCAL_PARAMETER_VALUES
    from tests.conftest import PARAMETERS

    pattern = template()["Parameters"][parameter]["AllowedPattern"]
    assert template()["Parameters"][parameter].get("ConstraintDescription")
    for value in [*good, LOCAL_PARAMETER_VALUES[parameter], PARAMETERS[parameter]]:
        assert re.fullmatch(pattern, value), f"{parameter} refuses {value!r}"
    for value in bad:
        assert not re.fullmatch(pattern, value), f"{parameter} accepts {value!r}"


def test_switches_are_strings_with_two_values_off_by_default():
    parameters = template()["Parameters"]
    for name in ("ReserveConcurrency", "CreateDashboard", "ApiGatewayAccountLogging"):
        assert parameters[name]["Type"] == "String" and parameters[name]["Default"] == "false", name
        assert set(parameters[name]["AllowedValues"]) == {"true", "false"}, name
