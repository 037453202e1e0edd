"""Issue 19, item 3 (the Slack Connect half), over the shared local stack: a partner's conversation
is answered and closed, the rating's post in the shared thread offers "E-mail me this
conversation", its modal (views.open from the webhook) keeps itself open on an address that is not
one (`response_action: errors`), and takes a good one: the embedded SES sends what the partner
saw, once, the partner alone is told "Sent" in their thread, and the address is nowhere in the
table after."""
from __future__ import annotations

import json
import uuid

import boto3

from tests.e2e.test_slack_connect_e2e import PARTNER_CHANNEL, messages, shared_thread, staff_root_with

PATRON = "U0PARTNER1"


def offers(message: dict) -> bool:
    return any((block.get("accessory") or {}).get("action_id") == "email_transcript"
               for block in message.get("blocks") or [])


def table_text(stack) -> str:
    config = stack.config
    table = boto3.resource("dynamodb", endpoint_url=config["aws_endpoint_url"], region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing").Table(config["table_name"])
    return json.dumps(table.scan()["Items"], default=str)


def test_a_partner_has_the_closed_conversation_emailed_once(stack):
    marker = "k" + uuid.uuid4().hex[:7]
    address = f"jordan.{marker}@partner-mail.example.org"
    posted = stack.post_json("/_local/api/slack/partner", {"text": f"Sanborn maps? ({marker})", "user": PATRON})
    root = staff_root_with(stack, marker)
    stack.post_json("/_local/api/slack/reply", {"thread_ts": root["ts"], "user": "U0AMANDA",
                                                "text": f"Yes, online at the state library ({marker}-answer)"})
    stack.wait_until(lambda: any(f"{marker}-answer" in m["text"] for m in shared_thread(stack, posted["ts"])),
                     message="the answer in the shared thread")
    stack.post_json("/_local/api/slack/click", {"ts": root["ts"], "action_id": "close_conversation", "user": "U0BEN"})
    prompt = stack.wait_until(lambda: next((m for m in shared_thread(stack, posted["ts"]) if offers(m)), None),
                              message="the offer on the rating's post")

    assert stack.post_json("/_local/api/slack/click", {"ts": prompt["ts"], "channel": PARTNER_CHANNEL,
                                                       "action_id": "email_transcript", "user": PATRON})["status"] == 200
    view = stack.wait_until(lambda: next((v for v in stack.get_json("/_local/api/slack/views")["views"]
                                          if v.get("callback_id") == "email_transcript"
                                          and json.loads(v["private_metadata"])["ts"] == prompt["ts"]), None),
                            message="the modal")

    refused = stack.post_json("/_local/api/slack/submit", {"view_id": view["id"], "user": PATRON,
                                                           "values": {"email": f"jordan.{marker}"}})
    assert refused["status"] == 200 and not refused["closed"]
    assert list(json.loads(refused["body"])["errors"]) == ["email"]

    submitted = stack.post_json("/_local/api/slack/submit", {"view_id": view["id"], "user": PATRON,
                                                             "values": {"email": address}})
    assert submitted["status"] == 200 and submitted["closed"]

    [mail] = stack.wait_until(lambda: stack.get_json("/_local/api/mail", to=address)["messages"],
                              message="the transcript in the mailbox")
    assert mail["subject"].startswith("Your conversation with")
    assert f"You: Sanborn maps? ({marker})" in mail["body"]
    assert f"Amanda: Yes, online at the state library ({marker}-answer)" in mail["body"]
    told = stack.wait_until(lambda: [m for m in messages(stack) if m["channel"] == PARTNER_CHANNEL and m["ephemeral"]
                                     and m["thread_ts"] == posted["ts"]], message="the partner told")
    assert [(m["visible_to"], m["text"][:5]) for m in told] == [(PATRON, "Sent:")]
    assert marker not in told[0]["text"]
    assert address not in table_text(stack)
    assert len(stack.get_json("/_local/api/mail", to=address)["messages"]) == 1
