"""Channels own their knowledge (issue 16, item 3). Everything the desk knows about one channel is in
its adapter in refdesk/channels/, declared as its traits (`channels.contract.Traits`); the rest of the
layer and the functions ask `channels.traits(name)` and never name a channel: no channel's name is
compared, used as a key or listed anywhere else in production code (docstrings aside)."""
from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from refdesk import channels
from refdesk.channels.contract import Rating, Traits
from refdesk.settings import Settings
from tests.conftest import ROOT

# Where a channel may still be named outside refdesk/channels/, and why.
ALLOWED = {
    # The closing lines are settings, declared with all the others in one place (their variables,
    # template parameters and docs agree: test_settings_one_source); these are their defaults, and
    # Settings.closing_text finds a channel's as `{name}_closing_text` (settings cannot import the
    # adapters, which import it).
    ("layers/refdesk/refdesk/settings.py", "CLOSING_TEXTS"),
    ("layers/refdesk/refdesk/settings.py", "Settings.sms_closing_text"),
    ("layers/refdesk/refdesk/settings.py", "Settings.web_closing_text"),
    ("layers/refdesk/refdesk/settings.py", "Settings.slack_connect_closing_text"),
    # GET /presence's field for the library's number to text: the widget's API, not a channel's key.
    ("layers/refdesk/refdesk/contact_card.py", "presence_fields"),
}


def production_files(root: Path) -> list[Path]:
    layer = root / "layers" / "refdesk" / "refdesk"
    return sorted([path for path in layer.rglob("*.py") if (layer / "channels") not in path.parents]
                  + list((root / "functions").glob("*/*.py")))


def _owners(tree: ast.Module) -> dict[ast.AST, str]:
    """Each node -> what it belongs to: a top-level function, class or assignment, and in a class
    its member ("Settings.sms_closing_text")."""
    owners: dict[ast.AST, str] = {}

    def name_of(statement: ast.stmt) -> str:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return statement.name
        targets = statement.targets if isinstance(statement, ast.Assign) else [getattr(statement, "target", None)]
        return ",".join(ast.unparse(target) for target in targets if target is not None)

    for statement in tree.body:
        owner = name_of(statement)
        for node in ast.walk(statement):
            owners[node] = owner
        if isinstance(statement, ast.ClassDef):
            for member in statement.body:
                for node in ast.walk(member):
                    owners[node] = f"{owner}.{name_of(member)}"
    return owners


def channels_named(root: Path, names: tuple[str, ...] = channels.CHANNELS) -> list[str]:
    """"path:line owner 'name'" for each string constant outside refdesk/channels/ that is a channel's
    name, docstrings (and other bare string statements) left out, ALLOWED too."""
    found = []
    for path in production_files(root):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        owners = _owners(tree)
        bare = {statement.value for statement in ast.walk(tree) if isinstance(statement, ast.Expr)}
        relative = path.relative_to(root).as_posix()
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and node.value in names and node not in bare
                    and (relative, owners.get(node, "")) not in ALLOWED):
                found.append(f"{relative}:{node.lineno} {owners.get(node, '')} {node.value!r}")
    return found


def test_no_channel_is_named_outside_its_adapter():
    assert channels_named(ROOT) == [], "ask channels.traits(name) instead, or declare a new trait"


def _tree(tmp_path: Path, source: str, where: str = "layers/refdesk/refdesk/example.py") -> Path:
    path = tmp_path / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return tmp_path


@pytest.mark.parametrize("source", [
    'def f(conversation):\n    return conversation.channel == "sms"\n',
    'def f(channel):\n    return channel not in ("web", "slack_connect")\n',
    'NAMES = {"sms": "SMS"}\n',
    'SHARED = frozenset({"slack_connect"})\n',
    'def f(texts):\n    return texts["web"]\n',
    'def f(job):\n    return Job(channel="web")\n',
])
def test_the_check_finds_a_channel_named_compared_keyed_or_listed(tmp_path, source):
    assert channels_named(_tree(tmp_path, source))


def test_the_check_reads_the_functions_too_and_leaves_docstrings_and_the_adapters_alone(tmp_path):
    _tree(tmp_path, 'COLOURS = {"sms": "#1b9e77"}\n', "functions/reports/charts.py")
    _tree(tmp_path, '"""Replies to "sms" patrons."""\ndef f():\n    """For "web"."""\n', "layers/refdesk/refdesk/a.py")
    _tree(tmp_path, 'class SmsChannel:\n    name = "sms"\n', "layers/refdesk/refdesk/channels/sms.py")
    assert channels_named(tmp_path) == ["functions/reports/charts.py:1 COLOURS 'sms'"]


def test_every_channel_declares_its_traits():
    for name in channels.CHANNELS:
        adapter = channels.get(name)
        assert adapter.name == name
        assert isinstance(adapter.traits, Traits) and channels.traits(name) is adapter.traits


def test_what_the_channels_declare_is_what_the_desk_did_before_they_declared_it():
    declared = {name: channels.traits(name) for name in channels.CHANNELS}
    assert {name: traits.display_name for name, traits in declared.items()} == {
        "sms": "SMS", "web": "Web chat", "slack_connect": "Slack Connect"}
    assert {name for name, traits in declared.items() if "delete" in traits.delete_words} == {"sms", "slack_connect"}
    assert {name: traits.rating for name, traits in declared.items()} == {
        "sms": Rating.BY_REPLY, "web": Rating.BY_CLIENT, "slack_connect": Rating.IN_THREAD}
    assert {name for name, traits in declared.items() if traits.sends_contact_card} == {"sms"}
    assert {name for name, traits in declared.items() if traits.shared_session} == {"slack_connect"}
    assert {name for name, traits in declared.items() if traits.shows_status} == {"web"}
    assert declared["sms"].patron_address("0044 20 7946 0000") == "+442079460000"
    assert declared["web"].patron_address(" S1AbC ") == "s1abc"


def test_a_name_that_is_no_patron_channel_has_the_default_traits():
    assert channels.traits("fax") == Traits(display_name="fax")
    assert channels.traits("fax").rating is Rating.NOT_ASKED and not channels.traits("fax").delete_words


def test_every_channel_has_a_closing_line_setting():
    declared = {field.name for field in dataclasses.fields(Settings)}
    assert [name for name in channels.CHANNELS if f"{name}_closing_text" not in declared] == []


def test_asking_a_channels_traits_loads_only_its_adapter_and_every_adapter_loads_no_sdk():
    """A webhook asks its own channel's traits (erasure, identity): it must not load the others. The
    Home tab and the reports ask every channel's: the adapters must not load Slack's SDK or Twilio."""
    code = ("import sys\n"
            "from refdesk import channels\n"
            "channels.traits('sms')\n"
            "assert not {'refdesk.channels.web', 'refdesk.channels.slack_connect'} & set(sys.modules)\n"
            "for name in channels.CHANNELS:\n"
            "    channels.traits(name)\n"
            "print(sorted({module.split('.')[0] for module in sys.modules} & {'slack_sdk', 'twilio', 'emoji'}))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(ROOT / "layers" / "refdesk"), "PATH": "/usr/bin:/bin",
                               "POWERTOOLS_SERVICE_NAME": "refdesk", "AWS_DEFAULT_REGION": "us-east-1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
