"""The web chat API behind the widget, in process: functions/webchat fed API Gateway HTTP API (v2)
events built from events/webchat_*.json, moto for DynamoDB and SQS, the local Slack stand-in
reached by the real WebClient, and the dispatcher driven with conftest.pump. Librarians answer
through signed Slack events and close through a signed block_actions press, exactly as in
production."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import urllib.parse
import uuid

import pytest

from refdesk.settings import CLOSING_TEXTS
from tests.conftest import close_value, STAFF_CHANNEL, fixture, http_event, invoke, pump, slack_event

ORIGIN = "https://library.example.org"
CLOSING = CLOSING_TEXTS["web"]  # CLOSING_TEXT words the SMS line; a web patron is not told to text
PATRON_IP = "203.0.113.7"


# --- helpers ---------------------------------------------------------------------------


def body_of(response: dict) -> dict:
    assert response["headers"]["content-type"].startswith("application/json"), response
    return json.loads(response["body"])


def error_of(response: dict) -> dict:
    body = body_of(response)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert all(isinstance(value, str) and value for value in body["error"].values())
    return body["error"]


def header(response: dict, name: str) -> str | None:
    return {key.lower(): value for key, value in (response.get("headers") or {}).items()}.get(name.lower())


def create_event(*, origin: str | None = ORIGIN, source_ip: str = PATRON_IP) -> dict:
    """events/webchat_create_session.json, optionally from another origin or address."""
    event = fixture("webchat_create_session.json")
    if origin is None:
        event["headers"].pop("origin")
        event["headers"].pop("referer")
    else:
        event["headers"]["origin"] = origin
    event["requestContext"]["http"]["sourceIp"] = source_ip
    event["headers"]["x-forwarded-for"] = source_ip
    return event


def create_session(**kwargs) -> dict:
    response = invoke("webchat", create_event(**kwargs))
    assert response["statusCode"] == 201, response
    return body_of(response)


def message_event(session: dict | str, body: dict | str | bytes | None = None, *, token: str | None = None,
                  headers: dict | None = None, drop: tuple[str, ...] = (), source_ip: str = PATRON_IP,
                  base64_body: bool = False) -> dict:
    """events/webchat_post_message.json re-pointed at a session: its token unless `token` is given,
    the given JSON body (a dict is serialized) and header overrides (None removes a header)."""
    session_id = session if isinstance(session, str) else session["session_id"]
    event = fixture("webchat_post_message.json")
    path = f"/chat/sessions/{session_id}/messages"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"id": session_id}
    event["requestContext"]["http"]["sourceIp"] = event["headers"]["x-forwarded-for"] = source_ip
    if token is None and not isinstance(session, str):
        token = session["token"]
    event["headers"]["authorization"] = f"Bearer {token}"
    for name, value in (headers or {}).items():
        if value is None:
            event["headers"].pop(name.lower(), None)
        else:
            event["headers"][name.lower()] = value
    for name in drop:
        event["headers"].pop(name, None)
    if body is not None:
        raw = json.dumps(body) if isinstance(body, dict) else body
        raw = raw.encode() if isinstance(raw, str) else raw
        event["headers"]["content-length"] = str(len(raw))
        if base64_body:
            event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
        else:
            event["body"], event["isBase64Encoded"] = raw.decode(), False
    return event


def send(session: dict | str, text: str = "Do you have the new Louise Erdrich novel?", *,
         client_id: str | None = None, **kwargs) -> dict:
    payload = {"text": text, "client_id": client_id or str(uuid.uuid4())}
    for field in ("contact", "name"):
        if field in kwargs:
            payload[field] = kwargs.pop(field)
    return invoke("webchat", message_event(session, payload, **kwargs))


def poll_event(session: dict | str, after: str = "", *, token: str | None = None, origin: str | None = ORIGIN,
               source_ip: str = PATRON_IP, authorization: str | None = None) -> dict:
    session_id = session if isinstance(session, str) else session["session_id"]
    if token is None and not isinstance(session, str):
        token = session["token"]
    headers = {"Accept": "*/*", "User-Agent": "Mozilla/5.0"}
    if origin:
        headers["Origin"] = origin
    if authorization is not None:
        headers["Authorization"] = authorization
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    query = urllib.parse.urlencode({"after": after}) if after else ""
    return http_event("GET", f"/chat/sessions/{session_id}/messages", headers=headers, query=query,
                      source_ip=source_ip)


def poll(session: dict | str, after: str = "", **kwargs) -> dict:
    response = invoke("webchat", poll_event(session, after, **kwargs))
    assert response["statusCode"] == 200, response
    return body_of(response)


def table_items() -> list[dict]:
    import boto3

    return boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"]).scan()["Items"]


def queued_bodies(aws) -> list[str]:
    """The jobs waiting in the queue (received and made visible again at once)."""
    sqs, bodies = aws["sqs"], []
    messages = sqs.receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10,
                                   VisibilityTimeout=0).get("Messages", [])
    for message in messages:
        bodies.append(message["Body"])
    return bodies




def card_text(post: dict) -> str:
    texts = [post["text"]]
    for block in post["blocks"] or []:
        if block.get("type") == "section":
            texts.append(block["text"]["text"])
        elif block.get("type") == "context":
            texts.extend(element["text"] for element in block["elements"])
    return "\n".join(texts)


def slack_ts() -> str:
    """A Slack message ts for now, as Slack stamps a reply when it is posted."""
    return f"{time.time():.6f}"


def staff_reply(root: dict, text: str, *, ts: str | None = None, user: str = "U0AMANDA") -> None:
    """A librarian's reply in the conversation's thread, as Slack's Events API delivers it."""
    payload = fixture("slack_message_reply.json")
    ts = ts or slack_ts()
    payload["event_id"] = "Ev" + uuid.uuid4().hex[:12].upper()
    payload["event"].update({"thread_ts": root["answered_ts"], "text": text, "user": user, "ts": ts,
                             "event_ts": ts, "channel": STAFF_CHANNEL})
    payload["event"]["blocks"][0]["elements"][0]["elements"][0]["text"] = text
    response = invoke("slack_events", slack_event("/slack/events", json.dumps(payload)))
    assert response["statusCode"] == 200, response


def press_close(conversation_id: str) -> None:
    payload = fixture("slack_block_actions_close.json")
    payload["actions"][0]["value"] = conversation_id
    payload["message"]["blocks"][-1]["elements"][0]["value"] = conversation_id
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    response = invoke("slack_interactions",
                      slack_event("/slack/interactions", body, "application/x-www-form-urlencoded"))
    assert response["statusCode"] == 200, response


def open_chat(aws, slack, text: str = "Do you have the new Louise Erdrich novel?", **kwargs) -> tuple[dict, dict]:
    """A session whose first message reached the staff channel: (session, root card post)."""
    session = create_session()
    response = send(session, text, **kwargs)
    assert response["statusCode"] == 201, response
    pump(aws)
    roots = slack.roots()
    assert len(roots) == 1
    return session, roots[0]


# --- sessions --------------------------------------------------------------------------

def test_creating_a_session_answers_201_with_an_id_and_a_token_whose_hash_alone_is_stored(aws):
    response = invoke("webchat", create_event())

    assert response["statusCode"] == 201
    body = body_of(response)
    assert set(body) == {"session_id", "token", "live_url"}
    assert body["session_id"].startswith("s") and body["session_id"][1:].isalnum()
    assert len(body["token"]) >= 32
    # the live connection (refdesk.live) carries the same bearer token
    assert body["live_url"] == f"{os.environ['LIVE_URL']}?session={body['session_id']}&token={body['token']}"
    assert body["live_url"].startswith("wss://")
    dump = json.dumps(table_items(), default=str)
    assert body["token"] not in dump
    assert hashlib.sha256(body["token"].encode()).hexdigest() in dump


def test_each_session_gets_its_own_id_and_token(aws):
    first, second = create_session(), create_session()

    assert first["session_id"] != second["session_id"]
    assert first["token"] != second["token"]


def test_the_raw_token_and_the_address_are_nowhere_in_the_table_or_the_queue_after_a_chat(aws, slack):
    session, root = open_chat(aws, slack)
    send(session, "One more question about renewals")
    queued = queued_bodies(aws)
    assert queued  # the second message is waiting for the dispatcher
    assert not any(session["token"] in body for body in queued)
    pump(aws)
    staff_reply(root, "Happy to help!")
    pump(aws)
    poll(session)

    dump = json.dumps(table_items(), default=str)
    assert session["token"] not in dump
    assert PATRON_IP not in dump
    assert session["token"] not in json.dumps(slack.calls, default=str)


def test_a_session_answers_an_empty_open_conversation_before_its_first_message(aws):
    session = create_session()

    assert poll(session) == {"messages": [], "cursor": "", "status": "open", "queue": None}


# --- sending ---------------------------------------------------------------------------

def test_the_recorded_post_message_event_is_accepted_and_reaches_the_staff_channel(aws, slack):
    session = create_session()
    event = fixture("webchat_post_message.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/chat/sessions/{session['session_id']}/messages"
    event["pathParameters"] = {"id": session["session_id"]}
    event["headers"]["authorization"] = f"Bearer {session['token']}"
    sent = json.loads(event["body"])

    response = invoke("webchat", event)

    assert response["statusCode"] == 201
    assert body_of(response)["client_id"] == sent["client_id"]
    assert slack.calls == []  # nothing reaches Slack before the dispatcher runs
    pump(aws)
    roots = slack.roots()
    assert len(roots) == 1
    assert roots[0]["channel"] == STAFF_CHANNEL
    assert sent["text"] in card_text(roots[0])
    assert "Web" in card_text(roots[0])
    assert "follow-up" not in card_text(roots[0])


def test_a_sent_message_is_listed_back_as_the_patrons(aws, slack):
    session = create_session()
    client_id = str(uuid.uuid4())
    assert send(session, "  Is the library open on Sunday?  ", client_id=client_id)["statusCode"] == 201
    pump(aws)

    listed = poll(session)

    assert listed["status"] == "open"
    assert len(listed["messages"]) == 1
    message = listed["messages"][0]
    assert set(message) == {"id", "from", "name", "text", "client_id", "at"}
    assert message["from"] == "patron"
    assert message["text"] == "Is the library open on Sunday?"
    assert message["client_id"] == client_id
    assert message["at"]
    assert listed["cursor"]


def test_a_second_message_goes_into_the_same_thread(aws, slack):
    session, root = open_chat(aws, slack)

    assert send(session, "Also, is there a large-print edition?")["statusCode"] == 201
    pump(aws)

    assert len(slack.roots()) == 1
    replies = [post for post in slack.posts() if post.get("thread_ts") == root["answered_ts"]]
    assert len(replies) == 1
    assert "large-print" in card_text(replies[0])
    assert [m["text"] for m in poll(session)["messages"]] == [
        "Do you have the new Louise Erdrich novel?", "Also, is there a large-print edition?"]


def test_a_retried_send_is_stored_once_and_posted_to_slack_once(aws, slack):
    session = create_session()
    client_id = str(uuid.uuid4())

    first = send(session, "Can I renew a book twice?", client_id=client_id)
    retry = send(session, "Can I renew a book twice?", client_id=client_id)
    pump(aws)

    assert first["statusCode"] == retry["statusCode"] == 201
    assert body_of(retry)["client_id"] == client_id
    assert len(slack.posts()) == 1
    assert [m["client_id"] for m in poll(session)["messages"]] == [client_id]


def test_a_retry_after_the_first_copy_was_delivered_is_not_posted_again(aws, slack):
    """Idempotency may not rest on the queue's de-duplication alone: SQS forgets a de-duplication
    id after five minutes (moto as soon as the job is deleted), and a patron's resend can come
    later than that."""
    session = create_session()
    client_id = str(uuid.uuid4())
    assert send(session, "Can I renew a book twice?", client_id=client_id)["statusCode"] == 201
    pump(aws)
    assert len(slack.posts()) == 1

    # The widget never saw the 201 (the network dropped) and resends from localStorage later.
    retry = send(session, "Can I renew a book twice?", client_id=client_id)
    pump(aws)

    assert retry["statusCode"] == 201
    assert len(slack.posts()) == 1
    assert [m["client_id"] for m in poll(session)["messages"]] == [client_id]


def test_a_message_with_a_contact_is_a_follow_up_and_the_card_shows_the_contact_masked(aws, slack):
    session = create_session()

    response = send(session, "Could someone email me a list of ESL conversation groups?",
                    contact="maria.g@example.net", name="Maria")
    pump(aws)

    assert response["statusCode"] == 201
    roots = slack.roots()
    assert len(roots) == 1
    card = card_text(roots[0])
    assert "follow-up" in card.lower()
    assert "maria.g@example.net" not in card and "Reply to: Maria · [email]" in card
    assert "ESL conversation groups" in card


def test_text_of_exactly_2000_characters_is_accepted(aws, slack):
    session = create_session()

    response = send(session, "x" * 2000)

    assert response["statusCode"] == 201


# --- librarian replies, notes and polling ----------------------------------------------

def test_a_librarians_reply_is_listed_with_her_first_name_and_notes_never_are(aws, slack):
    session, root = open_chat(aws, slack)
    first = poll(session)
    assert [m["from"] for m in first["messages"]] == ["patron"]

    staff_reply(root, "note: regular patron, prefers large print")
    staff_reply(root, "Yes! We have two copies on the shelf at FIC ERD.")
    pump(aws)

    newer = poll(session, first["cursor"])
    assert len(newer["messages"]) == 1
    reply = newer["messages"][0]
    assert reply["from"] == "librarian"
    assert reply["name"] == "Amanda"
    assert reply["text"] == "Yes! We have two copies on the shelf at FIC ERD."
    assert reply["id"] and reply["at"]
    everything = poll(session)["messages"]
    assert [m["from"] for m in everything] == ["patron", "librarian"]
    assert not any("note:" in m["text"] or "large print" in m["text"] for m in everything)


def test_polling_with_the_cursor_returns_only_newer_messages(aws, slack):
    session, root = open_chat(aws, slack)
    first = poll(session)

    empty = poll(session, first["cursor"])
    assert empty["messages"] == []
    assert empty["cursor"] == first["cursor"]

    staff_reply(root, "Checking the catalog now.")
    pump(aws)
    second = poll(session, empty["cursor"])
    assert [m["text"] for m in second["messages"]] == ["Checking the catalog now."]
    assert second["cursor"] != first["cursor"]

    assert send(session, "Thank you!")["statusCode"] == 201
    pump(aws)
    third = poll(session, second["cursor"])
    assert [m["text"] for m in third["messages"]] == ["Thank you!"]
    assert poll(session, third["cursor"])["messages"] == []
    ids = [m["id"] for page in (first, second, third) for m in page["messages"]]
    assert len(ids) == len(set(ids)) == 3


def test_a_reply_stored_late_after_its_first_attempt_failed_still_reaches_the_widget(aws, slack, monkeypatch):
    """The cursor must follow the order messages were stored in, not when they were written."""
    from refdesk.settings import get_settings

    session, root = open_chat(aws, slack)
    cursor = poll(session)["cursor"]
    monkeypatch.setenv("RETRY_DELAY_SCALE", "0.2")  # a failed job waits 1 s (5 s x 0.2) for its retry
    get_settings.cache_clear()

    slack.fail("auth.test", status=503)  # Slack fails once while the dispatcher checks who the bot is
    staff_reply(root, "We have it - shall I hold a copy?")
    assert send(session, "Are you still there?")["statusCode"] == 201
    pump(aws)  # the reply fails its first attempt and waits; the patron's message goes through
    assert slack.methods().count("auth.test") == 1
    seen = poll(session, cursor)
    assert [m["text"] for m in seen["messages"]] == ["Are you still there?"]

    time.sleep(1.1)
    pump(aws)  # the retry succeeds
    assert "We have it - shall I hold a copy?" in [m["text"] for m in poll(session)["messages"]]  # stored
    later = poll(session, seen["cursor"])

    assert [m["text"] for m in later["messages"]] == ["We have it - shall I hold a copy?"]


def test_a_reply_after_many_internal_notes_still_reaches_the_widget(aws, slack):
    """Internal notes are filtered out of the patron's view: a page they fill must not stall polling."""
    from refdesk import relay, store
    from refdesk.models import Author, Delivery, Message, Visibility

    session, root = open_chat(aws, slack)
    cursor = poll(session)["cursor"]
    conversation_id = close_value(root)
    base = time.time()
    for n in range(101):  # what 101 "note:" replies in the thread leave in the table
        ts = f"{base + n / 100_000:.6f}"
        store.messages.put(conversation_id, Message(
            message_id=f"slack-{ts}", at=relay._slack_time(ts), author=Author.LIBRARIAN,
            author_name="Ben", author_user="U0BEN", text=f"note: checked shelf {n}", slack_ts=ts,
            visibility=Visibility.INTERNAL, delivery=Delivery.INTERNAL))
    staff_reply(root, "Found it at the branch - it is on hold for you.")
    pump(aws)
    stored = store.messages.list_after(conversation_id, visibility=Visibility.PATRON, limit=1000)
    assert stored[-1].text == "Found it at the branch - it is on hold for you."

    texts = []
    for _ in range(3):  # the widget polls again and again with the cursor it was given
        page = poll(session, cursor)
        texts += [m["text"] for m in page["messages"]]
        cursor = page["cursor"]

    assert texts == ["Found it at the branch - it is on hold for you."]


# --- closing ---------------------------------------------------------------------------

def test_after_the_librarian_closes_the_chat_is_closed_with_the_closing_text_and_sends_get_409(aws, slack):
    session, root = open_chat(aws, slack)
    staff_reply(root, "Glad I could help!")
    pump(aws)
    before = poll(session)
    assert before["status"] == "open"

    press_close(close_value(root))
    pump(aws)

    after = poll(session, before["cursor"])
    assert after["status"] == "closed"
    assert [(m["from"], m["text"]) for m in after["messages"]] == [("system", CLOSING)]
    response = send(session, "Wait, one more thing!")
    assert response["statusCode"] == 409
    assert error_of(response)["code"] == "closed"
    pump(aws)
    assert not any("one more thing" in card_text(post) for post in slack.posts())


# --- errors ----------------------------------------------------------------------------

def test_a_wrong_or_missing_token_is_refused_with_403_and_the_same_answer_whatever_the_reason(aws, slack):
    session = create_session()
    other = create_session()
    payload = {"text": "hello", "client_id": str(uuid.uuid4())}

    refusals = [
        invoke("webchat", message_event(session, payload, token="not-the-token")),
        invoke("webchat", message_event(session, payload, token=other["token"])),
        invoke("webchat", message_event(session, payload, headers={"authorization": None})),
        invoke("webchat", message_event(session, payload, headers={"authorization": f"Basic {session['token']}"})),
        invoke("webchat", message_event(session, payload, headers={"authorization": "Bearer"})),
        invoke("webchat", poll_event(session, token="not-the-token")),
        invoke("webchat", poll_event(session, token=other["token"])),
        invoke("webchat", poll_event(session, authorization="")),
    ]

    assert [r["statusCode"] for r in refusals] == [403] * len(refusals)
    assert len({r["body"] for r in refusals}) == 1
    error = error_of(refusals[0])
    assert session["session_id"] not in refusals[0]["body"]
    assert error["code"] == "forbidden"
    pump(aws)
    assert slack.posts() == []
    assert poll(session)["messages"] == []


def test_a_wrong_token_on_a_closed_chat_is_the_same_403_not_a_409(aws, slack):
    session, root = open_chat(aws, slack)
    press_close(close_value(root))
    pump(aws)
    refused_open = invoke("webchat", message_event(create_session(), {"text": "hi", "client_id": "c1"},
                                                   token="not-the-token"))

    refused_closed = invoke("webchat", message_event(session, {"text": "hi", "client_id": "c2"},
                                                     token="not-the-token"))

    assert refused_closed["statusCode"] == 403
    assert refused_closed["body"] == refused_open["body"]


def test_sends_without_the_token_do_not_use_up_the_patrons_allowance(aws, monkeypatch):
    from refdesk import webchat

    monkeypatch.setattr(webchat, "SENDS_PER_SESSION", (2, 10 ** 9))
    session = create_session()

    refused = [invoke("webchat", message_event(session, {"text": "spam", "client_id": f"x{n}"},
                                               token=token))["statusCode"] for n, token in
               enumerate(["guess", "guess", "guess", "another-guess", ""])]

    assert refused[:2] == [403, 403]
    assert set(refused) <= {403, 429}  # never accepted; repeating one guess may be throttled
    assert send(session, "my real question")["statusCode"] == 201
    assert send(session, "and a second one")["statusCode"] == 201
    assert send(session, "and a third")["statusCode"] == 429  # the patron's own limit still holds


@pytest.mark.parametrize("session_id", [
    "s01939bfcef6b9f3b6d2e8a417c05",  # well formed, never created
    "c01939bfcef6b9f3b6d2e8a417c05",  # a conversation id, not a session
    "s" + "0" * 80,
    "s..%2F..%2Fetc",
])
def test_an_unknown_session_is_404_for_sending_and_polling(aws, session_id):
    sent = invoke("webchat", message_event(session_id, {"text": "hi", "client_id": "c1"}, token="whatever"))
    polled = invoke("webchat", poll_event(session_id, token="whatever"))

    assert sent["statusCode"] == polled["statusCode"] == 404
    assert error_of(sent)["code"] == error_of(polled)["code"] == "not_found"


@pytest.mark.parametrize("payload", [
    {"text": "", "client_id": "c1"},
    {"text": "   \n\t ", "client_id": "c1"},
    {"client_id": "c1"},
    {"text": None, "client_id": "c1"},
    {"text": 42, "client_id": "c1"},
    {"text": ["hi"], "client_id": "c1"},
    {"text": "hi"},
    {"text": "hi", "client_id": ""},
    {"text": "hi", "client_id": {"id": 1}},
    {"text": "hi", "client_id": "c1", "contact": 5551234567},
])
def test_missing_empty_or_mistyped_fields_are_400(aws, payload):
    session = create_session()

    response = invoke("webchat", message_event(session, payload))

    assert response["statusCode"] == 400
    assert error_of(response)["code"] == "bad_request"


def test_text_over_2000_characters_is_413(aws, slack):
    session = create_session()

    response = send(session, "x" * 2001)

    assert response["statusCode"] == 413
    assert error_of(response)["code"] == "too_large"
    pump(aws)
    assert slack.posts() == []


@pytest.mark.parametrize("raw", [
    '{"text": "hi", "client_id": "c1"',
    "text=hi&client_id=c1",
    "",
    "null",
    '["hi"]',
    '"hi"',
    b"\xff\xfe{}",
])
def test_malformed_json_is_400(aws, raw):
    session = create_session()

    response = invoke("webchat", message_event(session, raw, base64_body=isinstance(raw, bytes)))

    assert response["statusCode"] == 400
    error_of(response)


def test_a_body_that_is_not_valid_base64_is_400(aws):
    session = create_session()
    event = message_event(session, {"text": "hi", "client_id": "c1"})
    event["body"], event["isBase64Encoded"] = "%%%not base64%%%", True

    response = invoke("webchat", event)

    assert response["statusCode"] == 400
    error_of(response)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          None])
def test_a_wrong_content_type_is_415(aws, content_type):
    session = create_session()

    response = invoke("webchat", message_event(session, {"text": "hi", "client_id": "c1"},
                                               headers={"content-type": content_type}))

    assert response["statusCode"] == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_json_with_a_charset_parameter_is_accepted(aws):
    session = create_session()

    response = invoke("webchat", message_event(session, {"text": "hi", "client_id": "c1"},
                                               headers={"content-type": "application/json; charset=UTF-8"}))

    assert response["statusCode"] == 201


@pytest.mark.parametrize("after", ["garbage!", "a", base64.urlsafe_b64encode(b"CONV#x/META").decode(),
                                   base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode()])
def test_a_bad_cursor_is_400(aws, after):
    session = create_session()

    response = invoke("webchat", poll_event(session, after))

    assert response["statusCode"] == 400
    error_of(response)


def test_a_body_over_64_kib_is_413(aws):
    session = create_session()

    response = invoke("webchat", message_event(session, {"text": "x" * 70_000, "client_id": "c1"}))

    assert response["statusCode"] == 413
    error_of(response)


def test_text_with_a_lone_surrogate_is_refused_or_delivered_never_accepted_and_lost(aws, slack):
    """Half an emoji (JSON \\ud83d: a browser's JSON.stringify of a lone surrogate) cannot be encoded
    as UTF-8: answering 201 and then failing in the dispatcher would lose the message."""
    session = create_session()

    response = invoke("webchat", message_event(session, '{"text": "half an emoji \\ud83d", "client_id": "c1"}'))

    assert response["statusCode"] in (201, 400)
    if response["statusCode"] == 400:
        return
    pump(aws)
    assert any("half an emoji" in card_text(post) for post in slack.roots())


# --- rate limits -----------------------------------------------------------------------

LONG_WINDOW = 10 ** 9  # seconds: a test cannot straddle a window boundary


def assert_rate_limited(response: dict, window: int = LONG_WINDOW) -> None:
    assert response["statusCode"] == 429, response
    assert error_of(response)["code"] == "rate_limited"
    retry_after = header(response, "retry-after")
    assert retry_after is not None and retry_after.isdigit()
    assert 1 <= int(retry_after) <= window


def test_sends_per_session_are_limited_with_429_and_retry_after(aws, slack, monkeypatch):
    from refdesk import webchat

    monkeypatch.setattr(webchat, "SENDS_PER_SESSION", (2, LONG_WINDOW))
    session, other = create_session(), create_session()

    answers = [send(session, f"question {n}")["statusCode"] for n in range(2)]
    limited = send(session, "question 3")

    assert answers == [201, 201]
    assert_rate_limited(limited)
    assert header(limited, "access-control-allow-origin") == ORIGIN  # the widget can read the 429
    assert "retry-after" in header(limited, "access-control-expose-headers").lower()
    assert send(other, "another patron")["statusCode"] == 201  # per session
    pump(aws)
    assert not any("question 3" in card_text(post) for post in slack.posts())


def test_retry_after_is_the_time_left_in_the_window(aws, monkeypatch):
    from types import SimpleNamespace

    from refdesk import webchat
    from refdesk.store import limits

    now = (int(time.time()) // 60) * 60 + 45  # 45 s into a minute: 15 s are left
    monkeypatch.setattr(limits, "time", SimpleNamespace(time=lambda: float(now)))
    monkeypatch.setattr(webchat, "SENDS_PER_SESSION", (1, 60))
    session = create_session()
    assert send(session, "one")["statusCode"] == 201

    limited = send(session, "two")

    assert_rate_limited(limited, 60)
    assert header(limited, "retry-after") == "15"


def test_sends_per_address_are_limited_across_sessions(aws, monkeypatch):
    from refdesk import webchat

    monkeypatch.setattr(webchat, "SENDS_PER_ADDRESS", (3, LONG_WINDOW))
    sessions = [create_session() for _ in range(2)]

    answers = [send(sessions[n % 2], f"question {n}")["statusCode"] for n in range(3)]
    limited = send(sessions[1], "question 4")

    assert answers == [201, 201, 201]
    assert_rate_limited(limited)
    assert send(sessions[1], "from another address", source_ip="198.51.100.20")["statusCode"] == 201


def test_sessions_per_address_are_limited_and_other_addresses_are_not(aws, monkeypatch):
    from refdesk import webchat

    monkeypatch.setattr(webchat, "SESSIONS_PER_ADDRESS", (2, LONG_WINDOW))

    answers = [invoke("webchat", create_event())["statusCode"] for _ in range(2)]
    limited = invoke("webchat", create_event())

    assert answers == [201, 201]
    assert_rate_limited(limited)
    assert header(limited, "access-control-allow-origin") == ORIGIN
    assert invoke("webchat", create_event(source_ip="198.51.100.20"))["statusCode"] == 201
    assert "198.51.100.20" not in json.dumps(table_items(), default=str)


def test_polls_per_session_are_limited(aws, monkeypatch):
    from refdesk import webchat

    monkeypatch.setattr(webchat, "POLLS_PER_SESSION", (2, LONG_WINDOW))
    session, other = create_session(), create_session()
    poll(session)
    poll(session)

    limited = invoke("webchat", poll_event(session))

    assert_rate_limited(limited)
    assert header(limited, "access-control-allow-origin") == ORIGIN
    assert poll(other)["status"] == "open"


def test_polls_that_find_nothing_new_are_not_counted_but_refused_at_the_limit(aws, slack, monkeypatch):
    from refdesk import webchat

    monkeypatch.setattr(webchat, "POLLS_PER_SESSION", (2, LONG_WINDOW))
    session = create_session()
    send(session, "first question")
    pump(aws)
    cursor = poll(session)["cursor"]  # from the start: counted

    unchanged = [poll(session, cursor)["cursor"] for _ in range(5)]  # nothing new: not counted
    send(session, "second question")
    pump(aws)
    found = poll(session, cursor)  # a message after the cursor: counted, the limit reached
    limited = invoke("webchat", poll_event(session, found["cursor"]))

    assert unchanged == [cursor] * 5
    assert [message["text"] for message in found["messages"]] == ["second question"]
    assert_rate_limited(limited)
    [counter] = [item for item in table_items() if item["pk"].startswith("RATE#polls-session#")]
    assert counter["hits"] == 2


# --- CORS ------------------------------------------------------------------------------

def test_an_allowed_origin_is_echoed_on_success(aws):
    response = invoke("webchat", create_event())

    assert response["statusCode"] == 201
    assert header(response, "access-control-allow-origin") == ORIGIN
    assert "origin" in header(response, "vary").lower()


def test_an_allowed_origin_is_echoed_on_error_answers_too(aws):
    session = create_session()

    forbidden = invoke("webchat", poll_event(session, token="wrong"))
    missing = invoke("webchat", poll_event("s01939bfcef6b9f3b6d2e8a417c05", token="wrong"))
    bad = invoke("webchat", message_event(session, "{not json"))

    for response, status in ((forbidden, 403), (missing, 404), (bad, 400)):
        assert response["statusCode"] == status
        assert header(response, "access-control-allow-origin") == ORIGIN


@pytest.mark.parametrize("path", ["/chat/sessions", "/chat/sessions/s01939bfcef6b9f3b6d2e8a417c05/messages"])
def test_a_preflight_from_an_allowed_origin_is_204_with_the_allowed_headers(aws, path):
    event = http_event("OPTIONS", path, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})

    response = invoke("webchat", event)

    assert response["statusCode"] == 204
    assert not response.get("body")
    assert header(response, "access-control-allow-origin") == ORIGIN
    allowed_headers = {h.strip().lower() for h in header(response, "access-control-allow-headers").split(",")}
    assert {"authorization", "content-type"} <= allowed_headers
    allowed_methods = {m.strip().upper() for m in header(response, "access-control-allow-methods").split(",")}
    assert {"GET", "POST"} <= allowed_methods
    assert table_items() == []  # a preflight creates nothing


@pytest.mark.parametrize("origin", ["https://evil.example.com", "https://library.example.org.evil.example.com",
                                    "http://library.example.org", "null"])
def test_a_disallowed_origin_is_403_without_an_allow_origin_header(aws, origin):
    created = invoke("webchat", create_event(origin=origin))
    preflight = invoke("webchat", http_event("OPTIONS", "/chat/sessions", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST"}))

    for response in (created, preflight):
        assert response["statusCode"] == 403
        assert header(response, "access-control-allow-origin") is None
        error_of(response)
    assert table_items() == []


def test_a_disallowed_origin_cannot_read_a_session_even_with_its_token(aws, slack):
    session, _ = open_chat(aws, slack)

    response = invoke("webchat", poll_event(session, origin="https://evil.example.com"))

    assert response["statusCode"] == 403
    assert "Louise Erdrich" not in response["body"]


def test_without_an_origin_header_a_server_can_use_the_api(aws, slack):
    session = create_session(origin=None)

    sent = invoke("webchat", message_event(session, {"text": "hi from a kiosk", "client_id": "k1"},
                                           headers={"origin": None, "referer": None}))
    pump(aws)
    listed = invoke("webchat", poll_event(session, origin=None))

    assert sent["statusCode"] == 201
    assert header(sent, "access-control-allow-origin") is None
    assert listed["statusCode"] == 200
    assert [m["text"] for m in body_of(listed)["messages"]] == ["hi from a kiosk"]


# --- never 500 -------------------------------------------------------------------------

@pytest.mark.parametrize("mutate", [
    lambda e: e.update(pathParameters=None),
    lambda e: e.update(headers=None),
    lambda e: e.update(body=None),
    lambda e: e["headers"].update(authorization="Bearer " + "x" * 5000),
    lambda e: e["headers"].update(authorization="Bearer \u00e9\u00e8"),
    lambda e: e.update(body=json.dumps({"text": "\ud83d\udcda " * 10, "client_id": "c" * 101})),
    lambda e: e.update(body=json.dumps({"text": "hi", "client_id": "c1", "name": "n" * 201})),
    lambda e: e.update(body='{"text": "hi", "client_id": "c1", "text": {"nested": true}}'),
    # json.loads raises RecursionError, not ValueError, for deep nesting; 60 KB fits under 64 KiB
    lambda e: e.update(body='{"text": ' + "[" * 30000 + "]" * 30000 + ', "client_id": "c1"}'),
    lambda e: e.update(body="1e999999"),
], ids=["no-path-params", "no-headers", "no-body", "huge-token", "non-ascii-token", "long-client-id",
        "long-name", "duplicate-key", "deep-nesting", "huge-number"])
def test_odd_requests_get_a_4xx_json_error_never_a_500(aws, mutate):
    session = create_session()
    event = message_event(session, {"text": "hi", "client_id": "c1"})
    mutate(event)

    response = invoke("webchat", event)

    assert 400 <= response["statusCode"] < 500
    error_of(response)


def test_a_retry_of_an_accepted_send_after_the_chat_closed_is_not_refused(aws, slack):
    session, root = open_chat(aws, slack, client_id="first-send")
    press_close(close_value(root))
    pump(aws)

    retried = send(session, client_id="first-send")
    fresh = send(session, client_id="new-send")

    assert retried["statusCode"] == 201, "the widget would otherwise re-ask the question in a new chat"
    assert fresh["statusCode"] == 409 and error_of(fresh)["code"] == "closed"
