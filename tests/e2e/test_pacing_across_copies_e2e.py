"""Pacing across copies of the dispatcher (issue 17), end to end over the local stack: 20 patrons
text at once, twice each, while Slack enforces its limit of one post a second per channel (the
stand-in answers HTTP 429 beyond a burst of 4) and five copies of the dispatcher drain the jobs
queue at once: the stack's own and four more, each a process of its own as Lambda's containers
are (tests/e2e/dispatcher_copy.py: the stack runs its dispatcher's invocations one at a time).
Every copy takes its turns from the staff channel's one item (store.pacing), at AWS's default
pace (SlackPostsPerSecond 1, SlackPostBurst 3): Slack refuses nothing, every patron's card is
shown once with their texts in order, all within 60 s."""
from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import select
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from local.servers import stop_process
from tests.e2e.dispatcher_copy import READY
from tests.e2e.test_slack_faults_e2e import numbered, posts_showing, texted, wait_for_posts

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {"TWILIO_AUTH_TOKEN": "e2e-auth-token", "SLACK_POSTS_PER_SECOND": "1", "SLACK_POST_BURST": "3"}
SLACK_LIMIT = {"per_second": 1, "burst": 4}  # Slack's 1 a second; one more than the pace's burst: network jitter
PATRONS, TEXTS = 20, 2
COPIES = 5  # the dispatcher's default concurrency (DispatcherConcurrency)
SHOWN_WITHIN = 60  # seconds, from the first text (issue 17)
COPY_START_SECONDS = 60  # a copy loads the dispatcher within this
REFUSED = "chat.postMessage: rate limited"  # the stand-in's line for each post it answers 429


@pytest.fixture(scope="module")
def paced(start_devstack):
    return start_devstack(**SETTINGS)


@contextlib.contextmanager
def more_copies(stack, count: int):
    """`count` copies of the dispatcher beside the stack, loaded and waiting; the context's value
    starts their drains (go) and returns what each drain's handler returned (outcomes). Any copy
    still running when the context ends is stopped."""
    log_dir = ROOT / "test-output"
    log_dir.mkdir(exist_ok=True)
    environment = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", **SETTINGS}
    copies = []
    try:
        for number in range(count):
            with (log_dir / f"dispatcher-copy-{stack.port}-{number}.log").open("wb") as log:
                copies.append(subprocess.Popen(
                    [sys.executable, "-m", "tests.e2e.dispatcher_copy", str(stack.port)], cwd=ROOT, env=environment,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True))
        deadline = time.monotonic() + COPY_START_SECONDS
        for copy in copies:
            readable, _, _ = select.select([copy.stdout], [], [], max(0.0, deadline - time.monotonic()))
            assert readable and copy.stdout.readline().strip() == READY, "a copy of the dispatcher did not start"
        yield Drains(copies)
    finally:
        for copy in copies:
            stop_process(copy, grace=5)


class Drains:
    """The loaded copies' drains: started together, then what each did."""

    def __init__(self, copies: list[subprocess.Popen]):
        self._copies = copies

    def go(self) -> None:
        for copy in self._copies:
            copy.stdin.write("go\n")
            copy.stdin.close()

    def outcomes(self, timeout: float) -> list[list[str]]:
        """Each copy's drain: the outcome of each job it took ("done", "retry")."""
        deadline = time.monotonic() + timeout
        for copy in self._copies:
            copy.wait(timeout=max(0.0, deadline - time.monotonic()))
        return [json.loads(copy.stdout.read())["outcomes"] for copy in self._copies]


def test_twenty_patrons_at_once_reach_a_channel_limited_to_a_post_a_second_with_five_copies_draining(paced):
    stack = paced
    stack.post_json("/_local/api/slack/rate_limit", SLACK_LIMIT)
    refused_before = stack.output().count(REFUSED)
    dead_before = stack.get_json("/_local/api/dlq")["count"]
    marker = uuid.uuid4().hex[:6]
    numbers = [f"+1555769{patron:04d}" for patron in range(PATRONS)]

    def patron_texts(patron: int) -> None:
        for text in range(TEXTS):
            texted(stack, numbers[patron], f"{marker} p{patron} t{text}")

    with more_copies(stack, COPIES - 1) as drains:  # and the stack's own, woken by the texts
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=PATRONS) as pool:
            list(pool.map(patron_texts, range(PATRONS)))
        drains.go()
        stack.wait_until(lambda: len(posts_showing(stack, marker)) >= PATRONS * TEXTS, timeout=SHOWN_WITHIN + 30,
                         interval=0.25, message="every text in Slack")
        shown_after = time.monotonic() - started
        posts = wait_for_posts(stack, marker, PATRONS * TEXTS, timeout=1)  # a moment later: a double would show
        outcomes = drains.outcomes(timeout=90)

    assert stack.output().count(REFUSED) == refused_before  # Slack refused no post
    assert shown_after <= SHOWN_WITHIN
    assert len(posts) == PATRONS * TEXTS  # each text shown once
    for patron in range(PATRONS):
        own = [post for post in posts if f"{marker} p{patron} t" in post["shows"]]
        assert numbered(own, f"{marker} p{patron} t", TEXTS) == list(range(TEXTS)), f"patron {patron}"
        card, *replies = own
        assert card["thread_ts"] in (None, card["ts"]) and all(reply["thread_ts"] == card["ts"] for reply in replies)
    assert all("done" in drain for drain in outcomes), outcomes  # every copy took jobs: five drained at once
    assert stack.get_json("/_local/api/dlq")["count"] == dead_before
