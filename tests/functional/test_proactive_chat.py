"""Issue 19, item 10: proactive chat. desk.json names the pages (path patterns) and the delay after
which the widget invites a visitor to chat; off unless present, checked when loaded, and handed to
the widget in the presence answer (cached with it), not by a request of its own. The widget's
side is tests/browser/test_widget_proactive_chat.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from refdesk import deskconfig
from refdesk.deskconfig import ConfigError
from tests.conftest import http_event, invoke


@pytest.fixture
def desk_json(tmp_path, monkeypatch):
    """desk_json(data) -> the path of a desk.json holding `data`, which the functions now read."""
    def write(data) -> Path:
        path = tmp_path / "desk.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        monkeypatch.setenv("DESK_CONFIG_PATH", str(path))
        deskconfig.forget_cached()
        return path

    yield write
    deskconfig.forget_cached()


def presence_answer() -> dict:
    response = invoke("presence", http_event("GET", "/presence"))
    assert response["statusCode"] == 200, response
    return json.loads(response["body"])


def test_without_a_proactive_key_there_is_no_invitation(aws, desk_json):
    desk_json({"quick_replies": [{"id": "hours", "label": "Hours", "text": "9 to 5."}]})

    assert deskconfig.get().proactive is None
    assert "proactive" not in presence_answer()


def test_the_shipped_example_leaves_it_off():
    assert deskconfig.load(deskconfig.DEFAULT_DESK_CONFIG, None).proactive is None


def test_the_presence_answer_carries_the_pages_and_the_delay(aws, desk_json):
    desk_json({"proactive": {"pages": ["/research/*", "/databases", "/research/*"], "delay_seconds": 20}})

    answer = presence_answer()

    assert answer["proactive"] == {"pages": ["/research/*", "/databases"], "delay_seconds": 20}
    assert answer["status"] in ("available", "unavailable")  # the widget invites only while available


@pytest.mark.parametrize("proactive, problem", [
    ([], "proactive must be an object with pages and delay_seconds"),
    ({"pages": ["/databases"]}, "proactive must be an object with pages and delay_seconds"),
    ({"pages": ["/databases"], "delay_seconds": 5, "text": "Hi"}, "and nothing else"),
    ({"pages": [], "delay_seconds": 5}, "proactive.pages must be a list of 1 to 50 path patterns"),
    ({"pages": "/databases", "delay_seconds": 5}, "proactive.pages must be a list"),
    ({"pages": ["databases"], "delay_seconds": 5}, "proactive.pages[0] must be a path such as /databases"),
    ({"pages": ["/ok", "/search?q=x"], "delay_seconds": 5}, "proactive.pages[1] must be a path"),
    ({"pages": ["/research/*/guides"], "delay_seconds": 5}, "* only at the end"),
    ({"pages": ["https://library.example/research"], "delay_seconds": 5}, "proactive.pages[0]"),
    ({"pages": ["/" + "a" * 200], "delay_seconds": 5}, "at most 200 characters"),
    ({"pages": [f"/p{i}" for i in range(51)], "delay_seconds": 5}, "1 to 50 path patterns"),
    ({"pages": ["/databases"], "delay_seconds": -1}, "proactive.delay_seconds must be a whole number of seconds"),
    ({"pages": ["/databases"], "delay_seconds": 601}, "0 to 600"),
    ({"pages": ["/databases"], "delay_seconds": 2.5}, "whole number"),
    ({"pages": ["/databases"], "delay_seconds": "30"}, "whole number"),
    ({"pages": ["/databases"], "delay_seconds": True}, "whole number"),
])
def test_bad_pages_or_delays_are_a_clear_error_naming_the_file_and_field(desk_json, proactive, problem):
    path = desk_json({"proactive": proactive})

    with pytest.raises(ConfigError) as raised:
        deskconfig.load(path, None)

    assert problem in str(raised.value)
    assert str(path) in str(raised.value)
