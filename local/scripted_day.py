"""A scripted day at the desk, run against a local stack over HTTP (its control API, the widget's
API), and the figures `/refdesk stats` must show for it: tests/e2e/test_scripted_day_stats_e2e.py
checks them, and `make bench` prints the check.

Every wait is known because both of its ends are scripted: a Slack Connect patron's message
carries the time Slack gives it (RefDesk times the wait from it) and the librarian's reply or
quick reply is given its time too (the control API's `ts` and `action_ts`). The day starts
START_AGO seconds ago: a Slack Connect send time is trusted up to 10 minutes back."""
from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

START_AGO = 8 * 60
STAFF_CHANNEL_KEY = "slack_staff_channel"
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Scripted:
    """One conversation: who asks where, `starts` seconds into the day; answered `wait` seconds
    later by `by` (a reply, or a quick reply), or not at all; then how it ends."""

    channel: str  # slack_connect, sms, web
    patron: str  # a partner member's Slack id, a phone number, or "" (a web visitor)
    starts: int
    wait: int | None = None
    by: str = ""
    quick_reply: bool = False
    transfer_to: str = ""  # after the answer, `by` hands it to this librarian
    rating: int = 0  # the patron's rating after the close (Slack Connect's buttons, an SMS digit)
    comment: str = ""  # with the rating (Slack Connect: "Add a comment", its modal)
    erased: bool = False  # the patron deletes it instead of anyone closing it


SCRIPT = (
    Scripted("slack_connect", "U0PARTNER1", 0, wait=12, by="U0AMANDA", rating=5,
             comment="Quick and kind, thank you!"),
    Scripted("slack_connect", "U0PARTNER2", 30, wait=45, by="U0BEN", rating=4),
    Scripted("slack_connect", "U0PARTNER1", 60, wait=95, by="U0AMANDA", quick_reply=True),
    Scripted("slack_connect", "U0PARTNER2", 120, wait=20, by="U0BEN", transfer_to="U0AMANDA"),
    Scripted("sms", "+15558880101", 0, by="U0AMANDA", rating=3),  # closed without an answer, rated by a digit
    Scripted("web", "", 0, erased=True),  # the patron left (deleted it) before an answer
)
# What the script implies, as `/refdesk stats` words it. Waits 12, 20, 45, 95 s: the median is the
# 2nd of 4 (20 s), the 90th percentile the 4th (95 s). Amanda answered 2 (first responses 12 and
# 95 s: median 12 s) and got one transfer; Ben answered 2 (20 and 45 s: median 20 s) and gave it.
# Ratings 5 (with a comment), 4 and 3: 4.00 on average.
EXPECTED = (
    "Conversations: 6 (SMS 1, Web chat 1, Slack Connect 4); live 6, follow-ups 0",
    "Answered 4, unanswered 1, abandoned 1",
    "Patrons: 4 new, 2 repeat (33% repeat)",
    "First response, live chats in opening hours: median 20 s, 90% within 1 min 35 s (4 answered)",
    "First response, live chats begun after hours: none answered",
    "First response, follow-ups: none answered",
    "Average wait to a first response: 43 s (4 answered)",
    "Ratings: 5★ 1 · 4★ 1 · 3★ 1 · 2★ 0 · 1★ 0 (average 4.00 from 3); 1 comment",
    "<@U0AMANDA>: answered 2, median first response 12 s, transfers in 1 / out 0",
    "<@U0BEN>: answered 2, median first response 20 s, transfers in 0 / out 1",
)


def scripted_day() -> tuple[Scripted, ...]:
    return SCRIPT


def expected_lines(script: tuple[Scripted, ...]) -> tuple[str, ...]:
    if script != SCRIPT:
        raise ValueError("EXPECTED holds the figures of SCRIPT only")
    return EXPECTED


class _Desk:
    def __init__(self, base_url: str):
        self.base = base_url.rstrip("/")
        self.config = self.call("GET", "/_local/api/config")

    def call(self, method: str, path: str, body: dict | None = None, token: str = "") -> dict:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.base + path, method=method, headers=headers,
                                         data=json.dumps(body).encode() if body is not None else None)
        with _direct.open(request, timeout=30) as response:
            text = response.read().decode()
        return json.loads(text) if text else {}

    def jobs_left(self) -> int:
        """The jobs queue's messages, visible or in flight (the embedded moto's)."""
        import boto3

        sqs = boto3.client("sqs", endpoint_url=self.config["aws_endpoint_url"], region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        return sum(int(value) for value in sqs.get_queue_attributes(
            QueueUrl=self.config["jobs_queue_url"], AttributeNames=names)["Attributes"].values())

    def messages(self) -> list[dict]:
        return self.call("GET", "/_local/api/slack/messages")["messages"]

    def wait_for(self, find, what: str, timeout: float = 60.0):
        """What `find` finds in the Slack stand-in's messages, once it finds something."""
        return _wait(lambda: find(self.messages()), what, timeout)

    def card(self, marker: str) -> dict:
        staff = self.config[STAFF_CHANNEL_KEY]
        return self.wait_for(lambda messages: next((m for m in messages if m["channel"] == staff
                                                    and not m.get("thread_ts") and marker in json.dumps(m["blocks"])),
                                                   None), f"the card of {marker}")

    def current(self, card: dict) -> dict:
        return next(m for m in self.messages() if m["ts"] == card["ts"] and m["channel"] == card["channel"])


def _wait(find, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        time.sleep(0.2)
    raise TimeoutError(f"waited {timeout:.0f} s for {what}")


def _texts_to(desk: _Desk, number: str) -> list[str]:
    return [m["body"] for m in desk.call("GET", f"/_local/api/phone/messages?number={urllib.parse.quote(number)}")[
        "messages"]]


def _ts(moment: float) -> str:
    return f"{moment:.6f}"


def run_script(base_url: str, script: tuple[Scripted, ...] = SCRIPT) -> str:
    """Plays the script on the stack at base_url; returns the period to ask about ("from to", the
    library's dates of the day's start and of now)."""
    desk = _Desk(base_url)
    day_starts = time.time() - START_AGO
    partner = desk.config["slack_partner"]["channel"]
    for one in script:
        # Letters only: digits could read as a phone number, which the card masks (refdesk.redaction).
        marker = "scripted-" + "".join(chr(ord("a") + byte % 26) for byte in uuid.uuid4().bytes[:7])
        asked_at = day_starts + one.starts
        session = None
        if one.channel == "slack_connect":
            asked = desk.call("POST", "/_local/api/slack/partner", {
                "text": f"A scripted question ({marker})", "user": one.patron, "ts": _ts(asked_at)})
            patron_thread = asked["ts"]
        elif one.channel == "sms":
            desk.call("POST", "/_local/api/phone/send", {"from": one.patron, "body": f"A scripted question ({marker})"})
        else:
            session = desk.call("POST", "/chat/sessions", {})
            desk.call("POST", f"/chat/sessions/{session['session_id']}/messages",
                      {"text": f"A scripted question ({marker})", "client_id": marker}, token=session["token"])
        card = desk.card(marker)
        if one.wait is not None:
            answered_at = _ts(asked_at + one.wait)
            if one.quick_reply:
                desk.call("POST", "/_local/api/slack/select", {"ts": card["ts"], "action_id": "quick_reply",
                                                               "value": "hours", "user": one.by,
                                                               "action_ts": answered_at})
            else:
                desk.call("POST", "/_local/api/slack/reply", {"thread_ts": card["ts"], "user": one.by,
                                                              "text": "A scripted answer.", "ts": answered_at})
            desk.wait_for(lambda messages: any(m["channel"] == partner and m.get("thread_ts") == patron_thread
                                               and m["user"] != one.patron for m in messages),
                          f"the answer in the shared thread of {marker}")
        if one.transfer_to:
            desk.call("POST", "/_local/api/slack/click", {"ts": card["ts"], "action_id": "transfer_conversation",
                                                          "selected_user": one.transfer_to, "user": one.by})
            desk.wait_for(lambda messages: f"<@{one.transfer_to}>" in json.dumps(desk.current(card)["blocks"]),
                          f"the transfer of {marker}")
        if one.erased:
            desk.call("DELETE", f"/chat/sessions/{session['session_id']}", token=session["token"])
            desk.wait_for(lambda messages: not any(m["ts"] == card["ts"] and marker in json.dumps(m["blocks"])
                                                   for m in messages), f"the erasure of {marker}")
            continue
        desk.call("POST", "/_local/api/slack/click", {"ts": card["ts"], "action_id": "close_conversation",
                                                      "user": one.by or "U0AMANDA"})
        desk.wait_for(lambda messages: desk.current(card)["text"].startswith("[closed]"), f"the close of {marker}")
        if one.rating and one.channel == "sms":
            closing = desk.wait_for(lambda messages: _texts_to(desk, one.patron), f"the closing line of {marker}")
            assert closing, closing
            desk.call("POST", "/_local/api/phone/send", {"from": one.patron, "body": str(one.rating)})
        elif one.rating:
            prompt = desk.wait_for(lambda messages: next(
                (m for m in messages if m["channel"] == partner and m.get("thread_ts") == patron_thread
                 and "rate_1" in json.dumps(m["blocks"])), None), f"the rating prompt of {marker}")
            desk.call("POST", "/_local/api/slack/click", {"ts": prompt["ts"], "channel": partner,
                                                          "action_id": f"rate_{one.rating}", "user": one.patron})
            desk.wait_for(lambda messages: "rate_1" not in json.dumps(next(
                m for m in messages if m["ts"] == prompt["ts"] and m["channel"] == partner)["blocks"]),
                f"the rating of {marker}")
            if one.comment:
                desk.call("POST", "/_local/api/slack/click", {"ts": prompt["ts"], "channel": partner,
                                                              "action_id": "rating_comment", "user": one.patron})
                view = _wait(lambda: next((v for v in desk.call("GET", "/_local/api/slack/views")["views"]
                                           if v.get("callback_id") == "rating_comment"), None), "the comment modal")
                desk.call("POST", "/_local/api/slack/submit", {"view_id": view["id"], "user": one.patron,
                                                               "values": {"comment": one.comment}})
                desk.wait_for(lambda messages: "rating_comment" not in json.dumps(next(
                    m for m in messages if m["ts"] == prompt["ts"] and m["channel"] == partner)["blocks"]),
                    f"the comment of {marker}")
    _wait(lambda: desk.jobs_left() == 0, "the dispatcher to finish the day's jobs (the SMS rating's)")
    zone = ZoneInfo(desk.config.get("library_timezone") or "America/New_York")
    first, last = (datetime.fromtimestamp(moment, zone).date() for moment in (day_starts, time.time()))
    return f"{first.isoformat()} {last.isoformat()}"


def check_on_a_fresh_stack(environment: dict[str, str]) -> list[tuple[str, bool]]:
    """`make bench`: the script on a local stack of its own (python -m local.devstack on a free
    port, with `environment`), and each expected line with whether the stats answer holds it."""
    import socket
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from local.servers import stop_process

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([sys.executable, "-m", "local.devstack"], cwd=Path(__file__).resolve().parents[1],
                                   env={**environment, "PORT": str(port), "SMS_ACK_TEXT": ""}, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    _direct.open(base_url + "/health", timeout=2).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError("the local stack did not start:\n"
                                           + log.read().decode(errors="replace")[-4000:]) from None
                    time.sleep(0.2)
            answer = stats_answer(base_url, run_script(base_url))
        finally:
            stop_process(process)
    return [(line, line in answer) for line in EXPECTED]


def stats_answer(base_url: str, period: str) -> str:
    """`/refdesk stats <from> <to>` as a librarian types it, and the answer the reports function
    posts in the staff channel: its text and its blocks' text."""
    desk = _Desk(base_url)
    desk.call("POST", "/_local/api/slack/command", {"text": f"stats {period}", "user": "U0AMANDA"})
    title = f"({period.replace(' ', ' to ')})"
    answer = desk.wait_for(lambda messages: next((m for m in reversed(messages)
                                                   if "Reference desk statistics" in str(m.get("text"))
                                                   and title in m["text"]), None), "the stats answer")
    return answer["text"] + "\n" + "\n".join(
        block.get("text", {}).get("text", "") for block in answer["blocks"] if isinstance(block.get("text"), dict))
