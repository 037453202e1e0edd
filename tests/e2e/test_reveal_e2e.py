"""Redaction and Reveal end to end over the local stack, driven through the control API as the
staff view drives it: a patron texts a card number and a phone number, the staff channel shows
them masked, a librarian presses Reveal (on the card, then on a thread post) and only they get
the original, as an ephemeral message."""
from __future__ import annotations

import json
import random

PATRON = f"+1555{random.randint(1000000, 9999999)}"


def messages(stack) -> list[dict]:
    return stack.get_json("/_local/api/slack/messages")["messages"]


def test_masked_in_the_channel_revealed_to_the_presser_only(stack):
    marker = f"renewal-{random.randint(100000, 999999)}"
    question = f"{marker}: my card is 21234000567890, call (555) 987-6543 about QA76.73 .P98 L83 2013"
    assert stack.post_json("/_local/api/phone/send", {"from": PATRON, "body": question})["status"] == 200
    card = stack.wait_until(lambda: next((m for m in messages(stack) if not m["thread_ts"]
                                          and marker in json.dumps(m["blocks"])), None), message="the card")
    shown = json.dumps(card)
    assert "[library card]" in shown and "[phone]" in shown and "QA76.73 .P98 L83 2013" in shown
    assert "21234000567890" not in shown and "987-6543" not in shown

    clicked = stack.post_json("/_local/api/slack/click", {"ts": card["ts"], "action_id": "reveal_original",
                                                          "user": "U0BEN"})
    assert clicked["status"] == 200
    revealed = stack.wait_until(lambda: [m for m in messages(stack) if m["ephemeral"] and m["thread_ts"] == card["ts"]],
                                message="the revealed original")
    assert [m["visible_to"] for m in revealed] == ["U0BEN"]
    assert "21234000567890" in revealed[0]["text"] and "(555) 987-6543" in revealed[0]["text"]

    later = f"{marker} again: or e-mail me at pat@example.org"
    assert stack.post_json("/_local/api/phone/send", {"from": PATRON, "body": later})["status"] == 200
    post = stack.wait_until(lambda: next((m for m in messages(stack) if m["thread_ts"] == card["ts"]
                                          and not m["ephemeral"] and "[email]" in m["text"]), None),
                            message="the masked thread post")
    assert "pat@example.org" not in json.dumps(post)
    assert stack.post_json("/_local/api/slack/click", {"ts": post["ts"], "action_id": "reveal_original",
                                                       "user": "U0AMANDA"})["status"] == 200
    amandas = stack.wait_until(lambda: [m for m in messages(stack) if m["ephemeral"] and m["visible_to"] == "U0AMANDA"
                                        and m["thread_ts"] == card["ts"]], message="Amanda's reveal")
    assert "pat@example.org" in amandas[0]["text"] and "21234000567890" not in amandas[0]["text"]
    # What everyone sees never held the originals.
    public = json.dumps([m for m in messages(stack) if not m["ephemeral"]])
    for original in ("21234000567890", "987-6543", "pat@example.org"):
        assert original not in public
