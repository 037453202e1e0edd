"""scripts/screenshots.py (`make screenshots`) without the stack: the desk it plays is what the
pictures need - the widget's context passes refdesk.patron_context unchanged (so the card shows it
as scripted), the returning visitor is recognised as one (their earlier chats are counted), and
every patron is fictional."""
from __future__ import annotations

import re

from refdesk import patron_context
from refdesk.shapes import conforms
from refdesk.webchat import VisitorId
from scripts import screenshots


def test_the_scripted_pages_reach_the_card_as_they_are():
    for context in (screenshots.CATALOGUE_PAGE, screenshots.WEB_WAITING["context"]):
        assert patron_context.from_widget(context) == context


def test_the_returning_visitor_is_one():
    assert conforms(screenshots.VISITOR, VisitorId)


def test_the_patrons_are_fictional():
    for number, _ in (screenshots.SMS_WAITING, screenshots.SMS_CLAIMED):
        assert re.fullmatch(r"\+1555010\d{4}", number), number
