"""Lambda's Invoke API (POST /2015-03-31/functions/{name}/invocations) for the local stack: the
handlers' boto3 Lambda client is pointed here (AWS_ENDPOINT_URL_LAMBDA) to wake the dispatcher
and to ask the reports function.

An asynchronous invocation (X-Amz-Invocation-Type: Event) is answered 202 at once and queued for
the function's own worker thread, which runs them one after another, as a single copy of the
function would. While one is waiting to run, another with the same payload adds nothing (it would
only find the queue drained). One that raises is retried once after `retry_seconds`, as Lambda
retries an asynchronous invocation. A synchronous one (RequestResponse) runs at once.

The tests use `recording=True` instead: invocations are only recorded (`invocations`), and the
test runs what it wants, when it wants (tests/conftest.py pump()). `faults` fails the next calls
with the HTTP status given (an unreachable or throttled Lambda)."""
from __future__ import annotations

import json
import queue
import threading
import traceback
from dataclasses import dataclass
from urllib.parse import unquote

from local.console import say
from local.faults import Fault, InjectedFaults
from local.servers import Request, Response, json_response

PREFIX = "/2015-03-31/functions/"
SUFFIX = "/invocations"


@dataclass(frozen=True)
class Invocation:
    function: str  # the template's logical id
    event: dict
    asynchronous: bool


class LambdaApi:
    def __init__(self, function_arns: dict[str, str], invoker=None, *, retry_seconds: float = 1.0):
        """function_arns: each function's ARN -> its logical id (Template.function_arns); invoker:
        runs a function's handler (local.handlers.Invoker); None records the invocations only."""
        # Invoke takes a function's name or its ARN.
        self._functions = {**function_arns, **{arn.rpartition(":function:")[2]: logical
                                               for arn, logical in function_arns.items()}}
        self._invoker = invoker
        self._retry_seconds = retry_seconds
        self.faults = InjectedFaults()
        self.invocations: list[Invocation] = []
        self._lock = threading.Lock()
        self._workers: dict[str, _Worker] = {}

    def __call__(self, request: Request) -> Response:
        served = request.path.startswith(PREFIX) and request.path.endswith(SUFFIX)
        name = unquote(request.path[len(PREFIX):-len(SUFFIX)]) if served else ""
        function = self._functions.get(name)
        if request.method != "POST" or function is None:
            return json_response(404, {"Type": "User", "message": f"Function not found: {name}"},
                                 [("X-Amzn-ErrorType", "ResourceNotFoundException")])
        fault = self.faults.take(function)
        if fault and not fault.commit:
            return _failure(fault)
        try:
            event = json.loads(request.body or b"{}")
        except ValueError:
            return json_response(400, {"message": "Could not parse request body into json"},
                                 [("X-Amzn-ErrorType", "InvalidRequestContentException")])
        asynchronous = request.header("x-amz-invocation-type") == "Event"
        with self._lock:
            self.invocations.append(Invocation(function, event, asynchronous))
        if self._invoker is None:
            answer = Response(202 if asynchronous else 200, b"" if asynchronous else b"null")
        elif asynchronous:
            self._worker(function).put(event)
            answer = Response(202)
        else:
            answer = json_response(200, self._invoker.invoke(function, event))
        return _failure(fault) if fault else answer  # with commit: taken, and only the answer lost

    def fail(self, function: str, status: int = 500, count: int = 1, commit: bool = False) -> None:
        """The next `count` invocations of `function` (a logical id) answer `status`; with `commit`,
        each is taken (recorded, or run) before it is answered with the failure."""
        self.faults.add(Fault(method=function, status=status, count=count, commit=commit))

    def asynchronous(self, function: str) -> list[dict]:
        """The events of the asynchronous invocations of `function` so far, in order."""
        with self._lock:
            return [call.event for call in self.invocations if call.function == function and call.asynchronous]

    def forget(self) -> None:
        with self._lock:
            self.invocations.clear()
        self.faults.clear()

    def stop(self) -> None:
        for worker in list(self._workers.values()):
            worker.stop()

    def _worker(self, function: str) -> "_Worker":
        with self._lock:
            if function not in self._workers:
                self._workers[function] = _Worker(function, self._invoker, self._retry_seconds)
            return self._workers[function]


def _failure(fault: Fault) -> Response:
    return json_response(fault.status or 500, {"message": "injected fault"}, [("X-Amzn-ErrorType", "ServiceException")])


class _Worker:
    """One function's asynchronous invocations, run one at a time in its own thread."""

    def __init__(self, function: str, invoker, retry_seconds: float):
        self._function = function
        self._invoker = invoker
        self._retry_seconds = retry_seconds
        self._events: queue.Queue = queue.Queue()
        self._waiting: list[str] = []  # the payloads queued and not yet started
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"lambda-{function}")
        self._thread.start()

    def put(self, event: dict, attempt: int = 0) -> None:
        key = json.dumps(event, sort_keys=True)
        with self._lock:
            if attempt == 0 and key in self._waiting:
                return
            self._waiting.append(key)
        self._events.put((key, event, attempt))

    def stop(self) -> None:
        self._stopping.set()
        self._events.put(None)
        self._thread.join()

    def _run(self) -> None:
        while not self._stopping.is_set():
            item = self._events.get()
            if item is None:
                return
            key, event, attempt = item
            with self._lock:
                self._waiting.remove(key)
            try:
                self._invoker.invoke(self._function, event)
            except Exception as error:
                say("lambda", f"{self._function} raised {type(error).__name__}"
                              f"{', retried' if attempt == 0 else ', given up'}")
                if attempt == 0:
                    traceback.print_exc()
                    timer = threading.Timer(self._retry_seconds, self.put, (event, attempt + 1))
                    timer.daemon = True
                    timer.start()
