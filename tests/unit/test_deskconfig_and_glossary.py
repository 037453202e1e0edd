"""The desk's configuration files (refdesk.deskconfig), the shorthand glossary (refdesk.glossary),
and the Slack shapes built from them (the card's Invite and "Quick reply…", the Invite modal)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from refdesk import deskconfig, glossary
from refdesk.deskconfig import ConfigError

EXAMPLE = {
    "departments": [{"id": "it", "name": "IT", "usergroup": "S0LIBIT", "channel": "C0LIBIT"}],
    "quick_replies": [{"id": "hours", "label": "Opening hours", "text": "9 to 5."}],
}
GLOSSARY = (("idk", "I don't know"), ("ty", "thank you"), ("lmk", "let me know"), ("w/o", "without"),
            ("tl;dr", "too long; didn't read"), ("b4", "before"))


@pytest.fixture(autouse=True)
def fresh_config():
    deskconfig.forget_cached()
    yield
    deskconfig.forget_cached()


def write(tmp_path: Path, data, name: str = "desk.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


# --- the loader --------------------------------------------------------------------------

def test_the_shipped_example_loads_with_departments_quick_replies_and_about_a_hundred_shorthands():
    config = deskconfig.load()

    assert [d.name for d in config.departments] == ["IT", "Archives", "Government documents", "Subject specialists"]
    assert all(d.usergroup or d.channel for d in config.departments)
    assert {"hours", "wifi", "printing", "renewals"} <= {reply.id for reply in config.quick_replies}
    terms = dict(config.glossary)
    assert 90 <= len(terms) <= 130
    assert {"idk", "ty", "lmk", "wru", "ngl", "smh"} <= set(terms)
    assert config.department("it").mention == "<!subteam^S0LIBIT>"
    assert config.department("govdocs").mention == "<#C0GOVDOCS>"
    assert config.audit_usergroups == ("S0PRIVACY",)  # may see the reveal audit (refdesk.reveal_audit)


def test_the_paths_can_be_pointed_at_a_librarys_own_files(tmp_path, monkeypatch):
    monkeypatch.setenv("DESK_CONFIG_PATH", str(write(tmp_path, EXAMPLE)))
    monkeypatch.setenv("GLOSSARY_PATH", str(write(tmp_path, "# ours\nbrb\tbe right back\n", "g.tsv")))

    config = deskconfig.get()

    assert [d.id for d in config.departments] == ["it"]
    assert config.quick_reply("hours").text == "9 to 5."
    assert config.glossary == (("brb", "be right back"),)


@pytest.mark.parametrize("data, problem", [
    ("{not json", "not valid JSON"),
    ([], "expected a JSON object"),
    ({"departments": {}}, "departments must be a list"),
    ({"departmnets": []}, "unknown key(s) departmnets"),
    ({"departments": [{"id": "it", "usergroup": "S0LIBIT"}]}, "departments[0].name is required"),
    ({"departments": [{"id": "it", "name": "IT"}]}, "needs a usergroup (S…) or a channel (C…)"),
    ({"departments": [{"id": "it", "name": "IT", "usergroup": "@it-help"}]}, "user group id (S…), not a handle"),
    ({"departments": [{"id": "it", "name": "IT", "channel": "#it"}]}, "channel id (C…), not a name"),
    ({"departments": [{"id": "IT Dept", "name": "IT", "channel": "C0IT"}]}, "must be lower-case letters"),
    ({"departments": [{"id": "it", "name": "IT", "channel": "C0IT", "colour": "red"}]}, "unknown key(s) colour"),
    ({"departments": [{"id": "it", "name": "IT", "channel": "C0IT"},
                      {"id": "it", "name": "Tech", "channel": "C0TECH"}]}, "departments id 'it' is used twice"),
    ({"quick_replies": [{"id": "hours", "label": "x" * 76, "text": "t"}]}, "label is at most 75"),
    ({"quick_replies": [{"id": "hours", "label": "Hours"}]}, "quick_replies[0].text is required"),
    ({"quick_replies": [{"id": "hours", "label": "Hours", "text": 5}]}, "text must be a string"),
    ({"quick_replies": [{"id": f"r{i}", "label": "L", "text": "T"} for i in range(101)]}, "at most 100"),
    ({"audit_usergroups": "S0PRIVACY"}, "audit_usergroups must be a list"),
    ({"audit_usergroups": ["@privacy"]}, "audit_usergroups[0] must be a Slack user group id (S…), not a handle"),
    ({"audit_usergroups": ["S0PRIVACY", 7]}, "audit_usergroups[1] must be a Slack user group id"),
])
def test_a_bad_configuration_is_a_clear_error_naming_the_file(tmp_path, data, problem):
    path = write(tmp_path, data)

    with pytest.raises(ConfigError) as raised:
        deskconfig.load(path, None)

    assert problem in str(raised.value)
    assert str(path) in str(raised.value)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        deskconfig.load(tmp_path / "nope.json", None)


@pytest.mark.parametrize("text, problem", [
    ("idk I don't know\n", ":1: expected shorthand, a tab"),
    ("idk\t\n", ":1: expected shorthand, a tab"),
    ("# c\nidk\tI don't know\nIDK\tagain\n", ":3: 'idk' is listed twice"),
    ("i d k\tI don't know\n", "must be letters and digits"),
    ("<3\tlove\n", "must be letters and digits"),
])
def test_a_bad_glossary_line_is_a_clear_error_with_its_line_number(tmp_path, text, problem):
    path = write(tmp_path, text, "g.tsv")

    with pytest.raises(ConfigError) as raised:
        deskconfig.load_glossary(path)

    assert problem in str(raised.value)


# --- glossary matching -------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("idk", ["idk"]),
    ("IDK, ty!!", ["idk", "ty"]),
    ("Idk. Lmk?", ["idk", "lmk"]),
    ("ty ty ty idk", ["ty", "idk"]),  # once each, in order of first use
    ("kidk tyler lmkay", []),  # whole words only
    ("idk's", []),
    ("do you have it b4 friday w/o a card", ["b4", "w/o"]),
    ("tl;dr: idk", ["tl;dr", "idk"]),
    ("https://example.org/idk?ty=1", []),
    ("see www.idk.com or bit.ly/lmk", []),
    ("mail idk@example.org", []),
    ("<https://example.org/ty|ty> link", []),  # a Slack link token
    ("idk https://example.org/lmk ty", ["idk", "ty"]),
    ("", []),
])
def test_shorthand_matches_whole_words_in_any_case_and_never_inside_links(text, expected):
    assert [term for term, _ in glossary.matches(text, GLOSSARY)] == expected


def test_the_line_explains_each_shorthand_used():
    assert glossary.line("IDK, ty", GLOSSARY) == "Shorthand: idk = I don't know · ty = thank you"
    assert glossary.line("nothing here", GLOSSARY) == ""


def test_the_shipped_glossary_is_used_by_default():
    assert glossary.line("ngl smh") == "Shorthand: ngl = not gonna lie · smh = shaking my head"


# --- Slack shapes ------------------------------------------------------------------------------

def test_the_card_gets_invite_and_a_quick_reply_menu_and_the_shorthand_line():
    from refdesk.models import Conversation
    from refdesk.slack import cards

    conversation = Conversation(conversation_id="c1", patron_id="p", channel="sms", anchor="s", label="SMS ···4321")
    _, blocks, _ = cards.root_card(conversation, "idk where my <b>holds</b> are")

    [actions] = [block for block in blocks if block["type"] == "actions"]
    by_id = {element["action_id"]: element for element in actions["elements"]}
    assert by_id["invite_department"] == {"type": "button", "action_id": "invite_department", "value": "c1",
                                          "text": {"type": "plain_text", "text": "Invite", "emoji": True}}
    menu = by_id["quick_reply"]
    assert menu["type"] == "static_select" and len(menu["options"]) == len(deskconfig.get().quick_replies)
    assert all(len(option["text"]["text"]) <= 75 for option in menu["options"])
    contexts = [block["elements"][0]["text"] for block in blocks if block["type"] == "context"]
    assert ":speech_balloon: Shorthand: idk = I don&#39;t know" not in contexts
    assert ":speech_balloon: Shorthand: idk = I don't know" in contexts
    question_at = next(i for i, block in enumerate(blocks) if "holds" in json.dumps(block))
    shorthand_at = next(i for i, block in enumerate(blocks) if "Shorthand" in json.dumps(block))
    assert shorthand_at == question_at + 1  # right under the patron's message


def test_without_departments_or_quick_replies_the_card_has_neither(tmp_path, monkeypatch):
    from refdesk.models import Conversation
    from refdesk.slack import cards

    from refdesk import canned_replies

    monkeypatch.setenv("DESK_CONFIG_PATH", str(write(tmp_path, {})))
    monkeypatch.setattr(canned_replies, "all_replies", lambda: [])  # none kept (tests/unit/conftest.py)
    conversation = Conversation(conversation_id="c1", patron_id="p", channel="sms", anchor="s", label="SMS ···4321")

    assert cards.desk_help_elements(conversation) == []


def test_the_invite_modal_lists_the_departments_and_carries_the_conversation():
    from refdesk.slack import cards

    view = cards.invite_modal("c1", "C0STAFF01", "1700000001.000000")

    assert view["type"] == "modal" and view["callback_id"] == "invite_department"
    assert json.loads(view["private_metadata"]) == {"conversation_id": "c1", "channel": "C0STAFF01",
                                                    "ts": "1700000001.000000"}
    assert view["submit"]["text"] == "Invite" and len(view["title"]["text"]) <= 24
    inputs = {block["block_id"]: block for block in view["blocks"] if block["type"] == "input"}
    assert inputs["department"]["element"]["type"] == "static_select"
    assert [o["value"] for o in inputs["department"]["element"]["options"]] == \
        [d.id for d in deskconfig.get().departments]
    assert inputs["note"]["optional"] is True and inputs["note"]["element"]["type"] == "plain_text_input"


def test_a_quick_reply_post_is_escaped_and_credited():
    from refdesk.slack import cards

    text, blocks = cards.quick_reply_post("Hours", "Open 9 <to> 5 & later", "U0AMANDA")

    assert blocks[0]["text"]["text"] == "Open 9 &lt;to&gt; 5 &amp; later"
    assert blocks[-1]["elements"][0]["text"] == ":zap: Quick reply \u201cHours\u201d sent by <@U0AMANDA>"
    assert text.startswith("Quick reply: Open 9 &lt;to&gt;")


def test_a_department_reply_is_credited_with_the_department_on_every_channel():
    from refdesk.channels import email, slack_connect, sms
    from refdesk.settings import Settings

    settings = Settings(table_name="t", jobs_queue_url="q")
    assert settings.credit("Sam", "Hi", "IT") == "Sam (IT): Hi"
    assert settings.credit("Amanda", "Hi") == "Amanda (library): Hi"
    assert Settings.from_env({"DEPARTMENT_REPLY_FORMAT": "{name} of {department}: {text}"}).credit(
        "Sam", "Hi", "IT") == "Sam of IT: Hi"
    assert sms.CHANNEL.compose("Sam", "Try again", "IT") == ["Sam (IT): Try again"]
    assert slack_connect.CHANNEL.compose("Sam", "Try again", "IT") == ["Sam (IT): Try again"]
    assert email.CHANNEL.compose("Sam", "Try again", "IT")[0].startswith("Sam (IT): Try again")
