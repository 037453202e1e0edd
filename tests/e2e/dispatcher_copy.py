"""One more copy of the dispatcher beside a running local stack, in a process of its own as Lambda
runs each copy in a container of its own: nothing in memory is shared with the stack's copy or
any other (refdesk.slack.api's in-process token bucket included). The stack's own Lambda Invoke
API runs the dispatcher's invocations one at a time (local.lambda_api), so a test that needs
copies draining at once starts these.

Its environment is made as local.devstack makes the handlers', for the stack's resources (found,
not made again, in the stack's moto) and stand-ins. It writes "ready" once the dispatcher is
loaded, waits for a line on stdin, invokes the dispatcher once, as one wake-up would (one drain of
the jobs queue), and writes what the handler returned as JSON. Its logs go to stderr.

    python -m tests.e2e.dispatcher_copy PORT    (the stack's port; the stack's settings in the environment)"""
from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

from local import environment
from local.aws import LocalAws
from local.handlers import Invoker
from local.template import Template

ROOT = Path(__file__).resolve().parents[2]
DISPATCHER = "DispatcherFunction"
READY = "ready"


def main(port: int) -> None:
    answers, sys.stdout = sys.stdout, sys.stderr  # the handler's logs (Powertools writes to stdout) apart
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(f"http://127.0.0.1:{port}/_local/api/config", timeout=30) as answer:
        config = json.load(answer)
    template = Template(ROOT / "template.yaml", environment.LOCAL_PARAMETER_VALUES)
    aws = LocalAws(template, config["aws_endpoint_url"])
    resolve = template.resolver(aws.refs, aws.attributes)
    os.environ.update(SLACK_API_URL=config["slack_api_url"], TWILIO_API_URL=config["twilio_api_url"],
                      AWS_ENDPOINT_URL_LAMBDA=config["lambda_endpoint_url"])
    environment.apply(resolve(template.environment()), environment.local_values(port))
    sys.path[:0] = [str(path) for path in template.layer_dirs()]
    invoker = Invoker(template.functions())
    invoker.load(DISPATCHER)
    print(READY, file=answers, flush=True)
    sys.stdin.readline()
    print(json.dumps(invoker.invoke(DISPATCHER, {})), file=answers, flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
