"""The place in line kept fresh over the live connection, in process: when a conversation leaves
the waiting line (claimed, answered, transferred or closed), the web chats still waiting behind it
get their new place pushed as a status frame to a real WebSocket client (the local WebSocket API,
as in test_live); chats ahead of it, chats without a connection and SMS patrons get nothing, and
a conversation that had left the line before moves nobody."""
from __future__ import annotations

import pytest
from websockets.sync.client import connect

from refdesk import store
from tests.conftest import close_value, pump
from tests.functional.test_block_patron import block_payload, interaction
from tests.functional.test_claim_transfer import pick_transfer, press_claim, sms_card, texts_to
from tests.functional.test_live import frames, live_api, nothing_more  # noqa: F401 (live_api: a fixture)
from tests.functional.test_webchat import create_session, poll, press_close, send, staff_reply

pytestmark = pytest.mark.usefixtures("live_api")  # the local WebSocket API the sessions' live_url reach


def waiting_web_chat(aws, slack, text: str) -> tuple[dict, dict]:
    """A web chat whose first message reached the staff channel and joined the line: (session, card)."""
    session = create_session()
    assert send(session, text)["statusCode"] == 201
    pump(aws)
    return session, slack.roots()[-1]


def place(position: int) -> dict:
    return {"type": "status", "status": "open", "queue": {"state": "waiting", "position": position}}


def answer(card: dict) -> None:
    staff_reply(card, "Yes, it is on the shelf.")


def transfer(card: dict) -> None:
    pick_transfer(card, "U0BEN")


def close(card: dict) -> None:
    press_close(close_value(card))


def block(card: dict) -> None:
    assert interaction(block_payload(card))["statusCode"] == 200


@pytest.mark.parametrize("leave", [press_claim, answer, transfer, close, block],
                         ids=["claim", "answer", "transfer", "close", "block"])
def test_the_second_in_line_is_pushed_place_1_when_the_first_leaves_the_line(aws, slack, leave):
    _, first = waiting_web_chat(aws, slack, "Is the library open on Sunday?")
    second, _ = waiting_web_chat(aws, slack, "Can I renew a laptop loan?")
    assert poll(second)["queue"] == {"state": "waiting", "position": 2}
    with connect(second["live_url"]) as socket:
        leave(first)
        pump(aws)

        assert frames(socket, 1) == [place(1)]
        assert nothing_more(socket)
    assert poll(second)["queue"] == {"state": "waiting", "position": 1}  # what GET …/messages answers too


def test_only_web_chats_behind_with_open_connections_are_pushed_and_sms_patrons_are_not_texted(
        aws, slack, twilio, monkeypatch):
    ahead, _ = waiting_web_chat(aws, slack, "Do you have study rooms?")
    sms_card(aws, slack, "+15551230002")  # second in line, told "number 2" by text
    unconnected, leaving = waiting_web_chat(aws, slack, "Where is the microfilm?")
    behind, _ = waiting_web_chat(aws, slack, "Can I print in colour?")
    sms_card(aws, slack, "+15551230005")  # fifth, told "number 5" by text
    texted = texts_to(twilio, "+15551230002") + texts_to(twilio, "+15551230005")
    looked_up = []
    of_session = store.connections.of_session
    with connect(ahead["live_url"]) as first, connect(behind["live_url"]) as fourth:
        monkeypatch.setattr(store.connections, "of_session", lambda session_id: looked_up.append(session_id)
                            or of_session(session_id))
        press_claim(leaving)  # the third leaves: the fourth and fifth move up
        pump(aws)

        assert frames(fourth, 1) == [place(3)]
        assert nothing_more(fourth) and nothing_more(first)
    assert sorted(looked_up) == sorted([unconnected["session_id"], behind["session_id"]])  # "claimed", then place 3
    assert texts_to(twilio, "+15551230002") + texts_to(twilio, "+15551230005") == texted


@pytest.mark.parametrize("leave", [transfer, close])
def test_a_conversation_claimed_earlier_moves_nobody_when_it_is_transferred_or_closed(aws, slack, leave):
    _, first = waiting_web_chat(aws, slack, "Is the library open on Sunday?")
    second, _ = waiting_web_chat(aws, slack, "Can I renew a laptop loan?")
    press_claim(first)
    pump(aws)
    with connect(second["live_url"]) as socket:
        leave(first)
        pump(aws)

        assert nothing_more(socket)  # still first in line, as since the claim: nothing to push


def test_a_waiting_patron_who_deletes_their_chat_moves_the_line_up(aws, slack):
    from tests.conftest import invoke
    from tests.functional.test_erasure import delete_event

    first, _ = waiting_web_chat(aws, slack, "Is the library open on Sunday?")
    second, _ = waiting_web_chat(aws, slack, "Can I renew a laptop loan?")
    with connect(second["live_url"]) as socket:
        assert invoke("webchat", delete_event(first))["statusCode"] in (200, 202)
        pump(aws)

        assert frames(socket, 1) == [place(1)]
        assert nothing_more(socket)
