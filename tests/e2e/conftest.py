"""Fixtures for end-to-end tests against the local stack (`python -m local.devstack`).

`stack` is one stack for the whole session; `start_devstack(**env)` starts more, for a module:
each is stopped (in the background) when the module's tests are done. Each stack's output goes to
test-output/devstack-<port>.log.

The session's stack is stopped too once this process runs a test of a later tier (tests/conftest.py
hands out the end-to-end and browser files first, so a worker that moved on gets none of them
again): an idle stack still polls its schedules, and its CPU is the other files' time. Should a
test ask for it after all, it is started again first (on a new port)."""
from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import urllib.parse
import uuid

import pytest
import requests

from local.environment import LOCAL_PARAMETER_VALUES, LOCAL_SECRETS, local_values
from local.servers import stop_process
from local.signing import twilio_signature_header
from local.template import Template

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / "test-output"
READY_TIMEOUT = 60


class Stack:
    def __init__(self, process: subprocess.Popen, port: int, log_path: Path, env: dict[str, str]):
        self.process = process
        self.env = env
        self.parked = False  # stopped by park_session_stack(), to be started again if asked for
        self.twilio_auth_token = env.get("TWILIO_AUTH_TOKEN", LOCAL_SECRETS["TWILIO_AUTH_TOKEN"])
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.http = requests.Session()
        self.http.trust_env = False  # straight to 127.0.0.1, whatever proxy the shell names

    @classmethod
    def start(cls, env: dict[str, str]) -> "Stack":
        port = _free_port()
        LOG_DIR.mkdir(exist_ok=True)
        log_path = LOG_DIR / f"devstack-{port}.log"
        environment = {**_inherited_environment(), "PORT": str(port), "LOCAL_RETRY_DELAY": "0.2",
                       "PYTHONUNBUFFERED": "1", **env}
        with log_path.open("wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "local.devstack"], cwd=ROOT, env=environment,
                                       stdout=log, stderr=subprocess.STDOUT)
        stack = cls(process, port, log_path, env)
        stack._wait_ready()
        return stack

    def url(self, path: str) -> str:
        return self.base_url + path

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.http.get(self.url(path), **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.http.post(self.url(path), **kwargs)

    def get_json(self, path: str, **params):
        response = self.get(path, params=params)
        assert response.ok, f"GET {path} -> {response.status_code} {response.text}"
        return response.json()

    def post_json(self, path: str, payload: dict | None = None):
        response = self.post(path, json=payload or {})
        assert response.ok, f"POST {path} -> {response.status_code} {response.text}"
        return response.json()

    def text_in(self, number: str, body: str, *, sid: str = "", **fields: str) -> requests.Response:
        """A text from `number` to the library's number, posted to /sms/inbound as Twilio posts
        and signs it (the same `sid` again is Twilio's retry); `fields` adds or replaces any."""
        sid = sid or "SM" + uuid.uuid4().hex
        params = {"ToCountry": "US", "NumMedia": "0", "Body": body, "To": self.config["twilio_from_number"],
                  "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": LOCAL_SECRETS["TWILIO_ACCOUNT_SID"],
                  "From": number, "ApiVersion": "2010-04-01", **fields}
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   **twilio_signature_header(self.twilio_auth_token, self.config["public_base_url"] + "/sms/inbound",
                                             params)}
        return self.post("/sms/inbound", data=urllib.parse.urlencode(params), headers=headers)

    @functools.cached_property
    def config(self) -> dict:
        """URLs and names of this stack (GET /_local/api/config)."""
        return self.get_json("/_local/api/config")

    def reset(self) -> None:
        """Clears what the stand-ins recorded and any injected faults (not the database)."""
        self.post_json("/_local/api/reset")

    def wait_until(self, predicate, timeout: float = 10.0, interval: float = 0.1, message: str = "the condition"):
        """Polls predicate until it returns something truthy, and returns that."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {message}; "
                                     f"the stack's latest output:\n{self.output()[-4000:]}")
            time.sleep(interval)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """Stops the stack as Ctrl-C or SIGTERM would; returns its exit status."""
        return stop_process(self.process)

    def restart(self) -> None:
        """This stack started again, as a new local.devstack with the same settings (a new port)."""
        fresh = Stack.start(self.env)
        self.__dict__.clear()  # the cached config too: its URLs name the old port
        self.__dict__.update(fresh.__dict__)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"local.devstack exited with status {self.process.returncode}:\n{self.output()}")
            try:
                if self.get("/health", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"local.devstack was not healthy within {READY_TIMEOUT} s:\n{self.output()}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _inherited_environment() -> dict[str, str]:
    """The test runner's environment minus everything that configures the stack, so that a
    developer's exported settings (a real token, an AWS endpoint) cannot leak into the tests."""
    template = Template(ROOT / "template.yaml", LOCAL_PARAMETER_VALUES)
    configured = {*template.environment(), *local_values(0), "PORT", "LOCAL_RETRY_DELAY", "SLACK_API_URL",
                  "TWILIO_API_URL", "LIVE_PORT", "LIVE_LOSE_DISCONNECTS"}
    return {name: value for name, value in os.environ.items()
            if name not in configured and not name.startswith("AWS_")}


def pytest_collection_modifyitems(items):
    """Tests that start a stack are slow: -m "not slow" leaves them out."""
    for item in items:
        if {"stack", "start_devstack"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def start_devstack():
    """start(**env) -> Stack: another stack, with these environment variables, for this module.
    Each is stopped once the module's tests are done, in a thread of its own that the end of the
    session waits for (a non-daemon thread): an idle stack still polls its schedules, and its CPU
    is the other files' time. (No fixture of its own: tests/browser imports this one.)"""
    mine: list[Stack] = []

    def start(**env: str) -> Stack:
        stack = Stack.start(env)
        mine.append(stack)
        return stack

    yield start
    for stack in mine:  # each takes a few seconds to shut down: not in the next module's time
        threading.Thread(target=stack.stop, name=f"stop-devstack-{stack.port}").start()


_session_stack: Stack | None = None  # the session's `stack`, once a test asked for it


@pytest.fixture(scope="session")
def stack() -> Stack:
    global _session_stack
    stack = _session_stack = Stack.start({})
    yield stack
    _session_stack = None
    if not stack.parked:
        stack.stop()


def park_session_stack() -> None:
    """Stops the session's stack, in the background (a non-daemon thread, as start_devstack's):
    tests/conftest.py calls this when this process starts a test of a tier after browser."""
    stack = _session_stack
    if stack is not None and not stack.parked:
        stack.parked = True
        threading.Thread(target=stack.stop, name=f"stop-devstack-{stack.port}").start()


def pytest_runtest_setup(item):
    """A test that asks for the session's stack after it was parked gets it started again."""
    stack = _session_stack
    if stack is not None and stack.parked and "stack" in getattr(item, "fixturenames", ()):
        stack.restart()
