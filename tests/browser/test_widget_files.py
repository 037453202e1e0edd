"""Issue 19, item 4, the widget's half, in a real browser: a patron attaches a picture or a PDF
(the paperclip next to Send), which is checked in the page (type, 10 MB), asked for
(POST …/files), uploaded straight to storage with the form the server gave, and sent with the
message (its file_id); the librarians' files come back as links, a picture as its thumbnail.

Two kinds of test. Against the local stack end to end: the picture reaches the staff thread, bytes
that are not a picture get the server's 415, a file a librarian shares in the thread reaches the
widget. And with the chat API stubbed in the page (Playwright routes; presence and the page are the
stack's): what the widget sends, in which order, and how it shows files, independent of storage."""
from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import pytest
from playwright import sync_api

from tests.browser.test_phone_pictures import png
from tests.browser.test_widget import composer, message, open_widget, panel, send

expect = sync_api.expect
Page = sync_api.Page

ATTACH = "Attach a picture or PDF"
CLIP = "\U0001f4ce"
MAX_BYTES = 10 * 1024 * 1024
FAKE = "sfake"  # a stubbed chat's session id
UPLOADS = "https://uploads.example.org/bucket"  # a stubbed presigned POST's URL
FILES = "https://files.example.org/"  # stubbed links to librarians' files


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def attach(page: Page, name: str, mime: str, data: bytes) -> None:
    """Picks a file with the paperclip, as a patron would (the browser's file chooser)."""
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name=ATTACH).click()
    assert chooser.value.is_multiple() is False
    chooser.value.set_files({"name": name, "mimeType": mime, "buffer": data})


def requests_to(page: Page, pattern: str) -> list[sync_api.Request]:
    seen: list[sync_api.Request] = []
    page.on("request", lambda request: seen.append(request) if re.search(pattern, request.url) else None)
    return seen


def axe_violations(page: Page) -> list[dict]:
    """axe-core's violations inside the widget (the page around it is not the widget's)."""
    import axe_playwright_python as axe  # requirements-dev.txt: it brings axe-core's axe.min.js
    page.add_script_tag(path=str(Path(axe.__file__).with_name("axe.min.js")))
    result = page.evaluate("axe.run(document.querySelector('.refdesk-root'), {resultTypes: ['violations']})")
    return [{"id": v["id"], "nodes": [n["html"][:200] for n in v["nodes"]]} for v in result["violations"]]


# --- the chat API stubbed in the page ----------------------------------------------------------

class StubChat:
    """A chat session the page already has (sessionStorage, no live_url: it polls), whose API is
    answered here: GET …/messages lists `self.listed`, POST …/files and the upload answer
    `self.answers` (a status per call, 201/204 once those run out), POST …/messages 201."""

    def __init__(self, page: Page, url: str):
        self.url, self.listed, self.calls = url, [], []
        self.answers: dict[str, list[tuple[int, dict]]] = {"files": [], "upload": [], "messages": []}
        state = {"session_id": FAKE, "token": "tok", "live_url": None, "cursor": None, "open": False, "msgs": []}
        page.add_init_script("if (!sessionStorage.getItem('refdesk.session')) "
                             f"sessionStorage.setItem('refdesk.session', {json.dumps(json.dumps(state))})")
        page.route(re.compile(rf".*/chat/sessions/{FAKE}/(messages|files)(\?.*)?$"), self.api)
        page.route(UPLOADS, self.upload)
        page.route(FILES + "**", lambda route: route.fulfill(
            body=png() if route.request.url.endswith(".png") else pdf(),
            content_type="image/png" if route.request.url.endswith(".png") else "application/pdf"))

    def _next(self, kind: str, default: tuple[int, dict]) -> tuple[int, dict]:
        return self.answers[kind].pop(0) if self.answers[kind] else default

    def api(self, route: sync_api.Route) -> None:
        request = route.request
        kind = "files" if "/files" in request.url else "messages"
        self.calls.append((request.method, kind, request.post_data_json if request.method == "POST" else None,
                           request.headers.get("authorization")))
        if request.method == "GET":
            status, body = 200, {"messages": self.listed, "cursor": "c1", "status": "open", "queue": None}
        elif kind == "files":
            status, body = self._next("files", (201, {
                "file_id": f"f{len(self.calls)}", "max_bytes": MAX_BYTES,
                "upload": {"url": UPLOADS, "fields": {"key": "uploads/c1/f1", "Content-Type": "image/png",
                                                      "policy": "cG9saWN5", "x-amz-signature": "abc"}}}))
        else:
            status, body = self._next("messages", (201, {"message_id": f"m{len(self.calls)}"}))
        route.fulfill(status=status, json=body)

    def upload(self, route: sync_api.Route) -> None:
        request = route.request
        self.calls.append((request.method, "upload", request.post_data_buffer, dict(request.headers)))
        status, _ = self._next("upload", (204, {}))
        route.fulfill(status=status, body="" if status < 300 else "<Error><Code>AccessDenied</Code></Error>")

    def of(self, kind: str) -> list[tuple]:
        return [call for call in self.calls if call[1] == kind and call[0] == "POST"]


@pytest.fixture
def stub(desk, page) -> StubChat:
    desk.on_duty("U0AMANDA")
    return StubChat(page, desk.patron_page)


def librarian_files() -> list[dict]:
    return [
        {"id": "m1", "from": "patron", "name": None, "text": "", "client_id": "old", "at": "2026-12-08T02:00:00Z",
         "files": [{"name": "old-screen.png", "type": "image/png", "size": 12345}]},
        {"id": "m2", "from": "librarian", "name": "Amanda", "text": "Here is the guide.", "client_id": None,
         "at": "2026-12-08T02:01:00Z", "files": [
             {"name": "guide.pdf", "type": "application/pdf", "size": 1_258_291, "url": FILES + "f2/guide.pdf"},
             {"name": "form.docx", "size": 900, "url": FILES + "f2/form.docx",
              "type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
             {"name": "trap.pdf", "type": "application/pdf", "size": 9, "url": "javascript:alert(1)"}]},
        {"id": "m3", "from": "librarian", "name": "Amanda", "text": "", "client_id": None,
         "at": "2026-12-08T02:02:00Z", "files": [{"name": "map.png", "type": "image/png", "size": 2048,
                                                   "url": FILES + "f3/map.png"}]},
    ]


def test_a_picture_is_asked_for_uploaded_with_the_servers_form_then_sent_with_the_text(stub, page):
    open_widget(page, stub.url)
    composer(page).fill("Is this the right form?")
    attach(page, "screen.png", "image/png", png())

    mine = page.locator(".refdesk-me").filter(has_text="screen.png")
    expect(mine).to_contain_text("Is this the right form?")
    expect(mine).to_contain_text(f"{CLIP} screen.png")
    expect(mine.locator(".refdesk-meta")).to_have_count(0)  # sent
    thumbnail = mine.get_by_role("img", name="screen.png")
    expect(thumbnail).to_have_attribute("src", re.compile(r"^blob:"))
    page.wait_for_function("img => img.complete && img.naturalWidth === 16", arg=thumbnail.element_handle())
    expect(composer(page)).to_have_value("")
    expect(composer(page)).to_be_focused()

    [asked] = stub.of("files")
    assert asked[2] == {"name": "screen.png", "type": "image/png", "size": len(png())}
    assert asked[3] == "Bearer tok"
    [(_, _, form, headers)] = stub.of("upload")
    assert "authorization" not in headers and "cookie" not in headers
    names = re.findall(rb'; name="([^"]+)"', form)
    assert names == [b"key", b"Content-Type", b"policy", b"x-amz-signature", b"file"], names  # the file last
    assert png() in form
    [sent] = stub.of("messages")
    assert sent[2]["file_id"] == f"f{stub.calls.index(asked) + 1}", sent
    assert sent[2]["text"] == "Is this the right form?" and sent[2]["client_id"], sent
    assert isinstance(sent[2]["age_ms"], int) and sent[2]["age_ms"] >= 0, sent

    page.reload()  # the picture was this page's: after a reload, its name
    mine = page.locator(".refdesk-me").filter(has_text="screen.png")
    expect(mine).to_contain_text(f"{CLIP} screen.png")
    expect(mine.get_by_role("img")).to_have_count(0)


def test_a_file_too_large_or_of_another_type_is_refused_in_the_page_with_no_request(desk, page, tmp_path):
    desk.on_duty("U0AMANDA")
    chat = requests_to(page, r"/chat/sessions")
    open_widget(page, desk.patron_page)
    alert = page.locator(".refdesk-compose [role=alert]")

    huge = tmp_path / "huge.png"  # a path: the browser reads it, no 10 MB through the protocol
    with huge.open("wb") as out:
        out.write(png())
        out.truncate(MAX_BYTES + 1)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name=ATTACH).click()
    chooser.value.set_files(huge)
    expect(alert).to_have_text("huge.png is too large to send (10 MB at most).")
    attach(page, "notes.txt", "text/plain", b"just text")
    expect(alert).to_have_text("notes.txt cannot be sent: only a picture (PNG, JPEG, GIF, WebP) or a PDF.")

    page.wait_for_timeout(500)
    assert chat == [], [request.url for request in chat]  # not even a session
    expect(page.locator(".refdesk-me")).to_have_count(0)
    assert page.get_by_role("button", name=ATTACH).get_attribute("aria-label") == ATTACH


def test_the_servers_refusals_and_a_failed_upload_are_shown_and_retried(stub, page):
    stub.answers["files"] = [(429, {"error": {"code": "rate_limited", "message": "Too many files in this chat."}})]
    stub.answers["upload"] = [(403, {})]
    stub.answers["messages"] = [(415, {"error": {"code": "unsupported_media_type",
                                                 "message": "That file is not a picture or a PDF."}})]
    open_widget(page, stub.url)

    attach(page, "a.png", "image/png", png())
    first = page.locator(".refdesk-me").filter(has_text="a.png")
    expect(first.locator(".refdesk-meta")).to_have_text("Not sent: Too many files in this chat. Retry")
    assert len(stub.of("files")) == 1  # a 429 for a file is said, not waited out

    attach(page, "b.png", "image/png", png())
    second = page.locator(".refdesk-me").filter(has_text="b.png")
    expect(second.locator(".refdesk-meta")).to_have_text("The file could not be uploaded. Try again. Retry")
    attach(page, "c.png", "image/png", png())
    third = page.locator(".refdesk-me").filter(has_text="c.png")
    expect(third.locator(".refdesk-meta")).to_have_text("Not sent: That file is not a picture or a PDF. Retry")

    second.get_by_role("button", name="Retry sending this message").click()
    expect(second.locator(".refdesk-meta")).to_have_count(0)
    assert [call[2]["file_id"] for call in stub.of("messages")][-1].startswith("f")
    assert len(stub.of("messages")) == 2  # c, then b after its retry; never a, never b before it was uploaded


def test_librarians_files_are_links_a_picture_its_thumbnail_and_the_patrons_own_by_name(stub, page):
    stub.listed = librarian_files()
    open_widget(page, stub.url)

    guide = page.get_by_role("link", name=f"{CLIP} guide.pdf (PDF, 1.2 MB)")
    expect(guide).to_have_attribute("href", FILES + "f2/guide.pdf")
    expect(guide).to_have_attribute("target", "_blank")
    expect(guide).to_have_attribute("rel", "noopener noreferrer")
    expect(page.get_by_role("link", name=f"{CLIP} form.docx (DOCX, 1 KB)")).to_have_attribute("href", FILES + "f2/form.docx")
    expect(message(page, "Here is the guide.").locator(".refdesk-file").nth(2)).to_have_text(f"{CLIP} trap.pdf")
    expect(message(page, "Here is the guide.").get_by_role("link")).to_have_count(2)  # not a javascript: URL

    picture = page.get_by_role("link", name="map.png")
    expect(picture).to_have_attribute("href", FILES + "f3/map.png")
    expect(picture).to_have_attribute("rel", "noopener noreferrer")
    thumbnail = picture.get_by_role("img", name="map.png")
    page.wait_for_function("img => img.complete && img.naturalWidth === 16", arg=thumbnail.element_handle())
    bubble = page.locator(".refdesk-them").filter(has=thumbnail)
    expect(bubble).to_contain_text("Amanda")
    assert thumbnail.bounding_box()["width"] <= bubble.bounding_box()["width"]

    own = page.locator(".refdesk-me").filter(has_text="old-screen.png")
    expect(own).to_have_text(re.compile(rf"You\W*{CLIP} old-screen\.png$"))
    expect(own.get_by_role("link")).to_have_count(0)
    expect(own.get_by_role("img")).to_have_count(0)


def test_axe_finds_nothing_in_the_widget_with_files_both_ways(stub, page, screenshots):
    stub.listed = librarian_files()
    open_widget(page, stub.url)
    expect(page.get_by_role("img", name="map.png")).to_be_visible()
    attach(page, "screen.png", "image/png", png())
    expect(page.locator(".refdesk-me").get_by_role("img", name="screen.png")).to_be_visible()
    attach(page, "notes.txt", "text/plain", b"text")
    expect(page.locator(".refdesk-compose [role=alert]")).to_contain_text("cannot be sent")

    panel(page).screenshot(path=str(screenshots / "widget-files.png"))
    assert axe_violations(page) == []


def test_keyboard_only_on_a_320px_screen(stub, new_page):
    page = new_page(width=320, height=640)
    StubChat(page, stub.url)
    page.goto(stub.url)
    launcher = page.locator("button.refdesk-launcher")
    expect(launcher).to_have_text(re.compile("online now"))
    for _ in range(60):
        page.keyboard.press("Tab")
        if launcher.evaluate("el => el === document.activeElement"):
            break
    page.keyboard.press("Enter")
    expect(panel(page)).to_be_visible()
    expect(composer(page)).to_be_focused()
    page.keyboard.type("From my phone")

    button = page.get_by_role("button", name=ATTACH)
    page.keyboard.press("Tab")
    expect(button).to_be_focused()
    outline = button.evaluate("el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth")
    assert outline.split()[0] != "none" and float(outline.split()[1].rstrip("px")) >= 2, outline
    box = button.bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24, box
    for control in (composer(page), button, page.get_by_role("button", name="Send")):
        expect(control).to_be_in_viewport(ratio=1)

    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files({"name": "receipt.pdf", "mimeType": "application/pdf", "buffer": pdf()})
    mine = page.locator(".refdesk-me").filter(has_text="receipt.pdf")
    expect(mine).to_contain_text(f"From my phone{CLIP} receipt.pdf")  # text, then the file's line
    expect(mine.locator(".refdesk-meta")).to_have_count(0)
    expect(composer(page)).to_be_focused()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320

    with page.expect_file_chooser() as chooser:  # Space works too
        page.keyboard.press("Tab")
        page.keyboard.press("Space")
    chooser.value.set_files({"name": "sheet.xlsx", "mimeType": "application/vnd.ms-excel", "buffer": b"PK"})
    expect(page.get_by_role("alert").filter(has_text="sheet.xlsx")).to_be_visible()


# --- end to end, on the local stack --------------------------------------------------------------

def thread_files(desk, root_ts: str, timeout: float = 20.0) -> list[dict]:
    """The files shared in a conversation's staff thread (the card or its replies), once there are some."""
    deadline = time.monotonic() + timeout
    while True:
        shared = [f for m in desk.slack_messages() if root_ts in (m.get("ts"), m.get("thread_ts"))
                  for f in m.get("files") or []]
        if shared or time.monotonic() > deadline:
            return shared
        time.sleep(0.3)


def test_a_picture_sent_from_the_widget_reaches_the_staff_thread(desk, page, marker):
    desk.on_duty("U0AMANDA")
    open_widget(page, desk.patron_page)
    send(page, f"Where do I find this? ({marker})")
    root = desk.conversation_root(marker)
    composer(page).fill(f"This screen ({marker}-pic)")
    attach(page, "screen.png", "image/png", png())

    mine = message(page, f"{marker}-pic")
    expect(mine).to_contain_text(f"{CLIP} screen.png")
    expect(mine.locator(".refdesk-meta")).to_have_count(0, timeout=20_000)
    [shared] = thread_files(desk, root["ts"])
    assert shared["mimetype"] == "image/png", shared
    assert desk.http.get(shared["url_private"], timeout=30).content == png()


def test_bytes_that_are_not_a_picture_get_the_servers_415(desk, page, marker):
    desk.on_duty("U0AMANDA")
    open_widget(page, desk.patron_page)
    send(page, f"A question first ({marker})")
    desk.conversation_root(marker)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/messages")
                              and r.status == 415, timeout=30_000) as refused:
        attach(page, "notes.png", "image/png", b"these are not the bytes of a picture\n" * 10)
    said = refused.value.json()["error"]["message"]
    assert said
    expect(page.locator(".refdesk-me").filter(has_text="notes.png").locator(".refdesk-meta")).to_have_text(
        f"Not sent: {said} Retry")


def test_a_file_a_librarian_shares_in_the_thread_reaches_the_widget(desk, page, marker):
    desk.on_duty("U0AMANDA")
    open_widget(page, desk.patron_page)
    send(page, f"Do you have the guide? ({marker})")
    root = desk.conversation_root(marker)
    share_in_thread(desk, root["ts"], f"Here it is ({marker}-reply)", "guide.pdf", "application/pdf", pdf())
    share_in_thread(desk, root["ts"], "", "map.png", "image/png", png())

    guide = page.get_by_role("link", name=re.compile(rf"^{CLIP} guide\.pdf \(PDF, 1 KB\)$"))
    expect(guide).to_be_visible(timeout=20_000)
    expect(guide).to_have_attribute("target", "_blank")
    expect(guide).to_have_attribute("rel", "noopener noreferrer")
    assert desk.http.get(guide.get_attribute("href"), timeout=30).content == pdf()  # the link serves the file
    thumbnail = page.get_by_role("link", name="map.png").get_by_role("img", name="map.png")
    expect(thumbnail).to_be_visible(timeout=20_000)
    page.wait_for_function("img => img.complete && img.naturalWidth === 16", arg=thumbnail.element_handle())


def share_in_thread(desk, thread_ts: str, text: str, name: str, mime: str, data: bytes) -> None:
    """A librarian shares a file in the staff thread (files_upload_v2 in Slack, then the event)."""
    desk._post("/_local/api/slack/reply", {
        "thread_ts": thread_ts, "text": text, "user": "U0AMANDA",
        "files": [{"name": name, "content_type": mime, "data": base64.b64encode(data).decode()}]})
