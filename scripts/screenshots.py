"""`make screenshots`: the README's pictures of the staff side, made again from a scripted desk.

Starts a local stack of its own (tests/e2e/conftest.py's Stack: `python -m local.devstack` on a
free port, output in test-output/devstack-<port>.log), plays a small desk through its control API
and the widget's API, then opens the local staff view (/_local/) in headless chromium (as the
browser tests do: Debian's /usr/bin/chromium, tests/browser/conftest.py) and saves

  docs/card.png      the card and thread of a web chat begun on a catalogue page: its context
                     lines (the page, the device, the language, the patron's earlier conversations)
  docs/home-tab.png  a librarian's Home tab: the filter, who waits with their question's preview,
                     Claim, and the canned replies

Every patron is fictional: numbers in +1 555 010 …, example.org, made-up visitor ids.

    .venv/bin/python scripts/screenshots.py [--out docs]"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, STAFF_PAGE, Desk, block_text  # noqa: E402
from tests.e2e.conftest import Stack  # noqa: E402

# The card: a returning web visitor (the same visitor id as two earlier chats) on a record of the
# catalogue, from a phone. The widget sends this context when it makes the session.
VISITOR = "readme-example-visitor-0001"
CATALOGUE_PAGE = {"title": "The Overstory / Richard Powers — Riverside Public Library catalogue",
                  "path": "/catalog/record/the-overstory", "device": "phone", "language": "en-US"}
EARLIER_QUESTIONS = ("Do you have museum passes I can borrow this weekend?",
                     "How do I download audiobooks on my phone?")
CARD_QUESTION = ("The catalogue says The Overstory is on the shelf at Main, but it isn't in Fiction "
                 "under P. Could someone check for me?")
CARD_REPLY = "Hi! I'm at the Fiction shelves now — one moment, I'll take a look."

SMS_WAITING = ("+15550100142", "Hi, is the Main branch open on Sunday? And can I print from my phone there?")
SMS_CLAIMED = ("+15550100187", "Can I renew my books by text message?")
PARTNER_QUESTION = "Can visiting researchers from Riverside University use the library's JSTOR access?"
WEB_WAITING = {"context": {"title": "Events — Riverside Public Library", "path": "/events", "device": "desktop",
                           "language": "es-US"},
               "text": "¿Tienen clases de inglés para adultos por la tarde?"}

AMANDA, BEN = "U0AMANDA", "U0BEN"
# Under 820 px the staff view stacks its panes and each thread takes the page's width less 24 px.
PAGE_WIDTH = 724


class Patron:
    """A web chat as the widget makes it: POST /chat/sessions with the visitor id and the page."""

    def __init__(self, stack: Stack, visitor: str = "", context: dict | None = None):
        body = {key: value for key, value in (("visitor_id", visitor), ("context", context)) if value}
        session = stack.post_json("/chat/sessions", body)
        self.stack, self.session_id, self.token = stack, session["session_id"], session["token"]

    def say(self, text: str) -> None:
        response = self.stack.post(f"/chat/sessions/{self.session_id}/messages",
                                   json={"text": text, "client_id": f"readme-{time.monotonic_ns()}"},
                                   headers={"Authorization": f"Bearer {self.token}"})
        assert response.ok, f"sending {text!r} -> {response.status_code} {response.text}"


def play_desk(stack: Stack) -> dict[str, str]:
    """The desk the pictures show; returns the ts of the card to photograph ("card")."""
    desk = Desk(stack.base_url)
    desk.on_duty(AMANDA)
    desk.on_duty(BEN)

    for question in EARLIER_QUESTIONS:  # the returning visitor's earlier chats, answered and closed
        patron = Patron(stack, VISITOR, {**CATALOGUE_PAGE, "title": "Riverside Public Library", "path": "/"})
        patron.say(question)
        root = desk.conversation_root(question)
        desk.reply(root["ts"], "Yes — happy to help! Here's how.", AMANDA)
        stack.wait_until(lambda: "Claimed by" in _card_text(desk, root["ts"]), timeout=30,
                         message="the earlier chat's claim")
        desk.click(root["ts"], "close_conversation", AMANDA)
        stack.wait_until(lambda: _card(desk, root["ts"])["text"].startswith("[closed]"),
                         timeout=30, message="the earlier chat's close")

    number, text = SMS_CLAIMED
    stack.post_json("/_local/api/phone/send", {"from": number, "body": text})
    claimed = desk.conversation_root(text)

    number, text = SMS_WAITING
    stack.post_json("/_local/api/phone/send", {"from": number, "body": text})
    desk.conversation_root(text)

    patron = Patron(stack, VISITOR, CATALOGUE_PAGE)
    patron.say(CARD_QUESTION)
    card = desk.conversation_root(CARD_QUESTION)

    stack.post_json("/_local/api/slack/partner", {"text": PARTNER_QUESTION, "user": "U0PARTNER1"})
    desk.conversation_root(PARTNER_QUESTION)

    other = Patron(stack, "readme-example-visitor-0002", WEB_WAITING["context"])
    other.say(WEB_WAITING["text"])
    desk.conversation_root(WEB_WAITING["text"])

    desk.click(claimed["ts"], "claim_conversation", BEN)
    desk.reply(card["ts"], CARD_REPLY, AMANDA)
    stack.wait_until(lambda: all("Claimed by" in _card_text(desk, ts) for ts in (claimed["ts"], card["ts"])),
                     timeout=30, message="the claims on the cards")
    return {"card": card["ts"]}


def _card(desk: Desk, ts: str) -> dict:
    return next(message for message in desk.slack_messages() if message["ts"] == ts)


def _card_text(desk: Desk, ts: str) -> str:
    return block_text(_card(desk, ts))


# The staff view writes a Slack link <url|label> as "label (url)"; Slack shows the label, linked.
# The earlier conversations' dates are such links: shown here as Slack shows them.
SLACK_LINKS = r"""blocks => blocks.forEach(block => {
  const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT), texts = [];
  while (walker.nextNode()) texts.push(walker.currentNode);
  texts.forEach(node => {
    const parts = node.textContent.split(/([^\s,:(][^,:(]*?) \((https:\/\/[^)\s]+)\)/);
    if (parts.length === 1) return;
    const out = document.createDocumentFragment();
    parts.forEach((part, i) => {
      if (i % 3 === 0) out.append(part);
      else if (i % 3 === 1) {
        const link = document.createElement('a');
        link.textContent = part;
        link.href = parts[i + 1];
        out.append(link);
      }
    });
    node.replaceWith(out);
  });
})"""


def photograph(stack: Stack, card_ts: str, out: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    card_png, home_png = out / "card.png", out / "home-tab.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": PAGE_WIDTH, "height": 900}, locale="en-US",
                                          timezone_id="America/New_York")
            context.set_default_timeout(20_000)
            page = context.new_page()
            page.goto(stack.url(STAFF_PAGE))
            thread = page.locator(f'article.thread[data-ts="{card_ts}"]')
            expect(thread).to_contain_text(CARD_REPLY)
            expect(thread).to_contain_text("2 earlier conversations")
            expect(thread.locator(".replies .reaction")).to_contain_text("\u2705")  # delivered to the widget
            # The card and its thread, without the stand-in's reply box; links as Slack shows them.
            page.add_style_tag(content=".thread .reply { display: none; } .thread a { color: #1264a3; }")
            thread.locator(".blk.context").evaluate_all(SLACK_LINKS)
            thread.screenshot(path=str(card_png))

            # The whole tab, not a scrolled pane; without the stand-in's own hint and button.
            page.add_style_tag(content="#home-view { max-height: none; } #home .hint { display: none; }")
            page.locator("#me").select_option(AMANDA)
            page.locator("#home > summary").click()
            home = page.locator("#home-view")
            expect(home).to_contain_text("Waiting for a librarian")
            expect(home).to_contain_text(WEB_WAITING["text"][:30])
            page.locator("#home").screenshot(path=str(home_png))
            context.close()
        finally:
            browser.close()
    return [card_png, home_png]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNGs go (default: docs/)")
    args = parser.parse_args(argv)
    if not os.access(CHROMIUM, os.X_OK):
        parser.error(f"the pictures are taken with Debian's chromium, and {CHROMIUM} is missing: "
                     "apt-get install chromium")
    args.out.mkdir(parents=True, exist_ok=True)
    stack = Stack.start({})
    try:
        played = play_desk(stack)
        for path in photograph(stack, played["card"], args.out):
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
