"""Issue 17, item 5, over the shared local stack: a Slack Connect partner rates the closed
conversation with the buttons in their shared thread, the thanks offers "Add a comment", the modal
opens (views.open from the webhook, within the trigger's 3 s) and its submission keeps the comment
once, de-identified; the thanks then offers nothing more."""
from __future__ import annotations

import json
import uuid

from refdesk.store.stats import COMMENT_PREFIX
from tests.e2e.test_slack_connect_e2e import PARTNER_CHANNEL, messages, shared_thread, staff_root_with
from tests.e2e.test_sms_rating_e2e import stats_items

PATRON = "U0PARTNER1"


def comments_of(stack, conversation_id: str) -> list[dict]:
    return [item for item in stats_items(stack, COMMENT_PREFIX) if item["sk"].endswith(f"#{conversation_id}")]


def action_ids(message: dict) -> list[str]:
    return [element.get("action_id") for block in message.get("blocks") or [] if block["type"] == "actions"
            for element in block["elements"]]


def test_a_partner_rates_then_comments_once(stack):
    marker = "k" + uuid.uuid4().hex[:7]
    posted = stack.post_json("/_local/api/slack/partner", {"text": f"Sanborn maps? ({marker})", "user": PATRON})
    root = staff_root_with(stack, marker)
    stack.post_json("/_local/api/slack/click", {"ts": root["ts"], "action_id": "close_conversation", "user": "U0BEN"})
    prompt = stack.wait_until(lambda: next((m for m in shared_thread(stack, posted["ts"]) if "rate_5" in action_ids(m)),
                                           None), message="the rating buttons in the shared thread")
    conversation_id = next(element["value"] for block in prompt["blocks"] if block["type"] == "actions"
                           for element in block["elements"] if element["action_id"] == "rate_5").split(":")[0]

    def current() -> dict:
        return next(m for m in messages(stack) if m["ts"] == prompt["ts"])

    assert stack.post_json("/_local/api/slack/click", {"ts": prompt["ts"], "channel": PARTNER_CHANNEL,
                                                       "action_id": "rate_5", "user": PATRON})["status"] == 200
    stack.wait_until(lambda: action_ids(current()) == ["rating_comment"], message="the thanks with Add a comment")
    assert current()["text"].startswith("Thank you")

    assert stack.post_json("/_local/api/slack/click", {"ts": prompt["ts"], "channel": PARTNER_CHANNEL,
                                                       "action_id": "rating_comment", "user": PATRON})["status"] == 200
    view = stack.wait_until(lambda: next((v for v in stack.get_json("/_local/api/slack/views")["views"]
                                          if v.get("callback_id") == "rating_comment"), None), message="the modal")
    assert json.loads(view["private_metadata"])["conversation_id"] == conversation_id
    submitted = stack.post_json("/_local/api/slack/submit", {"view_id": view["id"], "user": PATRON, "values": {
        "comment": f"Great help, thanks! Jordan Lee, jordan@riverside.example.edu ({marker})"}})
    assert submitted["status"] == 200 and submitted["closed"]

    [kept] = stack.wait_until(lambda: comments_of(stack, conversation_id), message="the comment kept")
    assert int(kept["rating"]) == 5 and marker in kept["text"]
    assert "jordan@" not in kept["text"]
    stack.wait_until(lambda: action_ids(current()) == [], message="the thanks without its button")
