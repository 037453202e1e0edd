"""The widget's size budget, one place for the tests that keep it (test_contact_card,
test_privacy_notice): what a patron's browser downloads, since CloudFront serves the script
compressed (template.yaml `Compress: true`), and a raw ceiling that keeps it terse anyway."""
from __future__ import annotations

import gzip

from tests.conftest import ROOT

WIDGET = ROOT / "functions" / "presence" / "static" / "widget.js"
MAX_COMPRESSED_BYTES = 12_000
MAX_RAW_BYTES = 40_000


def widget_within_budget() -> str:
    """The widget's source, after asserting it is within the budget (gzip -9, and raw)."""
    raw = WIDGET.read_bytes()
    compressed = len(gzip.compress(raw, compresslevel=9, mtime=0))
    assert compressed < MAX_COMPRESSED_BYTES, f"widget.js is {compressed} bytes compressed"
    assert len(raw) < MAX_RAW_BYTES, f"widget.js is {len(raw)} bytes"
    return raw.decode()
