"""Logger, Metrics and Tracer, set up once for every function. The service name comes from
POWERTOOLS_SERVICE_NAME (template.yaml); modules of the layer log through child loggers
(`Logger(child=True)`), which write through this one.

The Tracer is made on first use (`from refdesk.observability import tracer`): importing the
X-Ray SDK costs about as much cold-start time as boto3 itself, so only the dispatcher, whose
outbound calls to Slack and Twilio are worth tracing, pays for it."""
from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

NAMESPACE = "RefDesk"

logger = Logger()
metrics = Metrics(namespace=NAMESPACE)


def __getattr__(name: str):
    if name == "tracer":
        from aws_lambda_powertools import Tracer

        globals()["tracer"] = Tracer()
        return globals()["tracer"]
    raise AttributeError(name)
