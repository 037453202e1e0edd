"""Issue 17, item 6: the widget links a short privacy notice (GET /privacy.html) saying what is kept
and for how long, worded from the stack's real settings; and transcripts are kept as long as
conversations unless TranscriptRetentionDays says otherwise."""
from __future__ import annotations

import html
import re

import pytest

from refdesk.settings import Settings
from tests.conftest import http_event, invoke
from tests.widget_budget import widget_within_budget


@pytest.fixture
def settings_env(monkeypatch):
    from refdesk.settings import get_settings

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_env
    get_settings.cache_clear()


def notice() -> str:
    response = invoke("presence", http_event("GET", "/privacy.html"))
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response["headers"]["content-security-policy"]
    return re.sub(r"\s+", " ", response["body"])


def test_the_notice_states_the_deployed_retention_and_idle_close(aws, settings_env):
    settings_env(RETENTION_DAYS="14", IDLE_CLOSE_HOURS="12", LIBRARY_NAME="Riverside <Public> Library")

    page = notice()

    assert "14 days after it closes" in page and "no new message for 12 hours" in page
    assert "No transcript of your conversation is kept." in page
    assert "Riverside &lt;Public&gt; Library" in page and "<Public>" not in page
    assert "Delete this conversation" in page and "DELETE" in page


@pytest.mark.parametrize(("env", "days"), [({"RETENTION_DAYS": "14"}, "14 days"),
                                           ({"RETENTION_DAYS": "14", "TRANSCRIPT_RETENTION_DAYS": "90"}, "90 days")])
def test_kept_transcripts_follow_retention_days_unless_set_apart(aws, settings_env, env, days):
    settings_env(KEEP_TRANSCRIPTS="true", **env)

    assert f"taken out is kept for {days}" in notice()


def test_transcript_retention_reads_as_retention_days_when_unset():
    assert Settings.from_env({"RETENTION_DAYS": "45"}).transcripts_kept_days == 45
    assert Settings.from_env({"RETENTION_DAYS": "45", "TRANSCRIPT_RETENTION_DAYS": "0"}).transcripts_kept_days == 45
    assert Settings.from_env({"RETENTION_DAYS": "45", "TRANSCRIPT_RETENTION_DAYS": "7"}).transcripts_kept_days == 7


def test_the_transcript_buckets_lifecycle_follows_the_same_rule():
    from tests.security.cfn import template

    [rule] = template()["Resources"]["TranscriptBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]

    assert rule["ExpirationInDays"] == {"Fn::If": ["TranscriptsKeptAsConversations", {"Ref": "RetentionDays"},
                                                   {"Ref": "TranscriptRetentionDays"}]}
    assert template()["Conditions"]["TranscriptsKeptAsConversations"] == {
        "Fn::Equals": [{"Ref": "TranscriptRetentionDays"}, 0]}


def test_the_widget_links_the_notice_on_the_chat_api():
    script = widget_within_budget()

    assert "href: API + '/privacy.html'" in script


def test_the_notice_explains_the_visitor_id_and_rating_comments(aws, settings_env):
    settings_env(RETENTION_DAYS="14", TRANSCRIPT_RETENTION_DAYS="90")

    page = html.unescape(notice())

    assert "random id in your browser's local storage" in page and "returning visitor" in page
    assert "We keep only a scrambled (keyed hash) form of it, never the id itself" in page
    assert "for 400 days after your last one" in page
    assert "comment when you rate a chat" in page and "card numbers taken out, for 90 days" in page
    assert "also deletes your comments on ratings, and the visitor id" in page


def test_the_notice_says_an_address_for_the_emailed_conversation_is_kept_only_until_sent(aws, settings_env):
    settings_env(RETENTION_DAYS="14")

    assert "the address you type is kept only until the e-mail is sent" in notice()
