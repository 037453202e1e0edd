"""scripts/bench.py's monthly bill (issue 18) without the local stack: the idle column is read from
the template deployed with its default parameters (alarms and the metrics each watches, dashboards,
schedules, the queues Lambda polls for SQS triggers), so a copy of template.yaml with one more
alarm costs $0.10 more at idle; and the idle total is the one `make bench` prints."""
from __future__ import annotations

import re

import pytest

from scripts import bench
from tests.security.cfn import TEMPLATE_PATH, deployed, deployed_resources, deployed_setting, parameter_values

# A measured cost per 1,000 conversations, as bench.per_1000_for_the_bill shapes it.
PER_1000 = {"HTTP API": 0.012, "WebSocket API": 0.009, "Lambda": 0.015, "DynamoDB": 0.07, "SQS": 0.022,
            "S3": 0.0, "CloudFront": 0.0015, "CloudWatch Logs": 0.019,
            bench.CUSTOM_METRICS: {"MessagesRelayed (service=refdesk)": 1000.0,
                                   "ConversationOpened (channel=sms, service=refdesk)": 500.0}}

EXTRA_ALARM = """
  BenchExtraAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/SQS
      MetricName: ApproximateNumberOfMessagesVisible
      Dimensions: [{Name: QueueName, Value: !GetAtt JobsQueue.QueueName}]
      Statistic: Maximum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
"""


def _copy(tmp_path, *added: str, **replaced: str):
    """template.yaml copied with resources added at the top of Resources and text replaced."""
    text = TEMPLATE_PATH.read_text()
    for old, new in replaced.values():
        assert old in text
        text = text.replace(old, new, 1)
    text = text.replace("\nResources:\n", "\nResources:\n" + "".join(added), 1)
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return path


def _idle(bill: dict) -> dict[str, float]:
    return {service: values[0] for service, values in bill["rows"].items()}


@pytest.fixture(scope="module")
def today() -> dict:
    return bench.monthly_bill(None)


def test_without_a_measurement_the_bill_is_the_idle_column(today):
    assert today["volumes"] == (0,)
    assert set(today["rows"]) == set(bench.BILL_SERVICES)
    assert today["total"] == [pytest.approx(sum(_idle(today).values()))]
    assert _idle(today)["HTTP API"] == _idle(today)["WebSocket API"] == 0  # nothing is asked at idle


def test_alarms_dashboards_schedules_and_polled_queues_come_from_the_deployed_template(today):
    data = deployed()
    inventory = today["idle"]
    alarms = deployed_resources(data, "AWS::CloudWatch::Alarm")
    assert set(inventory["alarms"]) == set(alarms)
    watched = sum(1 if "MetricName" in alarm["Properties"] else
                  sum("MetricStat" in query for query in alarm["Properties"]["Metrics"]) for alarm in alarms.values())
    assert _idle(today)["CloudWatch alarms"] == pytest.approx(0.10 * watched)
    assert _idle(today)["CloudWatch dashboards"] == pytest.approx(
        3.00 * len(deployed_resources(data, "AWS::CloudWatch::Dashboard")))

    functions = deployed_resources(data, "AWS::Serverless::Function")
    scheduled = sorted(name for name, function in functions.items()
                       for event in function["Properties"].get("Events", {}).values()
                       if event["Type"] in ("Schedule", "ScheduleV2"))
    assert sorted(run["function"] for run in inventory["schedules"]) == scheduled
    for run in inventory["schedules"]:
        assert run["memory_mb"] == int(deployed_setting(data, functions[run["function"]], "MemorySize"))

    triggers = [event for function in functions.values()
                for event in function["Properties"].get("Events", {}).values() if event["Type"] == "SQS"]
    assert len(inventory["polled_queues"]) == len(triggers)
    polls = 5 * 3 * 60 * 730  # 5 pollers, a 20 s long poll each: 15 receives a minute, 730 hours
    fifo = sum(fifo for _, _, fifo in inventory["polled_queues"])
    assert _idle(today)["SQS"] == pytest.approx(polls * (fifo * 0.50 + (len(triggers) - fifo) * 0.40) / 1e6)


def test_one_more_alarm_costs_ten_cents_more_at_idle_and_one_off_by_default_nothing(tmp_path, today):
    extra = bench.monthly_bill(None, _copy(tmp_path, EXTRA_ALARM))
    assert extra["total"][0] - today["total"][0] == pytest.approx(0.10)
    assert extra["idle"]["alarms"]["BenchExtraAlarm"] == 1

    off = EXTRA_ALARM.replace("    Type: AWS::CloudWatch::Alarm\n", "    Type: AWS::CloudWatch::Alarm\n"
                              "    Condition: HasDashboard\n")
    assert bench.monthly_bill(None, _copy(tmp_path, off))["total"][0] == pytest.approx(today["total"][0])


def test_a_metric_math_alarm_is_billed_per_metric_and_a_dashboard_3_dollars(tmp_path, today):
    math_alarm = """
  BenchRateAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Metrics:
        - {Id: a, ReturnData: false, MetricStat: {Metric: {Namespace: RefDesk, MetricName: A}, Period: 300, Stat: Sum}}
        - {Id: b, ReturnData: false, MetricStat: {Metric: {Namespace: RefDesk, MetricName: B}, Period: 300, Stat: Sum}}
        - {Id: rate, Expression: a / b, ReturnData: true}
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanThreshold
"""
    dashboard = """
  BenchDashboard:
    Type: AWS::CloudWatch::Dashboard
    Properties:
      DashboardBody: '{"widgets": []}'
"""
    bill = bench.monthly_bill(None, _copy(tmp_path, math_alarm, dashboard))
    assert _idle(bill)["CloudWatch alarms"] - _idle(today)["CloudWatch alarms"] == pytest.approx(0.20)
    assert _idle(bill)["CloudWatch dashboards"] - _idle(today)["CloudWatch dashboards"] == pytest.approx(3.00)


def test_a_schedule_is_billed_by_its_runs_memory_duration_and_log_bytes(tmp_path, today):
    rule = """
  BenchReportsRule:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(5 minutes)
      Targets: [{Id: reports, Arn: !GetAtt ReportsFunction.Arn}]
"""
    bill = bench.monthly_bill(None, _copy(tmp_path, rule))
    [added] = [run for run in bill["idle"]["schedules"] if run["expression"] == "rate(5 minutes)"]
    assert added["function"] == "ReportsFunction" and added["runs"] == pytest.approx(8760)
    stated = bench.SCHEDULED_RUNS["ReportsFunction"]
    lambda_run = 0.20 / 1e6 + stated["seconds"] * added["memory_mb"] / 1024 * bench.PRICES[
        f"lambda_gb_second_{added['architecture']}"]
    assert _idle(bill)["Lambda"] - _idle(today)["Lambda"] == pytest.approx(8760 * lambda_run)
    logged = stated["log_bytes"] + 260 + (stated["log_events"] + 3) * 26
    assert _idle(bill)["CloudWatch Logs"] - _idle(today)["CloudWatch Logs"] == pytest.approx(8760 * logged / 1e9 * 0.50)
    reads, puts = stated["dynamodb_reads"] * 0.5 * 0.125 / 1e6, stated["s3_puts"] * 0.005 / 1000
    assert _idle(bill)["DynamoDB"] - _idle(today)["DynamoDB"] == pytest.approx(8760 * reads)
    kept_months = int(parameter_values()[stated["kept_days_parameter"]]) / (365 / 12)  # each run's CSVs, kept
    assert _idle(bill)["S3"] - _idle(today)["S3"] == pytest.approx(
        8760 * (puts + stated["s3_bytes"] * kept_months / 1e9 * 0.023))
    assert _idle(bill)["EventBridge"] == 0  # a scheduled rule's events are free


@pytest.mark.parametrize(("expression", "runs"), [
    ("rate(1 minute)", 43_800), ("rate(5 minutes)", 8_760), ("rate(1 hour)", 730), ("rate(2 days)", 730 / 48),
    ("cron(0 6 1 * ? *)", 1), ("cron(0 9 ? * MON-FRI *)", 261 / 12), ("cron(*/15 13-20 ? * 2-6 *)", 261 * 8 * 4 / 12),
    ("cron(0 12 ? * FRI-MON *)", 209 / 12), ("at(2026-12-07T15:00:00)", 0),
])
def test_schedule_expressions_become_runs_a_month(expression, runs):
    assert bench.schedule_runs(expression)[0] == pytest.approx(runs)


def test_custom_metrics_are_billed_for_the_open_hours_they_have_data(today):
    inventory = today["idle"]
    one = {"MessagesRelayed (service=refdesk)": 1000.0}
    few, many = (bench._custom_metric_dollars(inventory, one, n) for n in (10, 100_000))
    hours = inventory["open_hours"]
    assert few == pytest.approx(hours * (1 - (1 - 1 / hours) ** 10) / 730 * 0.30)  # nearly 10 hours of data
    assert many == pytest.approx(inventory["open_hours"] / 730 * 0.30, rel=0.001)  # every open hour, no more


def test_the_idle_column_does_not_depend_on_the_measurement_and_is_the_total_bench_prints(today):
    bill = bench.monthly_bill(PER_1000)
    assert bill["volumes"] == (0, 100, 5000)
    assert _idle(bill) == pytest.approx(_idle(today))
    assert bill["total"][0] == pytest.approx(today["total"][0])
    assert bill["total"][0] < bill["total"][1] < bill["total"][2]

    printed = []
    missed = bench.show_bill(PER_1000, {}, printed.append)
    [total] = [line for text in printed for line in text.splitlines() if line.startswith("| **total** |")]
    assert re.match(rf"\| \*\*total\*\* \| \*\*\${today['total'][0]:.2f}\*\* \(goal ≤ \$0\.50 [✅❌]\) \|", total)
    assert any(failure.startswith("idle bill") for failure in missed) == (today["total"][0] > 0.50)
