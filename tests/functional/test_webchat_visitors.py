"""Issue 17, item 5, for the widget: a returning visitor is one patron (the random visitor id the
widget keeps in localStorage, hashed like a phone number), whose delete erases every chat of theirs;
the wait is timed from the patron's own Send (`age_ms`); a rating takes an optional comment.
Through functions/webchat, moto and the dispatcher, as tests/functional/test_webchat.py."""
from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone

import pytest

from tests.conftest import close_value, http_event, invoke, log_to_captured_stdout, pump
from tests.functional.test_assessment import rate
from tests.functional.test_webchat import (ORIGIN, body_of, create_event, error_of, message_event, poll, press_close,
                                           queued_bodies, send)

VISITOR = "Vq3xW9_kT-2mZr8LpQ4sNa7bYc1dEf0g"  # as the widget makes one: 24 random bytes, base64url


def start(body) -> dict:
    """POST /chat/sessions with this body (a dict is sent as JSON): the session."""
    event = create_event()
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    event["headers"]["content-length"] = str(len(event["body"].encode()))
    response = invoke("webchat", event)
    assert response["statusCode"] == 201, response
    return body_of(response)


def session_patron(session: dict) -> str:
    from refdesk.store import keys
    from refdesk.store.table import table

    return table().get_item(Key=keys.session(session["session_id"]))["Item"]["patron_id"]


def chat_and_close(aws, slack, session: dict, text: str) -> str:
    """The session's first message shown to staff, and the chat closed: its conversation id."""
    assert send(session, text)["statusCode"] == 201
    pump(aws)
    [root] = [post for post in slack.roots() if text in json.dumps(post)]
    conversation_id = close_value(root)
    press_close(conversation_id)
    pump(aws)
    return conversation_id


def today():
    from refdesk import store

    [day] = store.stats.days(date(2000, 1, 1), date(2100, 1, 1))
    return day


# --- a returning visitor --------------------------------------------------------------------

def test_the_same_visitor_id_twice_is_one_patron_and_the_second_chat_counts_as_repeat(aws, slack):
    from refdesk import identity, store

    first, second = start({"visitor_id": VISITOR}), start({"visitor_id": VISITOR})
    assert first["session_id"] != second["session_id"] and first["token"] != second["token"]
    assert session_patron(first) == session_patron(second) == identity.patron_id("web", VISITOR)

    earlier = chat_and_close(aws, slack, first, "Do you have large-print atlases?")
    later = chat_and_close(aws, slack, second, "Back again: any road atlases?")

    assert store.conversations.get(earlier).patron_id == store.conversations.get(later).patron_id \
        == identity.patron_id("web", VISITOR)
    assert (today().new_patrons, today().repeat_patrons) == (1, 1)


def test_without_a_visitor_id_each_chat_is_a_new_patron(aws, slack):
    from refdesk import identity

    first, second = start({}), start({})
    assert session_patron(first) == identity.patron_id("web", first["session_id"])
    chat_and_close(aws, slack, first, "Do you have large-print atlases?")
    chat_and_close(aws, slack, second, "Back again: any road atlases?")

    assert (today().new_patrons, today().repeat_patrons) == (2, 0)


@pytest.mark.parametrize("visitor_id", [
    "short", VISITOR[:21], "a" * 65, VISITOR[:-1] + "=", VISITOR[:-1] + "/", "has spaces in the middle ok", "é" * 22,
    1234567890123456, 1.5, None, True, [VISITOR], {"id": VISITOR}, ""])
def test_a_malformed_visitor_id_is_ignored_as_if_there_were_none(aws, visitor_id):
    from refdesk import identity

    session = start({"visitor_id": visitor_id})

    assert session_patron(session) == identity.patron_id("web", session["session_id"])


def test_a_session_body_that_is_not_a_json_object_is_400_and_none_at_all_is_fine(aws):
    for raw in ("{visitor_id:", "[]", '"x"'):
        event = create_event()
        event["body"] = raw
        response = invoke("webchat", event)
        assert response["statusCode"] == 400, raw
        assert "JSON" in error_of(response)["message"]
    event = create_event()
    event["body"] = ""
    assert invoke("webchat", event)["statusCode"] == 201


def test_the_visitor_id_is_never_logged(aws, slack, monkeypatch, capfd):
    log_to_captured_stdout(monkeypatch)
    capfd.readouterr()

    session = start({"visitor_id": VISITOR})
    chat_and_close(aws, slack, session, "Do you have large-print atlases?")

    assert VISITOR not in capfd.readouterr().out


def test_the_patrons_delete_erases_every_chat_of_the_visitor_and_forgets_them(aws, slack):
    from refdesk import identity, store
    from refdesk.errors import NotFound
    from refdesk.store.table import table

    first, second = start({"visitor_id": VISITOR}), start({"visitor_id": VISITOR})
    earlier = chat_and_close(aws, slack, first, "Do you have large-print atlases?")
    assert send(second, "Back again: any road atlases?")["statusCode"] == 201
    pump(aws)
    other = start({"visitor_id": VISITOR[::-1]})  # someone else's chat stays
    kept = chat_and_close(aws, slack, other, "Opening hours on Sunday?")
    patron = identity.patron_id("web", VISITOR)
    later = next(cid for cid in store.erasures.patron_items(patron)[0] if cid != earlier)
    seen = {"pk": f"SEEN#{patron}", "sk": "META"}
    assert "Item" in table().get_item(Key=seen)

    response = invoke("webchat", delete_event(second))
    assert response["statusCode"] == 202, response
    pump(aws)

    for conversation_id in (earlier, later):
        with pytest.raises(NotFound):
            store.conversations.get(conversation_id)
    assert store.erasures.patron_items(patron) == ([], [])
    assert "Item" not in table().get_item(Key=seen)
    assert store.conversations.get(kept).patron_id == identity.patron_id("web", VISITOR[::-1])
    new_patrons = today().new_patrons
    chat_and_close(aws, slack, start({"visitor_id": VISITOR}), "Hello again")  # forgotten: new again
    assert today().new_patrons == new_patrons + 1


def delete_event(session: dict) -> dict:
    return http_event("DELETE", f"/chat/sessions/{session['session_id']}",
                      headers={"Origin": ORIGIN, "Authorization": f"Bearer {session['token']}"})


# --- the patron's own send time -------------------------------------------------------------

@pytest.mark.parametrize("age_ms, seconds_earlier", [
    (90_000, 90), (1_500.5, 1.5), (3_600_000, 600), (-5_000, 0), ("90000", 0), (None, 0), (True, 0), ([1], 0),
    (1e300, 600)])
def test_a_message_is_timed_from_when_the_patron_pressed_send_at_most_10_minutes_back(aws, slack, age_ms,
                                                                                      seconds_earlier):
    session = start({})
    body = {"text": "Do you have large-print atlases?", "client_id": "c-1", "age_ms": age_ms}
    received = datetime.now(timezone.utc)
    response = invoke("webchat", message_event(session, body))
    assert response["statusCode"] == 201, response
    [job] = [json.loads(queued) for queued in queued_bodies(aws)]
    pump(aws)

    [message] = poll(session)["messages"]
    assert message["at"] == (job.get("sent_at") or job["at"])  # the wait is timed from it (PatronMessageJob.sent_at)
    sent = datetime.fromisoformat(message["at"].replace("Z", "+00:00"))
    expected = received - timedelta(seconds=seconds_earlier)
    assert abs((sent - expected).total_seconds()) < 1.0, (sent, expected)
    arrived = datetime.fromisoformat(job["at"].replace("Z", "+00:00"))  # the line keeps the order of arrival
    assert abs((arrived - received).total_seconds()) < 1.0, (arrived, received)


# --- a rating with a comment ----------------------------------------------------------------

def closed_chat(aws, slack) -> tuple[dict, str]:
    session = start({})
    return session, chat_and_close(aws, slack, session, "Do you have large-print atlases?")


def test_a_rating_takes_an_optional_comment_kept_de_identified(aws, slack):
    from refdesk import store

    session, _ = closed_chat(aws, slack)
    comment = "Very helpful! Call me on 555-867-5309 if the atlas comes in. Thanks, Priya"

    response = rate(session, {"rating": 4, "comment": comment})
    assert response["statusCode"] == 202, response
    pump(aws)

    [kept] = store.stats.comments(date(2000, 1, 1), date(2100, 1, 1))
    assert kept.rating == 4 and kept.text.startswith("Very helpful!")
    assert "867" not in kept.text and "Priya" not in kept.text
    assert today().ratings == {4: 1}


def test_a_rating_without_a_comment_keeps_none(aws, slack):
    from refdesk import store

    session, _ = closed_chat(aws, slack)
    assert rate(session, {"rating": 5})["statusCode"] == 202
    pump(aws)

    assert store.stats.comments(date(2000, 1, 1), date(2100, 1, 1)) == []
    assert today().ratings == {5: 1}


def test_a_comment_over_500_characters_is_400_and_the_chat_can_still_be_rated(aws, slack):
    from refdesk import store

    session, _ = closed_chat(aws, slack)

    too_long = rate(session, {"rating": 4, "comment": "a" * 501})
    assert too_long["statusCode"] == 400
    assert "500" in error_of(too_long)["message"]
    assert rate(session, {"rating": 4, "comment": 7})["statusCode"] == 400
    assert rate(session, {"rating": 4, "comment": "b" * 500})["statusCode"] == 202
    pump(aws)
    [kept] = store.stats.comments(date(2000, 1, 1), date(2100, 1, 1))
    assert kept.text == "b" * 500


def test_the_comment_is_cleaned_before_it_goes_on_the_job(aws, slack):
    session, _ = closed_chat(aws, slack)
    assert rate(session, {"rating": 3, "comment": "  my email is priya.raman@example.org  "})["statusCode"] == 202

    [job] = [json.loads(queued) for queued in queued_bodies(aws) if json.loads(queued)["kind"] == "rating"]
    assert "priya.raman@example.org" not in json.dumps(job)
    assert re.search(r"\S", job["comment"]) and job["comment"] == job["comment"].strip()

