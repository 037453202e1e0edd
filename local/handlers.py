"""Calls the real Lambda handlers in this process, the way the Lambda runtime would."""
from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
import uuid

from local.console import say
from local.template import ACCOUNT_ID, REGION, STACK_NAME, Function


class HandlerUnavailable(Exception):
    """The function's handler file does not exist (yet)."""


class LambdaContext:
    def __init__(self, function: Function):
        self.function_name = f"{STACK_NAME}-{function.name}"
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"
        self.memory_limit_in_mb = function.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = time.monotonic() + function.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Invoker:
    def __init__(self, functions: list[Function]):
        self.functions = {function.name: function for function in functions}
        self._handlers = {}
        self._lock = threading.Lock()

    def load(self, name: str):
        """The function's handler, imported now if it was not yet."""
        return self._handler(self.functions[name])

    def invoke(self, name: str, event: dict):
        function = self.functions[name]
        handler = self._handler(function)
        started = time.monotonic()
        result = handler(event, LambdaContext(function))
        elapsed = time.monotonic() - started
        if elapsed > function.timeout_s:
            say("lambda", f"{name} took {elapsed:.1f} s, over its {function.timeout_s} s timeout: "
                          "Lambda would have stopped it")
        # Lambda serialises the result: what JSON cannot carry (a DynamoDB Decimal) fails there too.
        return json.loads(json.dumps(result))

    def _handler(self, function: Function):
        # Imported on first use, so the stack starts while handlers are still being written;
        # a failed import is tried again on the next call.
        with self._lock:
            if function.name not in self._handlers:
                self._handlers[function.name] = _load(function)
            return self._handlers[function.name]


def _load(function: Function):
    module_path, _, attribute = function.handler.rpartition(".")
    path = function.code_dir / (module_path.replace(".", "/") + ".py")
    if not path.is_file():
        raise HandlerUnavailable(f"{function.name}: {path} does not exist")
    # Every function's module is called app: give each its own name.
    name = f"refdesk_local_{function.name}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # Lambda runs a function from its own folder, so app.py may import modules beside it.
    sys.path.insert(0, str(function.code_dir))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    finally:
        sys.path.remove(str(function.code_dir))
    return getattr(module, attribute)
