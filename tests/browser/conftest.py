"""Real-browser tests: Python Playwright driving Debian's chromium against the local stack.

The stack is the session-scoped `stack` fixture of tests/e2e/conftest.py (imported below); the
browser is /usr/bin/chromium, never a Playwright-downloaded one. Without that binary every test
here fails, saying how to install it (.ci/run does); without the playwright package the test
modules fail to import. Screenshots go to test-output/screenshots/."""
from __future__ import annotations

import json
import os
import time
import random
import string
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import stack, start_devstack  # noqa: F401  (session fixtures, reused here)
from tests.e2e.conftest import pytest_runtest_setup  # noqa: F401  (the parked stack started again)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LIBRARIANS = ("U0AMANDA", "U0BEN", "U0PRIYA")
PATRON_PAGE = "/_local/static/index.html"
STAFF_PAGE = "/_local/"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.slow)


# --- the browser ----------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"the browser tests drive Debian's chromium, and {CHROMIUM} is missing: "
                    "apt-get install chromium (.ci/run installs it)", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """new_page(width=1280, height=800) -> a page in a fresh context (its own sessionStorage).
    Uncaught script errors on any page fail the test."""
    contexts, errors = [], []

    def make(width: int = 1280, height: int = 800):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


# --- the desk: the local control API --------------------------------------------------

class Desk:
    """Drives the stack's /_local/api as the staff would, for the browser tests."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.trust_env = False  # straight to 127.0.0.1

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def patron_page(self) -> str:
        return self.url(PATRON_PAGE)

    @property
    def staff_page(self) -> str:
        return self.url(STAFF_PAGE)

    def _post(self, path: str, payload: dict) -> dict:
        response = self.http.post(self.url(path), json=payload, timeout=30)
        assert response.ok, f"POST {path} -> {response.status_code} {response.text}"
        return response.json()

    def _get(self, path: str, **params) -> dict:
        response = self.http.get(self.url(path), params=params, timeout=30)
        assert response.ok, f"GET {path} -> {response.status_code} {response.text}"
        return response.json()

    def presence(self) -> dict:
        return self._get("/presence")

    def command(self, text: str, user: str) -> dict:
        answer = self._post("/_local/api/slack/command", {"text": text, "user": user})
        assert answer.get("status") == 200, f"/refdesk {text} as {user}: {answer}"
        return answer

    def on_duty(self, user: str = "U0AMANDA") -> None:
        self.command("on", user)
        presence = self.presence()
        assert presence.get("open_now"), f"the local stack is open round the clock, yet closed now: {presence}"
        assert presence["status"] == "available", presence

    def all_off_duty(self) -> None:
        for user in LIBRARIANS:
            self.command("off", user)
        assert self.presence()["status"] == "unavailable"

    def slack_messages(self) -> list[dict]:
        return self._get("/_local/api/slack/messages")["messages"]

    def conversation_root(self, marker: str, timeout: float = 20.0) -> dict:
        """The root card (thread_ts null) of the conversation in which `marker` was written: the
        card itself, or the root of the thread holding a message with it."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.slack_messages()
            by_ts = {m["ts"]: m for m in messages}
            for message in messages:
                if marker in json.dumps(message, ensure_ascii=False) and not message.get("ephemeral"):
                    root = by_ts.get(message.get("thread_ts")) if message.get("thread_ts") else message
                    if root is not None:
                        return root
            if time.monotonic() > deadline:
                raise AssertionError(f"no staff-channel message mentions {marker!r} after {timeout} s; "
                                     f"recorded: {json.dumps(messages)[-3000:]}")
            time.sleep(0.2)

    def reply(self, thread_ts: str, text: str, user: str = "U0AMANDA") -> dict:
        answer = self._post("/_local/api/slack/reply", {"thread_ts": thread_ts, "text": text, "user": user})
        assert answer.get("status", 200) == 200, answer
        return answer

    def click(self, ts: str, action_id: str, user: str = "U0AMANDA") -> dict:
        return self._post("/_local/api/slack/click", {"ts": ts, "action_id": action_id, "user": user})

    def phone_messages(self, number: str) -> list[dict]:
        return self._get("/_local/api/phone/messages", number=number)["messages"]


@pytest.fixture
def desk(stack) -> Desk:  # noqa: F811  (the imported session fixture)
    return Desk(stack.base_url)


@pytest.fixture
def marker() -> str:
    """A unique word to find this test's messages among everything the shared stack recorded.
    Letters only: a hex word can be all digits, which redaction rightly masks as a phone number."""
    return "m" + "".join(random.choices(string.ascii_lowercase, k=10))


def block_text(message: dict) -> str:
    """Everything a Slack message shows, as one string (its text and every text in its blocks)."""
    parts = [message.get("text") or ""]

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "text" and isinstance(item, str):
                    parts.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(message.get("blocks") or [])
    return "\n".join(parts)


@pytest.fixture
def slack_text():
    return block_text
