"""Slack failing and pacing, end to end over the local stack: a post whose answer was lost (the
process "crashed" after Slack posted and before the table saved it) is not posted twice; Slack's
429 with Retry-After is honoured and every message still arrives once, in order. A burst of many
patrons into a channel that enforces Slack's limit, with several dispatcher copies, is
test_pacing_across_copies_e2e.py's."""
from __future__ import annotations

import json
import time
import uuid

import pytest

AUTH_TOKEN = "e2e-auth-token"
POSTS_PER_SECOND = 10  # Slack's 1 a second per channel, scaled so that the burst takes seconds


@pytest.fixture(scope="module")
def paced(start_devstack):
    return start_devstack(TWILIO_AUTH_TOKEN=AUTH_TOKEN, SLACK_POSTS_PER_SECOND=str(POSTS_PER_SECOND),
                          SLACK_POST_BURST="3")


@pytest.fixture
def stack(paced):
    paced.reset()  # no faults, no rate limit
    return paced



def texted(stack, number: str, body: str) -> None:
    response = stack.text_in(number, body)
    assert response.status_code == 200, response.text


def shown(stack) -> list[dict]:
    """The staff channel, oldest first: each message with the patron text it shows."""
    return [{**message, "shows": json.dumps(message["blocks"]) + message["text"]}
            for message in stack.get_json("/_local/api/slack/messages")["messages"]
            if message["channel"] == stack.config["slack_staff_channel"] and not message["ephemeral"]]


def posts_showing(stack, marker: str) -> list[dict]:
    return [message for message in shown(stack) if marker in message["shows"]]


def numbered(posts: list[dict], prefix: str, count: int) -> list[int]:
    """Which of the texts `prefix`0 … `prefix`{count - 1} each post shows, in the channel's order."""
    return [number for post in posts for number in range(count) if f"{prefix}{number}" in post["shows"]]


def wait_for_posts(stack, marker: str, count: int, timeout: float) -> list[dict]:
    """The posts showing `marker` once there are `count`, and a moment later: a double would show."""
    stack.wait_until(lambda: len(posts_showing(stack, marker)) >= count, timeout=timeout, interval=0.5,
                     message=f"{count} posts in Slack")
    time.sleep(1)
    return posts_showing(stack, marker)


def reply_reaches(stack, number: str, root_ts: str) -> None:
    """A librarian answers in the thread and the patron gets it: the conversation is the thread's."""
    answer = f"Answer {uuid.uuid4().hex[:8]}"
    stack.post_json("/_local/api/slack/reply", {"thread_ts": root_ts, "user": "U0AMANDA", "text": answer})
    stack.wait_until(lambda: any(answer in m["body"] for m in
                                 stack.get_json("/_local/api/phone/messages", number=number)["messages"]),
                     timeout=15, message="the reply texted to the patron")


def test_a_crash_after_the_slack_post_and_before_the_save_doubles_nothing(stack):
    number, marker = "+15557660100", uuid.uuid4().hex[:8]
    commit_fault = {"method": "chat.postMessage", "status": 500, "commit": True}

    stack.post_json("/_local/api/faults", {"slack": commit_fault})
    texted(stack, number, f"First question {marker}")
    [root] = stack.wait_until(lambda: posts_showing(stack, f"First question {marker}"), message="the card")
    reply_reaches(stack, number, root["ts"])  # the retry found the card and saved it as the thread
    stack.post_json("/_local/api/faults", {"slack": commit_fault})
    texted(stack, number, f"Second question {marker}")
    stack.wait_until(lambda: posts_showing(stack, f"Second question {marker}"), message="the thread post")
    reply_reaches(stack, number, root["ts"])  # the FIFO group moved on: the second job finished

    assert [m["ts"] for m in posts_showing(stack, f"First question {marker}")] == [root["ts"]]
    [second] = posts_showing(stack, f"Second question {marker}")
    assert second["thread_ts"] == root["ts"]


@pytest.mark.parametrize("retry_after", [1, 5])  # waited out in-process; handed to the queue (RetryLater)
def test_slack_429_with_retry_after_delivers_every_message_once_in_order(stack, retry_after):
    number, marker = f"+1555766{retry_after:04d}", uuid.uuid4().hex[:8]
    stack.post_json("/_local/api/faults", {"slack": {"method": "chat.postMessage", "status": 429,
                                                     "retry_after": retry_after, "count": 2}})
    for index in range(4):
        texted(stack, number, f"{marker} part {index}")

    posts = wait_for_posts(stack, marker, 4, timeout=30)

    assert numbered(posts, f"{marker} part ", 4) == [0, 1, 2, 3]
    assert all(post["thread_ts"] == posts[0]["ts"] for post in posts[1:])
