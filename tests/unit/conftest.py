"""Unit tests have no table (no moto): the canned replies a card offers (refdesk.canned_replies
reads them from the table) are desk.json's, as the first use would seed them. A test that wants
others patches `canned_replies.all_replies` itself."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def canned_replies_as_seeded(monkeypatch):
    from refdesk import canned_replies, deskconfig
    from refdesk.store.canned import CannedReply

    monkeypatch.setattr(canned_replies, "all_replies", lambda: [
        CannedReply(reply.id, reply.label, reply.text) for reply in deskconfig.get().quick_replies])
