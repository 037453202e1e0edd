"""`make load`: a bounded load test of the local stack, on loopback only, that stops by itself.

Starts `python -m local.devstack` on a free port, then PATRONS patrons (half texting, half in the
web chat, each from its own loopback address 127.0.0.x so per-address limits hold) send MESSAGES
messages each, concurrently, each waiting for the webhook's answer before sending the next.
Then it waits until the staff channel shows every message and checks: none lost, none
duplicated, order kept per patron. It prints throughput, webhook latency p50/p99 and the
stack's peak resident memory, and exits non-zero when a check fails.

    python scripts/load.py [--patrons 200] [--messages 5] [--deadline 300]"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.environment import LOCAL_PARAMETER_VALUES, LOCAL_SECRETS  # noqa: E402
from local.signing import twilio_signature_header  # noqa: E402

HOST = "127.0.0.1"
LOAD_TEXT = re.compile(r"load patron \d{4} message \d+")
FORM = "application/x-www-form-urlencoded"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Stack:
    """The local stack in a child process, its output kept in a log file."""

    def __init__(self, port: int, log: Path):
        env = {**os.environ, "PORT": str(port), "LOCAL_RETRY_DELAY": "0.5", "PYTHONUNBUFFERED": "1"}
        for name in ("AWS_ENDPOINT_URL", "SLACK_API_URL", "TWILIO_API_URL"):
            env.pop(name, None)  # embedded stand-ins only: nothing leaves this machine
        self.log = log.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "local.devstack"], cwd=ROOT, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.port = port
        self.peak_rss_kib = 0

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the local stack exited early; see {self.log.name}")
            try:
                if request(self.port, "GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("the local stack did not become ready")

    def sample_rss(self) -> None:
        status = Path(f"/proc/{self.process.pid}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.peak_rss_kib = max(self.peak_rss_kib, int(line.split()[1]))

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def request(port: int, method: str, path: str, body: str = "", headers: dict | None = None,
            source: str = HOST) -> tuple[int, str]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30, source_address=(source, 0))
    try:
        connection.request(method, path, body=body.encode() if body else None, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


class Patron:
    def __init__(self, index: int, port: int, messages: int):
        self.index = index
        self.port = port
        self.texts = [f"load patron {index:04d} message {n}" for n in range(messages)]
        self.source = f"127.0.{1 + index // 250}.{1 + index % 250}"
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def timed(self, method: str, path: str, body: str, headers: dict) -> tuple[int, str]:
        started = time.perf_counter()
        try:
            status, text = request(self.port, method, path, body, headers, self.source)
        except OSError as error:  # refused or reset: the stack could not take the request
            status, text = 0, type(error).__name__
        self.latencies.append(time.perf_counter() - started)
        return status, text


class SmsPatron(Patron):
    def run(self) -> None:
        number = f"+1555{self.index:07d}"
        url = f"http://{HOST}:{self.port}/sms/inbound"
        for text in self.texts:
            sid = "SM" + secrets.token_hex(16)
            params = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": LOCAL_SECRETS["TWILIO_ACCOUNT_SID"],
                      "From": number, "To": LOCAL_PARAMETER_VALUES["TwilioFromNumber"], "Body": text,
                      "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01"}
            headers = {"Content-Type": FORM,
                       **twilio_signature_header(LOCAL_SECRETS["TWILIO_AUTH_TOKEN"], url, params)}
            status, _ = self.timed("POST", "/sms/inbound", urlencode(params), headers)
            if status != 200:
                self.errors.append(f"sms webhook answered {status}")


class WebPatron(Patron):
    def run(self) -> None:
        origin = {"Origin": f"http://{HOST}:{self.port}", "Content-Type": "application/json"}
        status, body = self.timed("POST", "/chat/sessions", "{}", origin)
        if status != 201:
            self.errors.append(f"session answered {status}")
            return
        session = json.loads(body)
        headers = {**origin, "Authorization": f"Bearer {session['token']}"}
        for n, text in enumerate(self.texts):
            status, _ = self.timed("POST", f"/chat/sessions/{session['session_id']}/messages",
                                   json.dumps({"text": text, "client_id": f"load-{self.index}-{n}"}), headers)
            if status != 201:
                self.errors.append(f"chat send answered {status}")


def staff_view(port: int) -> dict[str, list[str]]:
    """Thread root ts -> the load texts shown in that thread, in channel order."""
    _, body = request(port, "GET", "/_local/api/slack/messages")
    threads: dict[str, list[str]] = {}
    for message in json.loads(body)["messages"]:
        # A card holds its question twice (fallback text and blocks): once per Slack message.
        texts = sorted(set(LOAD_TEXT.findall(json.dumps(message.get("blocks") or []) + message.get("text", ""))))
        if texts:
            threads.setdefault(message["thread_ts"] or message["ts"], []).extend(texts)
    return threads


def check(patrons: list[Patron], threads: dict[str, list[str]]) -> tuple[int, int, int]:
    """(lost, duplicated, out of order) over every patron's messages."""
    seen: dict[int, list[str]] = {}
    for texts in threads.values():
        for text in texts:
            seen.setdefault(int(text.split()[2]), []).append(text)
    lost = duplicated = disordered = 0
    for patron in patrons:
        shown = seen.get(patron.index, [])
        lost += len(set(patron.texts) - set(shown))
        duplicated += len(shown) - len(set(shown))
        disordered += int([t for t in shown if t in patron.texts] != [t for t in patron.texts if t in shown])
    return lost, duplicated, disordered


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patrons", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--deadline", type=float, default=300, help="seconds before the run gives up")
    options = parser.parse_args()
    started = time.monotonic()
    port = free_port()
    stack = Stack(port, ROOT / "test-output" / "load-stack.log")
    (ROOT / "test-output").mkdir(exist_ok=True)
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.5):
            stack.sample_rss()

    try:
        stack.wait_ready(60)
        request(port, "POST", "/_local/api/slack/command", json.dumps({"text": "on", "user": "U0AMANDA"}),
                {"Content-Type": "application/json"})
        threading.Thread(target=sample, daemon=True).start()
        patrons = [(SmsPatron if n % 2 == 0 else WebPatron)(n, port, options.messages)
                   for n in range(options.patrons)]
        total = options.patrons * options.messages
        sending = time.monotonic()
        with ThreadPoolExecutor(max_workers=options.patrons) as pool:
            list(pool.map(lambda patron: patron.run(), patrons))
        sent_in = time.monotonic() - sending
        lost, duplicated, disordered = total, 0, 0
        while time.monotonic() - started < options.deadline:
            lost, duplicated, disordered = check(patrons, staff_view(port))
            if not lost:
                break
            time.sleep(1)
        delivered_in = time.monotonic() - sending
        latencies = [value for patron in patrons for value in patron.latencies]
        errors = [error for patron in patrons for error in patron.errors]
    finally:
        sampling.set()
        stack.stop()
    print(f"patrons {options.patrons} (half SMS, half web chat), {options.messages} messages each: {total} messages")
    print(f"webhooks: {len(latencies)} requests in {sent_in:.1f} s = {len(latencies) / sent_in:.0f} req/s; "
          f"p50 {percentile(latencies, 0.5) * 1000:.0f} ms, p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
          f"mean {statistics.fmean(latencies) * 1000:.0f} ms")
    print(f"all shown to staff after {delivered_in:.1f} s = {total / delivered_in:.0f} messages/s end to end")
    print(f"lost {lost}, duplicated {duplicated}, patrons out of order {disordered}, request errors {len(errors)}")
    print(f"local stack peak RSS {stack.peak_rss_kib / 1024:.0f} MiB")
    return 0 if not (lost or duplicated or disordered or errors) else 1


if __name__ == "__main__":
    sys.exit(main())
