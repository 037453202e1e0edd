"""Files both ways, end to end over the local stack (its shared instance), as the widget and the
Slack client do it: the widget asks for an upload form and posts the picture straight to the
stack's S3 (moto, over HTTP, a cross-origin form POST), then sends its message naming the file; the
staff thread shows the picture (files_upload_v2). A librarian attaches a PDF to a thread reply
(the control API, as Slack's composer: a file_share event); the widget lists it with a link that
redirects to S3 and serves the bytes; an SMS patron gets a picture as MMS media whose link Twilio
can fetch. Refusals are the widget's clear 4xx."""
from __future__ import annotations

import base64
import uuid

from tests.e2e.test_mms_e2e import png

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def chat(stack) -> dict:
    created = stack.post("/chat/sessions", headers={"Origin": stack.base_url})
    assert created.status_code == 201, created.text
    return created.json()


def headers(stack, session: dict) -> dict:
    return {"Origin": stack.base_url, "Authorization": f"Bearer {session['token']}"}


def say(stack, session: dict, text: str, **extra) -> object:
    return stack.post(f"/chat/sessions/{session['session_id']}/messages", headers=headers(stack, session),
                      json={"text": text, "client_id": uuid.uuid4().hex, **extra})


def upload(stack, session: dict, data: bytes, kind: str) -> str:
    asked = stack.post(f"/chat/sessions/{session['session_id']}/files", headers=headers(stack, session),
                       json={"name": "screen", "type": kind, "size": len(data)})
    assert asked.status_code == 201, asked.text
    form = asked.json()
    posted = stack.http.post(form["upload"]["url"], data=form["upload"]["fields"], files={"file": ("f", data, kind)},
                             headers={"Origin": stack.base_url}, timeout=10)
    assert posted.status_code in (200, 201, 204), posted.text
    assert posted.headers.get("access-control-allow-origin") in ("*", stack.base_url)  # the widget reads it
    return form["file_id"]


def messages(stack) -> list[dict]:
    return stack.get_json("/_local/api/slack/messages")["messages"]


def root_for(stack, marker: str) -> dict:
    return stack.wait_until(lambda: next((m for m in messages(stack) if not m["thread_ts"]
                                          and marker in str(m["blocks"])), None), message=f"a card for {marker}")


def reply_with_file(stack, root: dict, name: str, kind: str, data: bytes, text: str = "") -> None:
    answer = stack.post_json("/_local/api/slack/reply", {
        "thread_ts": root["ts"], "text": text,
        "files": [{"name": name, "content_type": kind, "data": base64.b64encode(data).decode()}]})
    assert answer["status"] == 200


def test_a_picture_from_the_widget_reaches_the_thread_and_a_librarians_pdf_reaches_the_widget(stack):
    marker = "k" + uuid.uuid4().hex[:7]
    session = chat(stack)
    assert say(stack, session, f"My login fails {marker}").status_code == 201
    root = root_for(stack, marker)
    picture = png()

    sent = say(stack, session, "this is what I see", file_id=upload(stack, session, picture, "image/png"))

    assert sent.status_code == 201, sent.text
    shown = stack.wait_until(lambda: next((m for m in messages(stack) if m["thread_ts"] == root["ts"]
                                           and m.get("files")), None), message="the picture in the thread")
    assert stack.http.get(shown["files"][0]["url_private"], timeout=10).content == picture

    reply_with_file(stack, root, "Reset your password.pdf", "application/pdf", PDF, "These steps should help")

    def librarian_files():
        listed = stack.get(f"/chat/sessions/{session['session_id']}/messages", headers=headers(stack, session))
        return next((m["files"] for m in listed.json()["messages"] if m["from"] == "librarian" and m.get("files")),
                    None)

    [shared] = stack.wait_until(librarian_files, message="the librarian's file in the widget")
    assert shared["name"] == "Reset your password.pdf"
    redirect = stack.http.get(shared["url"], allow_redirects=False, timeout=10)
    assert redirect.status_code == 302 and redirect.headers["cache-control"] == "no-store"
    served = stack.http.get(shared["url"], timeout=10)
    assert (served.status_code, served.content, served.headers["content-type"]) == (200, PDF, "application/pdf")


def test_the_widget_is_told_what_is_refused(stack):
    session = chat(stack)
    assert say(stack, session, "Hello " + uuid.uuid4().hex[:6]).status_code == 201
    too_big = stack.post(f"/chat/sessions/{session['session_id']}/files", headers=headers(stack, session),
                         json={"type": "image/png", "size": 11 * 1024 * 1024})
    assert too_big.status_code == 413 and "10 MB" in too_big.json()["error"]["message"]
    disguised = say(stack, session, "", file_id=upload(stack, session, b"MZ\x90\x00 not a picture", "image/png"))
    assert disguised.status_code == 415 and "not a picture or a PDF" in disguised.json()["error"]["message"]


def test_a_librarians_picture_reaches_an_sms_patron_as_mms_media_twilio_can_fetch(stack):
    marker = "k" + uuid.uuid4().hex[:7]
    number = "+1555" + str(uuid.uuid4().int)[:7]
    stack.post_json("/_local/api/phone/send", {"from": number, "body": f"Which floor are maps on? {marker}"})
    root = root_for(stack, marker)
    picture = png()

    reply_with_file(stack, root, "floor plan.png", "image/png", picture, f"Second floor {marker}")

    def texted():
        return next((m for m in stack.get_json("/_local/api/phone/messages", number=number)["messages"]
                     if marker in m["body"] and m.get("media_urls")), None)

    text = stack.wait_until(texted, message="the MMS to the patron")
    [media] = [url for url in text["media_urls"] if "/files/" in url]
    assert stack.http.head(media, timeout=10).status_code in (200, 302)
    fetched = stack.http.get(media, timeout=10)
    assert (fetched.content, fetched.headers["content-type"]) == (picture, "image/png")
