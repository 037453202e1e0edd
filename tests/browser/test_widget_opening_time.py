"""After hours the widget words the opening as the server does, in the library's time zone (issue
16 item 9): a browser in Tokyo leaving a question with a New York desk that is closed reads
"after we open Thu 9:00" (GET /presence's `opens`), the same words as the after-hours reply
beside it, never the opening converted to the browser's own time zone."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Desk
from tests.browser.test_widget import OFFLINE, message, open_widget, panel

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture(scope="module")
def closed_desk(start_devstack) -> tuple[Desk, str]:  # noqa: F811  (the session fixture of tests/e2e)
    opening = datetime.now(ZoneInfo("America/New_York")) + timedelta(days=3)  # closed now, whatever the hour
    stack = start_devstack(LIBRARY_TIMEZONE="America/New_York",
                           OPENING_HOURS=json.dumps({DAYS[opening.weekday()]: "09:00-10:00"}))
    return Desk(stack.base_url), f"{opening:%a} 9:00"


def test_the_thanks_and_the_after_hours_reply_name_the_same_opening_in_the_librarys_time_zone(
        browser, closed_desk, marker):
    desk, opens = closed_desk
    context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-US")  # 13 or 14 hours ahead of the desk
    try:
        page = context.new_page()
        open_widget(page, desk.patron_page, OFFLINE)
        page.get_by_label("Your question", exact=True).fill(f"Do you have study rooms? ({marker})")
        page.get_by_label("Email or phone so we can reply").fill("pat.doe@example.org")
        page.get_by_role("button", name="Send question").click()

        expect(panel(page)).to_contain_text(f"Thanks — a librarian will reply by email after we open {opens}.",
                                            timeout=15_000)
        reply = message(page, "The desk is closed now")
        expect(reply).to_contain_text(f"when we open {opens}.", timeout=20_000)
    finally:
        context.close()
