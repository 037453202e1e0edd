"""Issue 19, item 4: files in web chat, both ways, through the real handlers and moto's S3.

From the patron: POST /chat/sessions/{id}/files answers a presigned POST (the type and size range
in its policy); the browser's form upload goes straight to S3 (here: to moto, over HTTP, as the
widget's would); the message naming the file is accepted only when the file's first bytes prove it a
picture or a PDF; the dispatcher uploads it into the staff thread (files_upload_v2) and deletes it.
From a librarian: a file shared in the thread is copied from Slack (files.info and its
url_private_download with the bot token) and reaches a web patron as a link in the message's files,
an SMS patron as MMS media (a picture) or a link in the text (anything else). Each refusal is a clear
4xx with nothing kept; a patron's delete removes the files and their links then answer 410."""
from __future__ import annotations

import json
import os
import time
import urllib.parse
import uuid

import pytest
import requests

from tests.conftest import (STAFF_CHANNEL, close_value, fixture, invoke, log_to_captured_stdout, pump, slack_event,
                            twilio_event)
from tests.functional.test_mms_pictures import png, shared_files
from tests.functional.test_webchat import (body_of, create_session, error_of, header, message_event, poll,
                                           press_close, send, slack_ts)

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


# --- helpers ---------------------------------------------------------------------------

def ask_upload(session: dict, body: dict | None = None, *, token: str | None = None) -> dict:
    event = message_event(session, body or {"name": "screen.png", "type": "image/png", "size": 1000}, token=token)
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/chat/sessions/{session['session_id']}/files"
    event["routeKey"] = "POST /chat/sessions/{id}/files"
    return invoke("webchat", event)


def upload(session: dict, data: bytes, kind: str = "image/png") -> str:
    """The widget's two steps: the presigned POST asked for, then the form posted to S3."""
    answer = ask_upload(session, {"name": "f", "type": kind, "size": len(data)})
    assert answer["statusCode"] == 201, answer
    form = body_of(answer)
    posted = requests.post(form["upload"]["url"], data=form["upload"]["fields"], files={"file": ("f", data, kind)},
                           timeout=10)
    assert posted.status_code in (200, 201, 204), posted.text
    return form["file_id"]


def send_file(session: dict, file_id: str, text: str = "") -> dict:
    return invoke("webchat", message_event(session, {"text": text, "client_id": str(uuid.uuid4()),
                                                     "file_id": file_id}))


def bucket_keys(prefix: str = "") -> list[str]:
    import boto3

    listed = boto3.client("s3").list_objects_v2(Bucket=os.environ["FILES_BUCKET"], Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", ())]


def staff_reply_with_files(slack, root_ts: str, files: list[tuple[str, str, bytes]], text: str = "") -> dict:
    """A librarian attaches files to a thread reply: Slack keeps them and sends a file_share."""
    shared = [slack.stand_in.share_file(name, kind, data, "U0AMANDA") for name, kind, data in files]
    payload = fixture("slack_file_share.json")
    ts = slack_ts()
    payload["event_id"] = "Ev" + uuid.uuid4().hex[:12].upper()
    payload["event"].update({"thread_ts": root_ts, "text": text, "user": "U0AMANDA", "ts": ts, "event_ts": ts,
                             "channel": STAFF_CHANNEL, "files": shared})
    assert invoke("slack_events", slack_event("/slack/events", json.dumps(payload)))["statusCode"] == 200
    return payload


def web_chat_with_answer_thread(aws, slack) -> tuple[dict, str]:
    session = create_session()
    assert send(session, "How do I cite a map?")["statusCode"] == 201
    pump(aws)
    [root] = [post for post in slack.roots() if "cite a map" in json.dumps(post)]
    return session, root["answered_ts"]


def open_link(link: str, method: str = "GET") -> dict:
    """The patron opens a link: the API's answer (in process), a redirect to S3 when it is good."""
    path = urllib.parse.urlsplit(link).path
    event = message_event("s0", b"")
    event.update(rawPath=path, routeKey=f"{method} /files/{{token}}",
                 pathParameters={"token": urllib.parse.unquote(path.removeprefix("/files/"))})
    event["requestContext"]["http"].update(method=method, path=path)
    for name in ("origin", "authorization", "content-type"):
        event["headers"].pop(name, None)
    return invoke("webchat", event)


def fetched(link: str) -> requests.Response:
    """What the browser gets at the end of the link's redirect."""
    response = open_link(link)
    assert response["statusCode"] == 302, response
    return requests.get(header(response, "location"), timeout=10)


# --- from the patron ---------------------------------------------------------------------

def test_a_picture_the_patron_uploads_reaches_the_thread_and_is_then_deleted(aws, slack):
    session, _ = web_chat_with_answer_thread(aws, slack)
    picture = png()
    file_id = upload(session, picture)
    assert bucket_keys("uploads/") != []

    response = send_file(session, file_id, "This is the error I get")
    assert response["statusCode"] == 201, response
    pump(aws)

    [shared] = shared_files(slack)
    assert slack.stand_in.file_data(shared["files"][0]["id"]) == picture
    assert shared["files"][0]["title"] == "The patron's picture"
    assert any("This is the error I get" in json.dumps(post) and "[sent 1 picture]" in json.dumps(post)
               for post in slack.posts())
    assert bucket_keys() == []  # kept in Slack only
    own = [message for message in poll(session)["messages"] if message["from"] == "patron"]
    assert own[-1]["text"] == "This is the error I get\n[sent 1 picture]"


def test_a_pdf_alone_is_a_message_and_is_shown_as_a_file(aws, slack):
    session, _ = web_chat_with_answer_thread(aws, slack)
    assert send_file(session, upload(session, PDF, "application/pdf"))["statusCode"] == 201
    pump(aws)
    [shared] = shared_files(slack)
    assert (shared["files"][0]["name"], shared["files"][0]["title"]) == ("file-1.pdf", "The patron's file")


def test_bytes_that_are_not_a_picture_or_a_pdf_are_415_and_nothing_is_kept(aws, slack):
    session, _ = web_chat_with_answer_thread(aws, slack)
    file_id = upload(session, b"<html><script>alert(1)</script></html>", "image/png")  # named a PNG

    response = send_file(session, file_id, "see this")

    assert response["statusCode"] == 415
    assert "not a picture or a PDF" in error_of(response)["message"]
    assert bucket_keys() == []
    pump(aws)
    assert shared_files(slack) == [] and not any("see this" in json.dumps(post) for post in slack.posts())


@pytest.mark.parametrize("body, status", [
    ({"name": "a.exe", "type": "application/x-msdownload", "size": 10}, 415),
    ({"name": "big.png", "type": "image/png", "size": 10 * 1024 * 1024 + 1}, 413),
    ({"name": "empty.png", "type": "image/png", "size": 0}, 413),
    ({"type": "image/png"}, 400),
    ({"type": "image/png", "size": "12"}, 400),
])
def test_a_file_the_desk_would_refuse_gets_no_upload_form(aws, body, status):
    response = ask_upload(create_session(), body)
    assert response["statusCode"] == status
    assert error_of(response)["message"]


def test_a_file_larger_than_its_policy_allows_is_refused_when_sent_and_deleted(aws, slack):
    """S3 itself refuses a body outside the policy's content-length-range; moto does not, so the
    size is read again before the message is taken."""
    session, _ = web_chat_with_answer_thread(aws, slack)
    answer = body_of(ask_upload(session, {"type": "image/png", "size": 100}))
    big = png() + b"\0" * (10 * 1024 * 1024)
    requests.post(answer["upload"]["url"], data=answer["upload"]["fields"], files={"file": ("f", big, "image/png")},
                  timeout=30)

    response = send_file(session, answer["file_id"])

    assert response["statusCode"] == 413
    assert bucket_keys() == []


def test_after_the_chat_ended_no_upload_is_offered_and_a_file_sent_is_409_and_deleted(aws, slack):
    session, _ = web_chat_with_answer_thread(aws, slack)
    file_id = upload(session, png())
    press_close(close_value(slack.roots()[0]))
    pump(aws)

    later = send_file(session, file_id)

    assert later["statusCode"] == 409 and error_of(later)["code"] == "closed"
    assert bucket_keys() == []
    assert ask_upload(session)["statusCode"] == 409


def test_an_unknown_or_malformed_file_id_is_refused(aws, slack):
    session, _ = web_chat_with_answer_thread(aws, slack)
    assert send_file(session, "f0123456789abcdef")["statusCode"] == 404
    assert send_file(session, "../uploads/x")["statusCode"] == 400


def test_a_wrong_token_gets_no_upload_form(aws):
    response = ask_upload(create_session(), token="not-the-token")
    assert response["statusCode"] == 403


# --- from a librarian --------------------------------------------------------------------

def test_a_librarians_pdf_reaches_a_web_patron_as_a_link_that_serves_it(aws, slack):
    session, root_ts = web_chat_with_answer_thread(aws, slack)
    staff_reply_with_files(slack, root_ts, [("Map citation guide.pdf", "application/pdf", PDF)], "Here is our guide")
    pump(aws)

    [reply] = [message for message in poll(session)["messages"] if message["from"] == "librarian"]
    assert reply["text"] == "Here is our guide"
    [shared] = reply["files"]
    assert (shared["name"], shared["type"], shared["size"]) == ("Map citation guide.pdf", "application/pdf", len(PDF))
    got = fetched(shared["url"])
    assert (got.status_code, got.content) == (200, PDF)
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("inline")


def test_only_files_and_no_text_is_a_reply_too(aws, slack):
    session, root_ts = web_chat_with_answer_thread(aws, slack)
    staff_reply_with_files(slack, root_ts, [("map.png", "image/png", png())])
    pump(aws)
    [reply] = [message for message in poll(session)["messages"] if message["from"] == "librarian"]
    assert (reply["text"], [shared["name"] for shared in reply["files"]]) == ("", ["map.png"])
    assert "chat.postEphemeral" not in slack.methods()  # nothing to tell the librarian


def test_a_file_of_another_type_is_downloaded_never_opened(aws, slack):
    session, root_ts = web_chat_with_answer_thread(aws, slack)
    staff_reply_with_files(slack, root_ts, [("page.html", "text/html", b"<script>alert(1)</script>")], "as asked")
    pump(aws)
    [reply] = [message for message in poll(session)["messages"] if message["from"] == "librarian"]
    assert fetched(reply["files"][0]["url"]).headers["content-disposition"] == (
        "attachment; filename=\"page.html\"; filename*=UTF-8''page.html")


def test_a_file_name_beyond_ascii_is_downloaded_under_its_own_name(aws, slack):
    session, root_ts = web_chat_with_answer_thread(aws, slack)
    staff_reply_with_files(slack, root_ts, [("Guía de citas.pdf", "application/pdf", PDF)], "Aquí está")
    pump(aws)
    [reply] = [message for message in poll(session)["messages"] if message["from"] == "librarian"]
    assert reply["files"][0]["name"] == "Guía de citas.pdf"
    assert fetched(reply["files"][0]["url"]).headers["content-disposition"] == (
        "inline; filename=\"Gu?a de citas.pdf\"; filename*=UTF-8''Gu%C3%ADa%20de%20citas.pdf")


def test_a_tampered_link_is_404_and_one_past_its_time_410(aws, slack, monkeypatch):
    session, root_ts = web_chat_with_answer_thread(aws, slack)
    staff_reply_with_files(slack, root_ts, [("guide.pdf", "application/pdf", PDF)], "Here")
    pump(aws)
    [reply] = [message for message in poll(session)["messages"] if message["from"] == "librarian"]
    link = reply["files"][0]["url"]
    payload, _, signature = link.rpartition(".")
    assert open_link(f"{payload}.{signature[::-1]}")["statusCode"] == 404
    conversation, file_id, expires = payload.rsplit("/", 1)[1].split(".")
    assert open_link(link.replace(f".{expires}.", f".{int(expires, 16) + 1:x}."))["statusCode"] == 404
    assert open_link(link, "HEAD")["statusCode"] == 302  # Twilio checks MMS media with HEAD

    monkeypatch.setattr(time, "time", lambda: int(expires, 16) + 1)
    gone = open_link(link)
    assert gone["statusCode"] == 410 and "no longer available" in error_of(gone)["message"]


def test_a_picture_reaches_an_sms_patron_as_mms_media_and_a_pdf_as_a_link(aws, slack, twilio):
    from tests.functional.test_mms_pictures import text_in

    text_in("Where can I find old town maps?")
    pump(aws)
    [root] = slack.roots()
    picture = png()
    staff_reply_with_files(slack, root["answered_ts"], [("1890 map.png", "image/png", picture),
                                               ("guide.pdf", "application/pdf", PDF)], "Two things for you")
    pump(aws)

    [sent] = [text for text in twilio.stand_in.sent() if "Two things" in text["body"]]
    [pdf_line] = [line for line in sent["body"].splitlines() if "guide.pdf" in line]
    assert "1890 map.png" not in sent["body"]
    pictures = [url for url in sent["media_urls"] if "/files/" in url]
    assert len(pictures) == 1
    assert fetched(pictures[0]).content == picture
    assert fetched(pdf_line.split(": ", 1)[1]).content == PDF


def test_a_retried_reply_copies_its_files_once_and_sends_the_link_once(aws, slack, twilio):
    from tests.functional.test_mms_pictures import text_in

    text_in("Any maps of the harbour?")
    pump(aws)
    [root] = slack.roots()
    slack.fail("files.info", status=503)  # Slack failing once: the job is tried again
    staff_reply_with_files(slack, root["answered_ts"], [("harbour.pdf", "application/pdf", PDF)], "One map")
    outcomes = pump(aws)

    assert outcomes[:2] == ["retry", "done"]
    assert len([text for text in twilio.sent if "harbour.pdf" in text["body"]]) == 1
    assert len(bucket_keys("files/")) == 1


def test_a_file_slack_no_longer_has_is_named_to_the_librarian_and_the_text_still_goes(aws, slack, twilio):
    from tests.functional.test_mms_pictures import text_in

    text_in("Do you have census records?")
    pump(aws)
    [root] = slack.roots()
    payload = staff_reply_with_files(slack, root["answered_ts"], [("census.pdf", "application/pdf", PDF)],
                                     "Yes, see here")
    slack.stand_in.delete_file(payload["event"]["files"][0]["id"])  # deleted before the dispatcher came
    pump(aws)

    [answer] = [text["body"] for text in twilio.sent if "Yes, see here" in text["body"]]
    assert "census" not in answer and "/files/" not in answer
    [told] = [params for method, params in slack.calls if method == "chat.postEphemeral"]
    assert told["text"] == "A file was not sent: Slack no longer has it (deleted meanwhile)."
    assert bucket_keys() == []


def test_the_patrons_delete_removes_the_files_and_their_links_then_answer_410(aws, slack):
    session, root_ts = web_chat_with_answer_thread(aws, slack)
    staff_reply_with_files(slack, root_ts, [("guide.pdf", "application/pdf", PDF)], "Here")
    pump(aws)
    file_id = upload(session, png())  # uploaded, never sent
    [reply] = [message for message in poll(session)["messages"] if message["from"] == "librarian"]
    assert len(bucket_keys()) == 2

    event = message_event(session, b"")
    event.update(routeKey="DELETE /chat/sessions/{id}", rawPath=f"/chat/sessions/{session['session_id']}")
    event["requestContext"]["http"].update(method="DELETE", path=event["rawPath"])
    assert invoke("webchat", event)["statusCode"] == 202
    pump(aws)

    assert bucket_keys() == []
    assert open_link(reply["files"][0]["url"])["statusCode"] == 410
    assert file_id


def test_no_file_name_link_or_byte_is_logged(aws, slack, monkeypatch, capfd):
    log_to_captured_stdout(monkeypatch)
    session, root_ts = web_chat_with_answer_thread(aws, slack)
    send_file(session, upload(session, png()), "my library card is 21234567890123")
    staff_reply_with_files(slack, root_ts, [("Priya Sharma record.pdf", "application/pdf", PDF)], "Here")
    pump(aws)
    [reply] = [message for message in poll(session)["messages"] if message["from"] == "librarian"]
    out = "".join(capfd.readouterr())
    assert "Priya" not in out and "21234567890123" not in out
    assert reply["files"][0]["url"].rsplit(".", 1)[1] not in out


def test_s3_failing_while_a_file_is_checked_is_a_503_to_retry_and_nothing_is_taken(aws, slack, monkeypatch):
    """S3 busy after the client's own retries (here: every HEAD answered 503 SlowDown): the widget is
    told to try again, nothing reaches the staff, and the same send succeeds once S3 is back."""
    from botocore.exceptions import ClientError

    from refdesk import clients

    session, _ = web_chat_with_answer_thread(aws, slack)
    file_id = upload(session, png())
    s3 = clients.get("s3")
    real_head = s3.head_object

    def busy(**kwargs):
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
                           "ResponseMetadata": {"HTTPStatusCode": 503}}, "HeadObject")

    monkeypatch.setattr(s3, "head_object", busy)
    client_id = str(uuid.uuid4())
    body = {"text": "", "client_id": client_id, "file_id": file_id}
    refused = invoke("webchat", message_event(session, body))
    assert refused["statusCode"] == 503 and header(refused, "retry-after")
    pump(aws)
    assert shared_files(slack) == []

    monkeypatch.setattr(s3, "head_object", real_head)
    assert invoke("webchat", message_event(session, body))["statusCode"] == 201
    pump(aws)
    assert len(shared_files(slack)) == 1
