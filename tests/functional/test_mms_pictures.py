"""A patron's MMS pictures reach the staff thread, through the real handlers: the webhook records
the media URLs (still at most 2 AWS calls), the dispatcher fetches each picture from the local
Twilio stand-in with the account's basic auth, size-limited and only image/*, and uploads it with
slack_sdk's files_upload_v2 to the local Slack stand-in (files.getUploadURLExternal, the upload
POST, files.completeUploadExternal) into the conversation's thread. What cannot be shown gets a
note in the thread. Nothing of the picture is stored in the table or logged."""
from __future__ import annotations

import base64
import json
import os
import re
import secrets
import socket
import struct
import threading
import time
import zlib

import pytest

from local.servers import Response, Server
from tests.conftest import (ENV, STAFF_CHANNEL, fixture, invoke, log_to_captured_stdout, pump, twilio_event)

ACCOUNT_SID = ENV["TWILIO_ACCOUNT_SID"]
PATRON = "+15551234567"
PHONE_ANY_FORMAT = re.compile(r"\D{0,3}".join("5551234567"))
MAX_BYTES = 5 * 1024 * 1024


# --- helpers ---------------------------------------------------------------------------

def png(width: int = 3, height: int = 2) -> bytes:
    """A real (tiny) PNG, a little different each time."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + secrets.token_bytes(3 * width) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def mms_in(twilio, media: list[tuple[str, bytes | str]], body: str = "", *, declared: list[str] | None = None,
           sid: str | None = None) -> dict:
    """A signed inbound MMS: each medium is kept by the Twilio stand-in (or is a URL, given as str)."""
    sid = sid or "MM" + secrets.token_hex(16)
    params = {**fixture("sms_inbound.json"), "Body": body, "NumMedia": str(len(media))}
    params["MessageSid"] = params["SmsMessageSid"] = params["SmsSid"] = sid
    for index, (content_type, content) in enumerate(media):
        url = content if isinstance(content, str) else twilio.stand_in.add_media(content_type, content, sid)
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = declared[index] if declared else content_type
    response = invoke("sms_inbound", twilio_event(params))
    assert response["statusCode"] == 200, response
    return response


def text_in(body: str) -> None:
    params = {**fixture("sms_inbound.json"), "Body": body}
    params["MessageSid"] = params["SmsMessageSid"] = params["SmsSid"] = "SM" + secrets.token_hex(16)
    assert invoke("sms_inbound", twilio_event(params))["statusCode"] == 200


def shared_files(slack) -> list[dict]:
    """Messages the Slack stand-in shows with files (files_upload_v2 into a channel or thread)."""
    return [message for message in slack.stand_in.messages() if message.get("files")]


def thread_notes(slack, thread_ts: str) -> list[str]:
    return [post["text"] for post in slack.posts() if post.get("thread_ts") == thread_ts]


def card_text(post: dict) -> str:
    return " ".join(block["text"]["text"] for block in post["blocks"] if block.get("type") == "section")


def table_dump() -> str:
    import boto3

    return json.dumps(boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"]).scan()["Items"], default=str)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    from refdesk import pictures

    monkeypatch.setattr(pictures, "BACKOFF_SECONDS", 0)


# --- shown ------------------------------------------------------------------------------

def test_a_picture_opening_a_conversation_is_uploaded_into_its_thread(aws, slack, twilio):
    picture = png()

    mms_in(twilio, [("image/png", picture)], "Is this the right edition?")
    assert slack.calls == []  # the webhook only records the URL
    pump(aws)

    [root] = slack.roots()
    assert "Is this the right edition?" in card_text(root)
    assert "[sent 1 picture]" in card_text(root)
    methods = slack.methods()
    assert methods.index("chat.postMessage") < methods.index("files.getUploadURLExternal") \
        < methods.index("files.completeUploadExternal")
    [[get_url]] = [[params for name, params in slack.calls if name == "files.getUploadURLExternal"]]
    assert int(get_url["length"]) == len(picture) and get_url["filename"] == "picture-1.png"
    [complete] = [params for name, params in slack.calls if name == "files.completeUploadExternal"]
    assert complete["channel_id"] == STAFF_CHANNEL and complete["thread_ts"] == root["answered_ts"]
    [shown] = shared_files(slack)
    assert shown["thread_ts"] == root["answered_ts"] and shown["channel"] == STAFF_CHANNEL
    [file] = shown["files"]
    assert file["mimetype"] == "image/png" and file["size"] == len(picture)
    assert slack.stand_in.file_data(file["id"]) == picture  # the very bytes the patron sent
    assert [(fetch["authorized"], fetch["status"]) for fetch in twilio.stand_in.media_fetches()] == [(True, 200)]
    assert PHONE_ANY_FORMAT.search(json.dumps(slack.calls, ensure_ascii=False)) is None


def test_pictures_sent_later_join_the_same_thread_in_order(aws, slack, twilio):
    text_in("Can you help me find a book?")
    pump(aws)
    [root] = slack.roots()
    first, second = png(), png(5, 5)

    mms_in(twilio, [("image/png", first), ("image/jpeg", second)], "Here are the covers")
    pump(aws)

    assert len(slack.roots()) == 1
    later = [post for post in slack.posts() if post.get("thread_ts") == root["answered_ts"]]
    assert "[sent 2 pictures]" in card_text(later[0])
    shown = shared_files(slack)
    assert [message["thread_ts"] for message in shown] == [root["answered_ts"]] * 2
    assert [slack.stand_in.file_data(message["files"][0]["id"]) for message in shown] == [first, second]
    assert [message["files"][0]["title"] for message in shown] == ["The patron's picture 1 of 2",
                                                                   "The patron's picture 2 of 2"]


def test_a_picture_without_text_still_opens_a_conversation(aws, slack, twilio):
    mms_in(twilio, [("image/gif", png())])
    pump(aws)

    [root] = slack.roots()
    assert "[sent 1 picture]" in card_text(root)
    assert len(shared_files(slack)) == 1


def test_a_slack_failure_mid_upload_is_retried_without_posting_twice(aws, slack, twilio):
    picture = png()
    slack.fail("files.completeUploadExternal", error="internal_error")

    mms_in(twilio, [("image/png", picture)], "Cover attached")
    pump(aws)

    assert len(slack.roots()) == 1  # the card was not posted again
    [shown] = shared_files(slack)
    assert slack.stand_in.file_data(shown["files"][0]["id"]) == picture
    assert slack.methods().count("files.completeUploadExternal") == 2


def test_a_retry_does_not_upload_the_pictures_already_shown(aws, slack, twilio):
    first, second = png(), png(4, 4)
    slack.fail("files.getUploadURLExternal", error="fatal_error", after=1)

    mms_in(twilio, [("image/png", first), ("image/png", second)], "Two pages")
    pump(aws)

    shown = shared_files(slack)
    assert [slack.stand_in.file_data(message["files"][0]["id"]) for message in shown] == [first, second]
    assert len(slack.roots()) == 1


# --- not shown: a note in the thread --------------------------------------------------------

def test_a_picture_over_5_mb_gets_a_note_and_is_not_uploaded(aws, slack, twilio):
    mms_in(twilio, [("image/jpeg", b"\xff\xd8\xff" + b"\0" * MAX_BYTES)], "Big photo")
    pump(aws)

    [root] = slack.roots()
    [note] = thread_notes(slack, root["answered_ts"])
    assert "larger than 5 MB" in note
    assert "files.getUploadURLExternal" not in slack.methods()
    assert shared_files(slack) == []


class EndlessPicture:
    """A media host that never says how long its answer is and would send 64 MB: the download
    must stop soon after 5 MB, whatever the host sends."""

    OFFERED = 64 * 1024 * 1024

    def __init__(self, pause: float = 0.0):
        self.pause = pause
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.sent = 0
        self.request = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        connection, _ = self.listener.accept()
        with connection:
            while b"\r\n\r\n" not in self.request:
                self.request += connection.recv(4096)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n\r\n")
            chunk = b"\0" * 65536
            try:
                while self.sent < self.OFFERED:
                    connection.sendall(chunk)
                    self.sent += len(chunk)
                    time.sleep(self.pause)
            except OSError:  # the client stopped reading and closed
                pass

    def stop(self):
        self.listener.close()
        self.thread.join(10)


def test_the_download_stops_past_5_mb_when_no_length_is_announced(aws, slack, twilio, monkeypatch):
    host = EndlessPicture()
    monkeypatch.setenv("TWILIO_API_URL", host.url)
    from refdesk.settings import get_settings

    get_settings.cache_clear()
    try:
        url = f"{host.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'1' * 32}/Media/ME{'2' * 32}"
        mms_in(twilio, [("image/png", url)], "Photo")
        pump(aws)
    finally:
        host.stop()

    [root] = slack.roots()
    assert any("larger than 5 MB" in note for note in thread_notes(slack, root["answered_ts"]))
    assert host.sent < 32 * 1024 * 1024, host.sent  # the rest was never downloaded
    assert shared_files(slack) == []
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{ENV['TWILIO_AUTH_TOKEN']}".encode())
    assert b"Authorization: Basic " + credentials in host.request


def test_a_picture_that_trickles_in_is_given_up_on_its_deadline(aws, slack, twilio, monkeypatch):
    from refdesk import pictures
    from refdesk.settings import get_settings

    monkeypatch.setattr(pictures, "PICTURE_SECONDS", 1)
    host = EndlessPicture(pause=0.25)
    monkeypatch.setenv("TWILIO_API_URL", host.url)
    get_settings.cache_clear()
    try:
        url = f"{host.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'1' * 32}/Media/ME{'2' * 32}"
        started = time.monotonic()
        mms_in(twilio, [("image/png", url)], "Photo")
        pump(aws)
        elapsed = time.monotonic() - started
    finally:
        host.stop()

    [root] = slack.roots()
    assert any("could not be fetched from Twilio (1 try)" in note for note in thread_notes(slack, root["answered_ts"]))
    assert elapsed < 5


def test_pictures_past_the_jobs_time_wait_for_its_next_attempt(aws, slack, twilio, monkeypatch):
    from refdesk import pictures

    monkeypatch.setattr(pictures, "JOB_SECONDS", 0)  # one picture per attempt
    sent = [png(), png(3, 3), png(4, 4)]

    mms_in(twilio, [("image/png", picture) for picture in sent], "Three pages")
    pump(aws)

    assert [slack.stand_in.file_data(message["files"][0]["id"]) for message in shared_files(slack)] == sent
    assert len(slack.roots()) == 1
    assert [fetch["status"] for fetch in twilio.stand_in.media_fetches()] == [200, 200, 200]


def test_pictures_still_unshown_after_the_last_attempt_get_a_note(aws, slack, twilio, monkeypatch):
    from refdesk import pictures

    monkeypatch.setattr(pictures, "JOB_SECONDS", 0)  # one picture per attempt; MAX_DELIVERY_ATTEMPTS is 3
    mms_in(twilio, [("image/png", png()) for _ in range(5)], "Five pages")
    pump(aws)

    assert len(shared_files(slack)) == 3
    [root] = slack.roots()
    assert any("Some of the pictures the patron sent could not be shown here (3 attempts)" in note
               for note in thread_notes(slack, root["answered_ts"]))


def test_the_redirect_to_twilios_media_cdn_is_followed_without_the_credentials(aws, slack, twilio, monkeypatch):
    """Twilio answers a media URL with a redirect to a short-lived URL on its CDN: that host
    gets no Authorization header."""
    from refdesk.settings import get_settings

    picture, seen = png(), {}

    def cdn(request):
        seen["cdn"] = request.header("authorization")
        return Response(200, picture, [("Content-Type", "image/png")])

    cdn_server = Server(cdn)

    def api(request):
        seen["api"] = request.header("authorization")
        return Response(307, b"", [("Location", f"http://localhost:{cdn_server.port}/signed/picture?sig=abc")])

    api_server = Server(api)
    monkeypatch.setenv("TWILIO_API_URL", api_server.url)
    get_settings.cache_clear()
    try:
        url = f"{api_server.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'1' * 32}/Media/ME{'2' * 32}"
        mms_in(twilio, [("image/png", url)], "Photo")
        pump(aws)
    finally:
        api_server.stop()
        cdn_server.stop()

    assert seen["api"].startswith("Basic ")
    assert seen["cdn"] == ""
    [shown] = shared_files(slack)
    assert slack.stand_in.file_data(shown["files"][0]["id"]) == picture


@pytest.mark.parametrize("content_type", ["audio/mpeg", "text/vcard", "video/mp4", ""])
def test_a_file_that_is_not_a_picture_gets_a_note_and_is_never_fetched(aws, slack, twilio, content_type):
    mms_in(twilio, [(content_type or "application/octet-stream", b"not a picture")], "See attached",
           declared=[content_type])
    pump(aws)

    [root] = slack.roots()
    assert ("[sent 1 file]" if content_type else "[sent 1 picture or file]") in card_text(root)
    [note] = thread_notes(slack, root["answered_ts"])
    assert "only pictures are shown" in note
    assert (f"type {content_type}" in note) if content_type else ("unknown type" in note)
    assert twilio.stand_in.media_fetches() == []
    assert shared_files(slack) == []


def test_a_file_declared_a_picture_but_served_as_something_else_gets_a_note(aws, slack, twilio):
    mms_in(twilio, [("text/html", b"<html>not an image</html>")], "Screenshot", declared=["image/png"])
    pump(aws)

    [root] = slack.roots()
    [note] = thread_notes(slack, root["answered_ts"])
    assert "type text/html" in note and "only pictures are shown" in note
    assert shared_files(slack) == []


def test_a_fetch_that_keeps_failing_gets_a_note_after_three_tries(aws, slack, twilio):
    from local.faults import Fault

    twilio.stand_in.media_faults.add(Fault(status=503, count=5))

    mms_in(twilio, [("image/png", png())], "Photo of the error")
    pump(aws)

    [root] = slack.roots()
    [note] = thread_notes(slack, root["answered_ts"])
    assert "could not be fetched from Twilio (3 tries)" in note
    assert [fetch["status"] for fetch in twilio.stand_in.media_fetches()] == [503, 503, 503]
    assert shared_files(slack) == []


def test_a_fetch_that_fails_once_is_retried_and_shown(aws, slack, twilio):
    from local.faults import Fault

    twilio.stand_in.media_faults.add(Fault(status=500, count=1))
    picture = png()

    mms_in(twilio, [("image/png", picture)], "Photo")
    pump(aws)

    assert [fetch["status"] for fetch in twilio.stand_in.media_fetches()] == [500, 200]
    [shown] = shared_files(slack)
    assert slack.stand_in.file_data(shown["files"][0]["id"]) == picture


def test_a_missing_medium_is_not_retried_and_gets_a_note(aws, slack, twilio):
    url = f"{twilio.stand_in.api_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'3' * 32}/Media/ME{'4' * 32}"

    mms_in(twilio, [("image/png", url)], "Photo")
    pump(aws)

    [root] = slack.roots()
    [note] = thread_notes(slack, root["answered_ts"])
    assert "HTTP 404" in note
    assert [fetch["status"] for fetch in twilio.stand_in.media_fetches()] == [404]


@pytest.mark.parametrize("url", [
    "https://api.twilio.com.example.net/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
    "http://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
    "https://user@api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
    "https://api.twilio.com/some/other/path",
    "https://api.twilio.com:8443/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
    "LOCAL/not-the-media-path",
    "LOCAL-OTHER-PORT",
])
def test_the_credentials_only_ever_go_to_twilios_media_urls(aws, slack, twilio, url):
    requests_seen = []
    decoy = Server(lambda request: requests_seen.append(request) or Response(200, png(), [("Content-Type", "image/png")]))
    try:
        url = (url.replace("LOCAL", twilio.stand_in.api_url) if url != "LOCAL-OTHER-PORT"
               else f"{decoy.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM1/Media/ME1")
        mms_in(twilio, [("image/png", url)], "Photo")
        pump(aws)
    finally:
        decoy.stop()

    [root] = slack.roots()
    [note] = thread_notes(slack, root["answered_ts"])
    assert "not Twilio's" in note
    assert requests_seen == [] and twilio.stand_in.media_fetches() == []
    assert shared_files(slack) == []


def test_the_twilio_stand_in_serves_media_only_with_the_accounts_credentials(twilio):
    import requests

    picture = png()
    url = twilio.stand_in.add_media("image/png", picture)

    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, auth=(ACCOUNT_SID, "wrong-token"), timeout=5).status_code == 401
    answer = requests.get(url, auth=(ACCOUNT_SID, ENV["TWILIO_AUTH_TOKEN"]), timeout=5)
    assert answer.status_code == 200 and answer.content == picture
    assert answer.headers["content-type"] == "image/png"
    assert [fetch["authorized"] for fetch in twilio.stand_in.media_fetches()] == [False, False, True]


# --- the webhook, the table, the logs, old jobs -------------------------------------------

def test_the_webhook_still_makes_at_most_two_aws_calls_for_an_mms(aws, slack, twilio):
    from refdesk import clients

    calls = []
    record = lambda model, **kwargs: calls.append(model.name)  # noqa: E731
    clients.get("table").meta.client.meta.events.register("before-call", record)
    clients.get("sqs").meta.events.register("before-call", record)

    mms_in(twilio, [("image/png", png()), ("image/jpeg", png())], "Two pictures")

    assert 1 <= len(calls) <= 2, calls
    assert slack.calls == [] and twilio.stand_in.media_fetches() == []


def test_the_pictures_and_their_urls_are_never_stored_in_the_table(aws, slack, twilio):
    picture = png(8, 8)
    mms_in(twilio, [("image/png", picture)], "Photo")
    pump(aws)
    assert len(shared_files(slack)) == 1

    stored = table_dump()
    assert "/Media/ME" not in stored and ACCOUNT_SID not in stored
    assert base64.b64encode(picture).decode()[:40] not in stored
    assert picture.hex()[:40] not in stored


def test_a_job_queued_before_pictures_existed_still_loads(aws):
    from refdesk.models import InboundMessage, PatronMessageJob, job_from_body

    old = {"kind": "patron_message", "conversation_id": "c1", "at": "2026-01-01T00:00:00.000000Z",
           "message": {"channel": "sms", "message_id": "SM" + "0" * 32, "session_id": "sms-x", "patron_id": "x",
                       "label": "SMS ···4567", "text": "hello", "reply_address": PATRON, "follow_up": False,
                       "patron_name": ""}}
    job = job_from_body(json.dumps(old))
    assert isinstance(job, PatronMessageJob) and job.message.media == ()

    with_media = PatronMessageJob(message=InboundMessage(
        channel="sms", message_id="MM1", session_id="s", patron_id="p", label="l", text="t",
        media=(("https://api.twilio.com/x", "image/png"),)), conversation_id="c1", at="now")
    again = job_from_body(with_media.to_body())
    assert again == with_media and hash(again.message)


def test_logs_hold_no_number_no_media_url_and_no_text(aws, slack, twilio, capfd, monkeypatch):
    from local.faults import Fault

    log_to_captured_stdout(monkeypatch)
    capfd.readouterr()
    secret_text = "My library card number is 29999001234567"
    twilio.stand_in.media_faults.add(Fault(status=500, count=1))

    mms_in(twilio, [("image/png", png()), ("image/png", b"x" * (MAX_BYTES + 1)), ("audio/amr", b"amr")],
           secret_text)
    pump(aws)

    out = capfd.readouterr()
    logs = out.out + out.err
    assert "patron picture shown" in logs and "patron picture not shown" in logs  # the logs were captured
    assert PHONE_ANY_FORMAT.search(logs) is None
    assert ACCOUNT_SID not in logs and "/Media/" not in logs and "Accounts/" not in logs
    assert secret_text not in logs and "29999001234567" not in logs
