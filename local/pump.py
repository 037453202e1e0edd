"""Feeds a queue to its function the way Lambda's SQS event source mapping does."""
from __future__ import annotations

import base64
import threading
import time
import traceback

from local.console import say
from local.handlers import HandlerUnavailable
from local.template import QueueTrigger


class Pump:
    """Long-polls the queue, invokes the function with each batch and deletes what succeeded.
    Like Lambda, it leaves the visibility of the records the function reported failed alone:
    they come back when the function's own ChangeMessageVisibility (its backoff) or else the
    queue's visibility timeout says. A function that raised fails its whole batch; those jobs
    are made visible again after retry_delay seconds (Lambda waits the visibility timeout, but
    locally a crash is retried within seconds). Moving a job to the dead-letter queue after
    maxReceiveCount receives is the queue's own doing (moto does it as SQS does).

    Tests call drain() instead of start(): the same batches, in the caller's thread."""

    def __init__(self, sqs, function: str, trigger: QueueTrigger, queue_url: str, queue_arn: str,
                 invoker, retry_delay: float):
        self._sqs = sqs
        self._function = function
        self._trigger = trigger
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._invoker = invoker
        self._retry_delay = retry_delay
        self._retries: list[tuple[float, list[dict]]] = []  # (when, failed messages)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"pump-{function}")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._release_due_retries()
                self._poll()
            except Exception:
                if not self._stopping.is_set():
                    say("pump", f"{self._function}: polling failed:")
                    traceback.print_exc()
                    self._stopping.wait(1)

    def _poll(self) -> None:
        # A long poll is not woken when a failed job becomes visible again (in moto), so while
        # retries are pending the pump polls briefly instead.
        messages = self._receive(wait_seconds=0 if self._retries else 1)
        if messages:
            self._deliver(messages)
        elif self._retries:
            self._stopping.wait(0.05)

    def drain(self, max_batches: int = 200) -> list:
        """Delivers batches until the queue has no visible job (or max_batches were delivered);
        returns each invocation's result. A function that raises fails the drain: its jobs stay
        in flight."""
        results = []
        for _ in range(max_batches):
            messages = self._receive(wait_seconds=0)
            if not messages:
                break
            result, failed = self._invoke(messages)
            results.append(result)
            self._settle(messages, failed)
        return results

    def _receive(self, wait_seconds: int) -> list[dict]:
        return self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=min(self._trigger.batch_size, 10),
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def _release_due_retries(self) -> None:
        now = time.monotonic()
        due = [messages for when, messages in self._retries if when <= now]
        self._retries = [(when, messages) for when, messages in self._retries if when > now]
        for messages in due:
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._queue_url,
                Entries=[{**entry, "VisibilityTimeout": 0} for entry in _entries(messages)])

    def _deliver(self, messages: list[dict]) -> None:
        try:
            _, failed = self._invoke(messages)
        except HandlerUnavailable as missing:
            say("pump", str(missing))
            self._retry_after_crash(messages)
            return
        except Exception as error:
            say("pump", f"{self._function} raised {type(error).__name__}: the whole batch failed")
            # The first attempt shows the traceback; retries of the same jobs would repeat it.
            if any(message["Attributes"].get("ApproximateReceiveCount") == "1" for message in messages):
                traceback.print_exc()
            self._retry_after_crash(messages)
            return
        self._settle(messages, failed)
        retrying = f", {len(failed)} failed (retried when the function's backoff ends)" if failed else ""
        say("pump", f"{self._function}: {len(messages)} job(s){retrying}")

    def _retry_after_crash(self, messages: list[dict]) -> None:
        self._retries.append((time.monotonic() + self._retry_delay, messages))
        say("pump", f"{self._function}: {len(messages)} job(s) failed (retry in {self._retry_delay:g} s)")

    def _invoke(self, messages: list[dict]) -> tuple[object, set[str]]:
        """The function's result for this batch, and the ids of the jobs that failed."""
        result = self._invoker.invoke(self._function, {"Records": [self._record(m) for m in messages]})
        return result, self._failed_ids(result, [message["MessageId"] for message in messages])

    def _settle(self, messages: list[dict], failed: set[str]) -> None:
        """Deletes the jobs that succeeded; the failed ones are left as the function left them."""
        done = [message for message in messages if message["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=_entries(done))

    def _failed_ids(self, result, ids: list[str]) -> set[str]:
        if not self._trigger.report_failures or not isinstance(result, dict):
            return set()
        failed = {item.get("itemIdentifier") if isinstance(item, dict) else None
                  for item in result.get("batchItemFailures") or []}
        if not failed <= set(ids):
            say("pump", f"{self._function}: batchItemFailures names unknown ids {failed - set(ids)}; "
                        "Lambda treats that as the whole batch failing")
            return set(ids)
        return failed

    def _record(self, message: dict) -> dict:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {name: _lambda_attribute(value)
                                  for name, value in message.get("MessageAttributes", {}).items()},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self._queue_arn,
            "awsRegion": self._sqs.meta.region_name,
        }


def _entries(messages: list[dict]) -> list[dict]:
    return [{"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]} for index, message in enumerate(messages)]


def _lambda_attribute(value: dict) -> dict:
    """An SQS API message attribute in the shape Lambda's SQS event gives it."""
    attribute = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return attribute
