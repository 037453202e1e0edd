"""Logger, Metrics and Tracer, set up once for every function. The service name comes from
POWERTOOLS_SERVICE_NAME (template.yaml); modules of the layer log through child loggers
(`Logger(child=True)`), which write through this one.

Handlers wear `@logger.inject_lambda_context` and `@metrics.log_metrics`; metrics are added with
`count(name, **dimensions)` (or `seconds(name, value)` for a duration), only where a handler knows something happened (never with patron
data as a dimension). An invocation that added none publishes nothing and warns about nothing.

Handlers of the HTTP API get both through `refdesk.http.lambda_handler`.

Tracing is opt-in: `traced(handler)` wraps a handler with the Tracer only when tracing is on
(POWERTOOLS_TRACE_DISABLED is not "true"; template.yaml says how to turn it on). Importing the
X-Ray SDK costs about as much cold-start time as boto3 itself, so with tracing off nothing
imports it; with it on, only the dispatcher, whose outbound calls to Slack and Twilio are worth
tracing, pays for it."""
from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

NAMESPACE = "RefDesk"


class _QuietWhenEmpty(AmazonCloudWatchEMFProvider):
    """Powertools warns (UserWarning) on every flush without metrics; most requests add none."""

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if self.metric_set or raise_on_empty_metrics:
            super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)
        else:
            self.clear_metrics()  # a dimension added without a metric must not leak into the next call


logger = Logger()
metrics = Metrics(namespace=NAMESPACE, provider=_QuietWhenEmpty(namespace=NAMESPACE))


def count(name: str, value: int = 1, **dimensions: str) -> None:
    """Adds a Count metric to this invocation's flush. One with dimensions is written on its own
    (single_metric): in the shared flush its dimensions would file every other metric of the
    invocation under them too."""
    if not dimensions:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE,
                       default_dimensions=metrics.default_dimensions) as metric:
        for dimension, dimension_value in dimensions.items():
            metric.add_dimension(name=dimension, value=dimension_value)


def seconds(name: str, value: float) -> None:
    """Adds a Seconds metric (a duration, an age) to this invocation's flush."""
    metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)


def traced(handler):
    """The handler, traced when tracing is on. Neither its response nor its errors go into the
    trace: both can quote a patron's number."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() == "true":
        return handler
    from aws_lambda_powertools import Tracer

    return Tracer().capture_lambda_handler(handler, capture_response=False, capture_error=False)
