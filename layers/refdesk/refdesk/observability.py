"""Logger, Metrics and Tracer, set up once for every function. The service name comes from
POWERTOOLS_SERVICE_NAME (template.yaml); modules of the layer log through child loggers
(`Logger(child=True)`), which write through this one.

Handlers wear `@logger.inject_lambda_context` and `@metrics.log_metrics`; metrics are added with
`count(name, **dimensions)` (or `seconds(name, value)` for a duration), only where a handler knows something happened (never with patron
data as a dimension). An invocation that added none publishes nothing and warns about nothing.

Handlers of the HTTP API get both through `refdesk.http.lambda_handler`.

A custom metric costs $0.30 a month (beyond CloudWatch's free 10) in every hour it has data, so
only the metrics an alarm or the dashboard reads are published (`PUBLISHED`; tests/security
checks the template against it). Any other `count`/`seconds` is one structured log line,
"metric", with its name, value, unit and dimensions: Logs Insights can still add them up.

`metrics.log_metrics` also logs "unhandled error" (at ERROR, with the error's type and never its
text, which can quote a patron) when the handler raises: template.yaml's metric filters count
those lines, with Lambda's own timeout and start-up failure lines, into the one metric
FunctionErrors that FunctionErrorsAlarm watches.

Tracing is opt-in: `traced(handler)` wraps a handler with the Tracer only when tracing is on
(POWERTOOLS_TRACE_DISABLED is not "true"; template.yaml says how to turn it on). Importing the
X-Ray SDK costs about as much cold-start time as boto3 itself, so with tracing off nothing
imports it; with it on, only the dispatcher, whose outbound calls to Slack and Twilio are worth
tracing, pays for it."""
from __future__ import annotations

import functools
import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

NAMESPACE = "RefDesk"
# Read by an alarm (template.yaml's DeliveryFailureRateAlarm).
ALARMED = frozenset({"JobFailed"})
# Read by the dashboard (template.yaml's Dashboard, with CreateDashboard "true"). Published
# whether or not it exists, so that it has a history when turned on: with ALARMED, 7 metrics (3
# channels of ConversationOpened), inside the free tier's 10.
ON_DASHBOARD = frozenset({"ConversationOpened", "MessagesRelayed", "DeliveryFailures", "FirstResponseTime"})
PUBLISHED = ALARMED | ON_DASHBOARD
# The line template.yaml's metric filters count as a failure (FunctionErrors).
UNHANDLED_ERROR = "unhandled error"


class _QuietWhenEmpty(AmazonCloudWatchEMFProvider):
    """Powertools warns (UserWarning) on every flush without metrics; most requests add none."""

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if self.metric_set or raise_on_empty_metrics:
            super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)
        else:
            self.clear_metrics()  # a dimension added without a metric must not leak into the next call

    def log_metrics(self, lambda_handler=None, capture_cold_start_metric: bool = False,
                    raise_on_empty_metrics: bool = False, **kwargs):
        """Powertools' decorator, which flushes whether or not the handler raised, around a handler
        that logs UNHANDLED_ERROR when it raises."""
        if lambda_handler is None:
            return functools.partial(self.log_metrics, capture_cold_start_metric=capture_cold_start_metric,
                                     raise_on_empty_metrics=raise_on_empty_metrics, **kwargs)

        @functools.wraps(lambda_handler)
        def logging_failures(event, context, *args, **more):
            try:
                return lambda_handler(event, context, *args, **more)
            except Exception as error:
                logger.error(UNHANDLED_ERROR, extra={"error": type(error).__name__})
                raise

        return super().log_metrics(logging_failures, capture_cold_start_metric=capture_cold_start_metric,
                                   raise_on_empty_metrics=raise_on_empty_metrics, **kwargs)


logger = Logger()
metrics = Metrics(namespace=NAMESPACE, provider=_QuietWhenEmpty(namespace=NAMESPACE))


def _logged_only(name: str, value: float, unit: str, dimensions: dict) -> bool:
    """A metric nothing reads is a log line, not a CloudWatch metric (see PUBLISHED)."""
    if name in PUBLISHED:
        return False
    logger.info("metric", extra={"metric": name, "value": value, "unit": unit,
                                 **({"dimensions": dimensions} if dimensions else {})})
    return True


def count(name: str, value: int = 1, **dimensions: str) -> None:
    """Adds a Count metric to this invocation's flush (a log line if it is not PUBLISHED). One with
    dimensions is written on its own (single_metric): in the shared flush its dimensions would file
    every other metric of the invocation under them too."""
    if _logged_only(name, value, "Count", dimensions):
        return
    if not dimensions:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE,
                       default_dimensions=metrics.default_dimensions) as metric:
        for dimension, dimension_value in dimensions.items():
            metric.add_dimension(name=dimension, value=dimension_value)


def seconds(name: str, value: float) -> None:
    """Adds a Seconds metric (a duration, an age) to this invocation's flush (a log line if it is not
    PUBLISHED)."""
    if _logged_only(name, value, "Seconds", {}):
        return
    metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)


def traced(handler):
    """The handler, traced when tracing is on. Neither its response nor its errors go into the
    trace: both can quote a patron's number."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() == "true":
        return handler
    from aws_lambda_powertools import Tracer

    return Tracer().capture_lambda_handler(handler, capture_response=False, capture_error=False)
