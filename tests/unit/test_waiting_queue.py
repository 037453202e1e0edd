"""The waiting queue's store (refdesk.store.queue) against moto: order strictly by arrival on
the sparse index, entries gone once claimed, answered or closed, and claim races with exactly
one winner."""
from __future__ import annotations

import threading

import pytest

from refdesk import store
from refdesk.errors import Conflict
from refdesk.models import InboundMessage
from refdesk.store.sessions import Release


def conversation(conversation_id: str, channel: str = "sms") -> str:
    store.conversations.ensure(conversation_id, InboundMessage(
        channel=channel, message_id=f"m-{conversation_id}", session_id=f"s-{conversation_id}", patron_id="p",
        label=f"SMS ···{conversation_id[-4:]}", text="question"))
    return conversation_id


def at(second: int) -> str:
    return f"2025-03-04T15:00:{second:02d}.000000Z"


def test_the_queue_is_ordered_by_arrival_not_by_when_entries_were_written(aws):
    for name, second in (("c-late", 30), ("c-first", 10), ("c-middle", 20)):
        queue_sk, handled = store.queue.join(conversation(name), at(second))
        assert queue_sk and not handled

    waiting = store.queue.waiting()
    assert [item.conversation_id for item in waiting] == ["c-first", "c-middle", "c-late"]
    assert [item.waiting_since for item in waiting] == [at(10), at(20), at(30)]
    assert [item.label for item in waiting] == ["SMS ···irst", "SMS ···ddle", "SMS ···late"]
    assert store.queue.waiting(limit=2)[-1].conversation_id == "c-middle"


def test_position_counts_who_waits_ahead(aws):
    keys = [store.queue.join(conversation(f"c-{n}"), at(n))[0] for n in range(1, 5)]

    assert [store.queue.position(key) for key in keys] == [1, 2, 3, 4]
    store.queue.claim("c-2", "U0AMANDA")
    assert store.queue.position(keys[3]) == 3


def test_joining_again_keeps_the_first_arrival_and_the_place_is_handled_once(aws):
    first, _ = store.queue.join(conversation("c-1"), at(5))
    again, handled = store.queue.join("c-1", at(50))

    assert again == first and not handled
    assert store.queue.mark_told("c-1", first) is True
    assert store.queue.mark_told("c-1", first) is False
    assert store.queue.join("c-1", at(55)) == (first, True)
    assert [item.waiting_since for item in store.queue.waiting()] == [at(5)]


def test_claimed_answered_and_closed_conversations_leave_the_queue_and_do_not_rejoin(aws):
    for n in (1, 2, 3, 4):
        store.queue.join(conversation(f"c-{n}"), at(n))

    store.queue.claim("c-1", "U0AMANDA")
    assert store.queue.claim_by_reply("c-2", "U0BEN")[1] is True
    store.conversations.close("c-3", "U0AMANDA", Release.FORGET)

    assert [item.conversation_id for item in store.queue.waiting()] == ["c-4"]
    assert store.queue.join("c-1", at(40)) == (None, True)
    assert store.queue.join("c-3", at(40)) == (None, True)
    assert [item.conversation_id for item in store.queue.waiting()] == ["c-4"]


def test_claim_answers_who_has_it(aws):
    store.queue.join(conversation("c-1"), at(1))

    claimed, won = store.queue.claim("c-1", "U0AMANDA")
    assert won and claimed.claimed_by == "U0AMANDA" and claimed.claimed_at
    assert store.queue.claim("c-1", "U0AMANDA")[1] is False  # a double click: harmless
    with pytest.raises(store.queue.Taken) as taken:
        store.queue.claim("c-1", "U0BEN")
    assert taken.value.holder == "U0AMANDA"


def test_a_reply_claims_only_when_nobody_has_it_and_records_the_first_reply(aws):
    store.queue.join(conversation("c-1"), at(1))
    store.queue.claim("c-1", "U0AMANDA")

    answered, won, _ = store.queue.claim_by_reply("c-1", "U0BEN")

    assert not won and answered.claimed_by == "U0AMANDA"
    assert store.conversations.get("c-1").first_reply_at
    assert store.conversations.get("c-1").claimed_by == "U0AMANDA"


def test_transfer_reassigns_and_refuses_closed_or_same(aws):
    store.queue.join(conversation("c-1"), at(1))
    store.queue.claim("c-1", "U0AMANDA")

    moved = store.queue.transfer("c-1", "U0BEN", "U0AMANDA")
    assert (moved.claimed_by, moved.transferred_by) == ("U0BEN", "U0AMANDA")
    with pytest.raises(store.queue.AlreadyAssigned):
        store.queue.transfer("c-1", "U0BEN", "U0AMANDA")
    store.conversations.close("c-1", "U0BEN", Release.FORGET)
    with pytest.raises(Conflict):
        store.queue.transfer("c-1", "U0PRIYA", "U0BEN")


@pytest.mark.parametrize("by_reply", [False, True], ids=["claim-button", "first-reply"])
def test_librarians_claiming_at_once_make_exactly_one_winner(aws, by_reply):
    store.queue.join(conversation("c-race"), at(1))
    store.table.table()  # the shared boto3 resource, made before the threads start
    librarians = [f"U0LIB{n:02d}" for n in range(24)]
    start, results, lock = threading.Barrier(len(librarians)), {}, threading.Lock()

    def press(user: str) -> None:
        start.wait()
        try:
            if by_reply:
                outcome = "won" if store.queue.claim_by_reply("c-race", user)[1] else "lost"
            else:
                outcome = "won" if store.queue.claim("c-race", user)[1] else "again"
        except store.queue.Taken as taken:
            outcome = f"lost to {taken.holder}"
        with lock:
            results[user] = outcome

    threads = [threading.Thread(target=press, args=(user,)) for user in librarians]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    winners = [user for user, outcome in results.items() if outcome == "won"]
    assert len(results) == len(librarians)
    assert len(winners) == 1
    assert store.conversations.get("c-race").claimed_by == winners[0]
    if not by_reply:
        assert all(outcome == f"lost to {winners[0]}" for user, outcome in results.items() if user != winners[0])
    assert store.queue.waiting() == []


def test_a_web_session_mirrors_the_state_for_the_widget(aws):
    store.sessions.create("s1", "hash", "c-web", "p", 2_000_000_000)
    conversation("c-web", "web")
    key, _ = store.queue.join("c-web", at(1))
    store.queue.mirror_to_session("s1", "c-web", queue_sk=key)
    assert store.queue.session_status(store.sessions.get("s1", "hash")) == {"state": "waiting", "position": 1}

    store.queue.mirror_to_session("s1", "c-web", claimed_name="Amanda")
    store.queue.mirror_to_session("s1", "c-web", queue_sk=key)  # a late waiting mirror never undoes a claim
    assert store.queue.session_status(store.sessions.get("s1", "hash")) == {"state": "claimed", "by": "Amanda"}
