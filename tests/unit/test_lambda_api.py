"""The local stack's Lambda Invoke API (local.lambda_api), through boto3's own Lambda client: how
the handlers wake the dispatcher and ask the reports function in `make dev`."""
from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.lambda_api import LambdaApi
from local.servers import Server

ARN = "arn:aws:lambda:us-east-1:123456789012:function:refdesk-local-dispatcher"


class SlowInvoker:
    """Runs "functions" that take `seconds` each, recording (function, event); "raise" raises."""

    def __init__(self, seconds: float = 0.0):
        self.seconds = seconds
        self.runs: list[tuple[str, dict]] = []
        self.started = threading.Event()

    def invoke(self, function: str, event: dict):
        self.started.set()
        time.sleep(self.seconds)
        self.runs.append((function, event))
        if event.get("raise"):
            raise RuntimeError("crashed")
        return {"ran": len(self.runs)}


@pytest.fixture
def served():
    started = []

    def serve(invoker=None, retry_seconds: float = 0.05):
        api = LambdaApi({ARN: "DispatcherFunction"}, invoker, retry_seconds=retry_seconds)
        server = Server(api)
        started.append((api, server))
        client = boto3.client("lambda", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}))
        return api, client

    yield serve
    for api, server in started:
        server.stop()
        api.stop()


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_an_asynchronous_invocation_is_accepted_at_once_and_runs_once_by_name_or_arn(served):
    invoker = SlowInvoker()
    _, client = served(invoker)

    for name in (ARN, "refdesk-local-dispatcher"):
        answer = client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": name}).encode())
        assert answer["StatusCode"] == 202

    wait_for(lambda: len(invoker.runs) == 2)
    assert invoker.runs == [("DispatcherFunction", {"n": ARN}), ("DispatcherFunction", {"n": "refdesk-local-dispatcher"})]


def test_wake_ups_while_one_waits_to_run_add_nothing_and_one_runs_after_the_running_one(served):
    invoker = SlowInvoker(seconds=0.3)
    _, client = served(invoker)

    client.invoke(FunctionName=ARN, InvocationType="Event", Payload=b"{}")
    invoker.started.wait(2)  # the first is running: the next one waits for it
    for _ in range(5):
        client.invoke(FunctionName=ARN, InvocationType="Event", Payload=b"{}")

    wait_for(lambda: len(invoker.runs) == 2)
    time.sleep(0.5)
    assert len(invoker.runs) == 2  # one at a time, as one copy of the function


def test_a_failed_asynchronous_invocation_is_retried_once(served):
    invoker = SlowInvoker()
    _, client = served(invoker)

    client.invoke(FunctionName=ARN, InvocationType="Event", Payload=json.dumps({"raise": True}).encode())

    wait_for(lambda: len(invoker.runs) == 2)
    time.sleep(0.2)
    assert len(invoker.runs) == 2


def test_a_synchronous_invocation_answers_the_result(served):
    _, client = served(SlowInvoker())

    answer = client.invoke(FunctionName=ARN, Payload=b"{}")

    assert answer["StatusCode"] == 200 and json.loads(answer["Payload"].read()) == {"ran": 1}


def test_an_unknown_function_and_an_injected_fault_fail_as_lambda_does(served):
    api, client = served()

    with pytest.raises(ClientError) as unknown:
        client.invoke(FunctionName="refdesk-local-nothing", InvocationType="Event", Payload=b"{}")
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"

    api.fail("DispatcherFunction", status=503)
    with pytest.raises(ClientError):
        client.invoke(FunctionName=ARN, InvocationType="Event", Payload=b"{}")
    client.invoke(FunctionName=ARN, InvocationType="Event", Payload=b"{}")
    assert len(api.asynchronous("DispatcherFunction")) == 1  # recorded only (no invoker): the one that passed
