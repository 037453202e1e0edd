"""Issue 19, item 1, the data side: what the librarian's card can say about where a patron asks
from. The widget's page, device class and language, checked strictly (junk dropped, never a
refusal) and redacted before they are kept on the session; an SMS number's country (Twilio's
FromCountry); and the patron's earlier conversations within retention, each linked to its staff
thread (refdesk.patron_context.lines). Through functions/webchat, functions/sms_inbound, moto and
the dispatcher."""
from __future__ import annotations

import json
import re

import pytest

from tests.conftest import invoke, log_to_captured_stdout, pump
from tests.functional.test_erasure import aws_calls
from tests.functional.test_relay import open_conversation, text_in
from tests.functional.test_webchat import send
from tests.functional.test_webchat_visitors import VISITOR, chat_and_close, start

PAGE = {"title": "Interlibrary loan", "path": "/services/ill", "device": "phone", "language": "en-GB"}


def kept_session(session: dict) -> dict:
    from refdesk.store import keys
    from refdesk.store.table import table

    return table().get_item(Key=keys.session(session["session_id"]))["Item"]


def kept_context(session: dict) -> dict:
    return kept_session(session).get("context", {})


def first_chat(aws, slack, session: dict, text: str):
    """The session's first message, shown to staff: its conversation."""
    from refdesk import store

    assert send(session, text)["statusCode"] == 201
    pump(aws)
    return store.conversations.get(kept_session(session)["conversation_id"])


# --- web: the page, device and language ----------------------------------------------------------

def test_a_chat_keeps_the_page_device_and_language_it_started_with_and_the_card_line_says_so(
        aws, slack, monkeypatch, capfd):
    from refdesk import patron_context

    log_to_captured_stdout(monkeypatch)
    session = start({"visitor_id": VISITOR, "context": PAGE})

    assert kept_context(session) == PAGE
    conversation = first_chat(aws, slack, session, "Can I borrow a thesis from another library?")
    assert patron_context.lines(conversation) == ["From “Interlibrary loan” (/services/ill) · phone · en-GB"]
    logs = capfd.readouterr().out
    assert "Interlibrary loan" not in logs and "/services/ill" not in logs and "en-GB" not in logs


def test_what_the_page_says_is_redacted_before_it_is_kept_and_escaped_on_the_card(aws, slack):
    from refdesk import patron_context

    session = start({"context": {"title": "Renew for jane.doe@example.org <b>now</b> & more",
                                 "path": "/account/4111111111111111/holds%40home"}})

    kept = kept_context(session)
    assert kept["title"] == "Renew for [email] <b>now</b> & more"
    assert "4111111111111111" not in kept["path"] and kept["path"].startswith("/account/[")
    assert kept["path"].endswith("/holds@home")  # read as the patron saw it, percent-escapes undone
    conversation = first_chat(aws, slack, session, "My holds page looks wrong")
    [line] = patron_context.lines(conversation)
    assert line.startswith("From “Renew for [email] &lt;b&gt;now&lt;/b&gt; &amp; more” (/account/[")


@pytest.mark.parametrize("context, kept", [
    ("Interlibrary loan", {}),                                        # not an object
    (["/services/ill"], {}),
    ({"title": "x" * 121, **{k: v for k, v in PAGE.items() if k != "title"}},
     {k: v for k, v in PAGE.items() if k != "title"}),                # each field on its own
    ({"title": "Line\nbreak"}, {}),                                   # control characters
    ({"title": "Right\u202eto left"}, {}),                            # a bidi override
    ({"title": "   "}, {}),
    ({"title": 42}, {}),
    ({"path": "/services/ill?card=21234000567890"}, {}),              # a query string
    ({"path": "/services/ill#renew"}, {}),                            # a fragment
    ({"path": "services/ill"}, {}),                                   # not a path
    ({"path": "https://evil.example/ill"}, {}),
    ({"path": "/ill page"}, {}),
    ({"path": "/" + "a" * 300}, {}),
    ({"path": "/bad%0Aline"}, {}),                                    # a control character, escaped
    ({"device": "watch"}, {}),
    ({"device": ["phone"]}, {}),
    ({"language": "<script>"}, {}),
    ({"language": "en-GB-" + "x" * 40}, {}),
    ({"language": "english please"}, {}),
    ({"title": "Ask us", "path": "/ask", "device": "desktop", "language": "fr", "extra": "dropped"},
     {"title": "Ask us", "path": "/ask", "device": "desktop", "language": "fr"}),
])
def test_anything_but_what_each_field_should_be_is_dropped_and_the_chat_starts(aws, context, kept):
    session = start({"visitor_id": VISITOR, "context": context})

    assert kept_context(session) == kept


def test_the_patrons_delete_takes_where_they_asked_from_with_it(aws, slack):
    from tests.functional.test_erasure import delete_event, items_with

    session = start({"visitor_id": VISITOR, "context": PAGE})
    first_chat(aws, slack, session, "Can I borrow a thesis from another library?")
    assert items_with("Interlibrary loan", "/services/ill")

    assert invoke("webchat", delete_event(session))["statusCode"] == 202
    pump(aws)

    assert items_with("Interlibrary loan", "/services/ill") == []


def test_a_chat_without_context_has_no_line_about_where(aws, slack):
    from refdesk import patron_context

    conversation = first_chat(aws, slack, start({}), "Hello?")

    assert patron_context.lines(conversation) == []


# --- SMS: the number's country ------------------------------------------------------------------

def test_an_sms_patrons_country_is_kept_as_its_iso_code_never_the_number(aws, slack):
    from refdesk import patron_context, store

    assert text_in("Do you have passport photos?", FromCountry="GB")["statusCode"] == 200
    pump(aws)
    conversation = store.conversations.get(_last_conversation_id(slack))

    assert store.sessions.context(conversation.anchor) == {"country": "GB"}
    assert patron_context.lines(conversation) == ["SMS from GB"]


@pytest.mark.parametrize("country", ["gb", "GBR", "<b>", "", "4"])
def test_a_country_that_is_not_an_iso_code_is_dropped(aws, slack, country):
    from refdesk import patron_context, store

    assert text_in("Do you have passport photos?", FromCountry=country)["statusCode"] == 200
    pump(aws)
    conversation = store.conversations.get(_last_conversation_id(slack))

    assert store.sessions.context(conversation.anchor) == {}
    assert patron_context.lines(conversation) == []


def _last_conversation_id(slack) -> str:
    from tests.conftest import close_value

    return close_value(slack.roots()[-1])


# --- every channel: earlier conversations ---------------------------------------------------------

def test_a_returning_patron_has_their_earlier_conversations_linked_and_an_erased_one_is_not(aws, slack):
    from refdesk import patron_context, store

    first, erased, second = (chat_and_close(aws, slack, start({"visitor_id": VISITOR}), text)
                             for text in ("Atlases?", "Maps of 1900?", "Road atlases?"))
    gone = store.conversations.get(erased)
    store.erasures.delete_conversation(erased, anchor=gone.anchor, slack_channel=gone.slack_channel,
                                       slack_ts=gone.slack_ts)
    someone_else = chat_and_close(aws, slack, start({}), "Unrelated question")
    now = first_chat(aws, slack, start({"visitor_id": VISITOR, "context": PAGE}), "Back again")
    calls = aws_calls()

    lines = patron_context.lines(now)

    assert calls.count("Query") == 1
    where, earlier = lines
    assert where.startswith("From “Interlibrary loan”")
    links = re.findall(r"<(https://[^|>]+)\|([^>]+)>", earlier)
    assert earlier.startswith("2 earlier conversations: ")
    threads = [store.conversations.get(conversation_id) for conversation_id in (second, first)]  # newest first
    assert [url for url, _ in links] == [
        f"https://slack.com/archives/{thread.slack_channel}/p{thread.slack_ts.replace('.', '')}" for thread in threads]
    assert all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}", day) for _, day in links)
    assert someone_else not in json.dumps(lines) and erased not in json.dumps(lines)


def test_a_first_conversation_has_no_earlier_line(aws, slack):
    from refdesk import patron_context, store

    conversation = open_conversation(aws, slack, "First time here")  # events/sms_inbound.json: FromCountry US

    assert patron_context.lines(store.conversations.get(conversation["conversation_id"])) == ["SMS from US"]


# --- told to patrons ------------------------------------------------------------------------------

def test_the_privacy_notice_says_where_you_asked_from_is_kept_with_the_conversation(aws):
    import html

    from tests.functional.test_privacy_notice import notice

    page = html.unescape(notice())

    assert "the title and address of the web page you started it on" in page
    assert "whether you use a phone, tablet or computer, and your browser's language" in page
    assert "for a text, your number's country. Kept with your conversation, no longer." in page


def test_the_card_shows_the_context_made_once_at_its_first_post_and_keeps_it_when_rebuilt(aws, slack):
    from refdesk import store
    from tests.functional.test_relay import calls_named, press_close

    session = start({"visitor_id": VISITOR, "context": PAGE})
    conversation = first_chat(aws, slack, session, "Can I borrow a thesis from another library?")
    line = "From “Interlibrary loan” (/services/ill) · phone · en-GB"
    root = slack.roots()[-1]
    assert line in json.dumps(root["blocks"], ensure_ascii=False)
    assert store.conversations.get(conversation.conversation_id).context == (line,)

    store.sessions.erase(conversation.anchor)  # the session is gone: a rebuilt card keeps the line
    assert press_close(conversation.conversation_id)["statusCode"] == 200
    pump(aws)
    [update] = [call for call in calls_named(slack, "chat.update") if call["ts"] == root["answered_ts"]][-1:]
    assert line in json.dumps(update["blocks"], ensure_ascii=False)
