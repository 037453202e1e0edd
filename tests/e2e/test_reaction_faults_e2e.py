"""Reactions are decoration (issue 17), end to end over the local stack: librarians' replies
through the Slack stand-in, faults injected into its reactions.add (POST /_local/api/faults).

* reactions.add failing for an hour (503 on every call): each reply reaches the patron at once,
  the thread's next reply is not held behind the failing reaction, and the reactions' own jobs
  are retried, then dropped: nothing in the dead-letter queue, nothing said in the thread. Once
  Slack is back, a reply gets its ✅.
* reactions.add answering message_not_found (the librarian deleted the reply): the reply is sent
  once, its job is never retried, and no job is left for the reaction."""
from __future__ import annotations

import uuid

import pytest

from tests.e2e.test_claim_transfer_e2e import card_for, messages
from tests.e2e.test_fault_horizon_e2e import settled, texts_to
from tests.e2e.test_lifecycle_faults_e2e import LIBRARIAN, reactions_on, reply

OUTAGE = 10_000  # failing calls: longer than any retry budget


@pytest.fixture(scope="module")
def stack_of_its_own(start_devstack):
    # Faults match any caller: nothing else may react while one is pending. Its retry budget is 6
    # minutes of backoff (6 attempts) instead of a day's (32): what is tested is that the
    # reactions' jobs are retried and then dropped, whatever the budget's size, and each of the
    # four reactions' attempts costs the suite time.
    return start_devstack(SMS_ACK_TEXT="", RETRY_HORIZON_HOURS="0.1")


@pytest.fixture
def desk(stack_of_its_own):
    yield stack_of_its_own
    stack_of_its_own.post_json("/_local/api/faults", {"slack": []})  # none outlives its test


def conversation(desk) -> tuple[str, dict]:
    """A patron texted a question and its card is in the staff channel: (their number, the card)."""
    number, question = "+1555" + str(uuid.uuid4().int)[:7], f"Is the atlas in? {uuid.uuid4().hex[:8]}"
    assert desk.text_in(number, question).status_code == 200
    card = card_for(desk, question)
    desk.wait_until(lambda: settled(desk), timeout=15, message="the jobs queue drained")
    return number, card


def reached(desk, number: str, text: str) -> bool:
    return any(text in body for body in texts_to(desk, number))


def dead_letters(desk) -> int:
    return desk.get_json("/_local/api/dlq")["count"]


def test_reactions_failing_for_an_hour_hold_nothing_back_and_leave_no_dead_letter(desk):
    number, card = conversation(desk)
    before = dead_letters(desk)
    desk.post_json("/_local/api/faults", {"slack": {"method": "reactions.add", "status": 503, "count": OUTAGE}})

    first = reply(desk, card, "It is on the second floor.")
    desk.wait_until(lambda: reached(desk, number, "It is on the second floor."), message="the first reply texted")
    second = reply(desk, card, "Shall I hold it for you?")
    desk.wait_until(lambda: reached(desk, number, "Shall I hold it for you?"), message="the second reply texted")
    desk.wait_until(lambda: settled(desk), timeout=60, message="the reactions' jobs retried, then dropped")

    assert reactions_on(desk, first) == reactions_on(desk, second) == []
    assert dead_letters(desk) == before  # no alarm
    assert [message for message in messages(desk) if message["thread_ts"] == card["ts"]
            and message["user"] != LIBRARIAN] == []  # nobody was told a reply failed: none did
    assert desk.output().count("reactions.add: injected") > 2  # each reaction's job tried again

    desk.post_json("/_local/api/faults", {"slack": []})  # Slack is back
    third = reply(desk, card, "It is held at the desk.")
    # 📤 when Twilio took it, ✅ when the stand-in reported it delivered
    desk.wait_until(lambda: "white_check_mark" in reactions_on(desk, third), message="the ✅")
    assert reactions_on(desk, third) == ["outbox_tray", "white_check_mark"]


def test_a_reply_deleted_before_its_reaction_is_sent_once_and_its_job_never_retried(desk):
    number, card = conversation(desk)
    before = dead_letters(desk)
    desk.post_json("/_local/api/faults", {"slack": {"method": "reactions.add", "error": "message_not_found"}})
    failed_jobs = desk.output().count('"job failed"')

    ts = reply(desk, card, "The atlas is at Main.")
    desk.wait_until(lambda: reached(desk, number, "The atlas is at Main."), message="the reply texted")
    desk.wait_until(lambda: settled(desk), timeout=15, message="the jobs queue drained")

    assert [body for body in texts_to(desk, number) if "The atlas is at Main." in body] == [
        "Amanda (library): The atlas is at Main."]
    assert reactions_on(desk, ts) == []
    assert desk.output().count('"job failed"') == failed_jobs  # the reply's job finished at its first attempt
    assert '"reaction given up"' in desk.output()
    assert dead_letters(desk) == before
