"""The desk's own configuration, in files a library edits (not template parameters):

  config/desk.json     departments staff can pull into a conversation (Invite), each a Slack
                       user group (S…) and/or a channel (C…), the quick replies offered on
                       every card, and the user groups whose members may see the reveal audit
                       (`audit_usergroups`, refdesk.reveal_audit) besides Slack's admins, and
                       the pages where the widget invites a visitor to chat (`proactive`: off
                       unless present)
  config/glossary.tsv  text/IM shorthand shown to staff under a patron message that uses it

Both ship in the layer as a working example; DESK_CONFIG_PATH and GLOSSARY_PATH point at a
library's own files instead. Everything is checked when loaded: a bad file raises ConfigError
naming the file and what is wrong, rather than failing later in a click."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent / "config"
DEFAULT_DESK_CONFIG = CONFIG_DIR / "desk.json"
DEFAULT_GLOSSARY = CONFIG_DIR / "glossary.tsv"

ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
USERGROUP = re.compile(r"S[A-Z0-9]{2,}")
CHANNEL = re.compile(r"[CG][A-Z0-9]{2,}")
TERM = re.compile(r"[a-z0-9][a-z0-9;/'&]{0,19}")
# Slack's limits on what a department or quick reply becomes: an option's text (75), a static
# select's options (100), a section's text (3,000).
MAX_LABEL = 75
MAX_OPTIONS = 100
MAX_REPLY_TEXT = 1500
# A page path as the browser's location.pathname has it (no query or fragment), ending in "*" to
# match every path that begins so.
PAGE_PATTERN = re.compile(r"/[A-Za-z0-9._~!$&'()+,;=:@%/-]{0,199}\*?")
MAX_PAGES = 50
MAX_INVITE_DELAY = 600  # seconds: a visitor still on the page after 10 minutes is not waiting for one


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Department:
    id: str  # stable: recorded with each invitation
    name: str  # how staff and patrons see it: "Sam (IT): …"
    usergroup: str = ""  # S…: mentioned in the thread; its members' replies are credited to the department
    channel: str = ""  # C…: where the pointer to the thread is posted
    description: str = ""

    @property
    def mention(self) -> str:
        """Who gets pinged in the thread: the user group, else the department's channel."""
        return f"<!subteam^{self.usergroup}>" if self.usergroup else f"<#{self.channel}>"


@dataclass(frozen=True)
class QuickReply:
    id: str
    label: str  # the option staff pick ("Opening hours")
    text: str  # what the patron gets, as a librarian's reply


@dataclass(frozen=True)
class Topic:
    id: str  # stable: counted in the daily statistics (store.stats)
    label: str  # the option staff pick ("Local history")


@dataclass(frozen=True)
class Proactive:
    """The widget invites a visitor to chat once per visit, after `delay_seconds` on a matching page."""
    pages: tuple[str, ...]  # "/databases" exactly, "/research/*" anything under /research/
    delay_seconds: int


@dataclass(frozen=True)
class DeskConfig:
    departments: tuple[Department, ...] = ()
    quick_replies: tuple[QuickReply, ...] = ()
    glossary: tuple[tuple[str, str], ...] = ()  # (shorthand, meaning), as in the file
    topics: tuple["Topic", ...] = ()  # topic tags offered on a closed card (refdesk.assessment)
    audit_usergroups: tuple[str, ...] = ()  # S…: their members see `/refdesk reveals` (refdesk.reveal_audit)
    proactive: Proactive | None = None  # None: no invitation (the default)

    def topic(self, topic_id: str) -> "Topic | None":
        return next((topic for topic in self.topics if topic.id == topic_id), None)

    def department(self, department_id: str) -> Department | None:
        return next((department for department in self.departments if department.id == department_id), None)

    def quick_reply(self, reply_id: str) -> QuickReply | None:
        return next((reply for reply in self.quick_replies if reply.id == reply_id), None)


def desk_config_path() -> Path:
    return Path(os.environ.get("DESK_CONFIG_PATH") or DEFAULT_DESK_CONFIG)


def glossary_path() -> Path:
    return Path(os.environ.get("GLOSSARY_PATH") or DEFAULT_GLOSSARY)


def get() -> DeskConfig:
    """The configuration named by the environment, loaded once per process (per path)."""
    return _load_cached(str(desk_config_path()), str(glossary_path()))


@lru_cache(maxsize=4)
def _load_cached(desk_path: str, glossary_file: str) -> DeskConfig:
    return load(Path(desk_path), Path(glossary_file))


def load(desk_path: Path = DEFAULT_DESK_CONFIG, glossary_file: Path | None = DEFAULT_GLOSSARY) -> DeskConfig:
    """Both files, checked. Raises ConfigError."""
    try:
        data = json.loads(Path(desk_path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{desk_path}: cannot be read ({error.strerror or type(error).__name__})") from error
    except ValueError as error:
        raise ConfigError(f"{desk_path}: not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{desk_path}: expected a JSON object with departments and quick_replies")
    unknown = set(data) - {"departments", "quick_replies", "topics", "audit_usergroups", "proactive", "$comment"}
    if unknown:
        raise ConfigError(f"{desk_path}: unknown key(s) {', '.join(sorted(unknown))}")
    departments = tuple(_department(desk_path, index, entry)
                        for index, entry in enumerate(_list(desk_path, data, "departments")))
    replies = tuple(_quick_reply(desk_path, index, entry)
                    for index, entry in enumerate(_list(desk_path, data, "quick_replies")))
    for kind, entries in (("departments", departments), ("quick_replies", replies)):
        ids = [entry.id for entry in entries]
        duplicate = next((value for value in ids if ids.count(value) > 1), None)
        if duplicate:
            raise ConfigError(f"{desk_path}: {kind} id {duplicate!r} is used twice")
    glossary = load_glossary(glossary_file) if glossary_file else ()
    topics = tuple(_topic(desk_path, index, entry) for index, entry in enumerate(_list(desk_path, data, "topics")))
    if len({topic.id for topic in topics}) != len(topics):
        raise ConfigError(f"{desk_path}: a topics id is used twice")
    return DeskConfig(departments=departments, quick_replies=replies, glossary=glossary, topics=topics,
                      audit_usergroups=_usergroups(desk_path, data), proactive=_proactive(desk_path, data))


def load_glossary(path: Path) -> tuple[tuple[str, str], ...]:
    """shorthand<TAB>meaning lines; blank lines and # comments skipped; shorthand lower case."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror or type(error).__name__})") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text") from error
    entries: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        term, tab, meaning = line.partition("\t")
        term, meaning = term.strip().lower(), meaning.strip()
        if not tab or not meaning:
            raise ConfigError(f"{path}:{number}: expected shorthand, a tab, and its meaning")
        if not TERM.fullmatch(term):
            raise ConfigError(f"{path}:{number}: shorthand {term!r} must be letters and digits "
                              "(and ; / ' &), at most 20 characters")
        if len(meaning) > 100:
            raise ConfigError(f"{path}:{number}: the meaning is over 100 characters")
        if term in entries:
            raise ConfigError(f"{path}:{number}: {term!r} is listed twice")
        entries[term] = meaning
    return tuple(entries.items())


def _list(path: Path, data: dict, key: str) -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"{path}: {key} must be a list")
    if len(value) > MAX_OPTIONS:
        raise ConfigError(f"{path}: at most {MAX_OPTIONS} {key} (Slack's limit on a menu's options)")
    return value


def _fields(path: Path, where: str, entry, required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(entry, dict):
        raise ConfigError(f"{path}: {where} must be an object")
    unknown = set(entry) - set(required) - set(optional)
    if unknown:
        raise ConfigError(f"{path}: {where} has unknown key(s) {', '.join(sorted(unknown))}")
    fields = {}
    for key in (*required, *optional):
        value = entry.get(key, "")
        if not isinstance(value, str):
            raise ConfigError(f"{path}: {where}.{key} must be a string")
        if key in required and not value.strip():
            raise ConfigError(f"{path}: {where}.{key} is required")
        fields[key] = value.strip()
    if not ID.fullmatch(fields["id"]):
        raise ConfigError(f"{path}: {where}.id {fields['id']!r} must be lower-case letters, digits, - or _ "
                          "(at most 40)")
    return fields


def _department(path: Path, index: int, entry) -> Department:
    where = f"departments[{index}]"
    fields = _fields(path, where, entry, ("id", "name"), ("usergroup", "channel", "description"))
    if len(fields["name"]) > MAX_LABEL or len(fields["description"]) > MAX_LABEL:
        raise ConfigError(f"{path}: {where}: name and description are at most {MAX_LABEL} characters")
    if not fields["usergroup"] and not fields["channel"]:
        raise ConfigError(f"{path}: {where} needs a usergroup (S…) or a channel (C…), or both")
    if fields["usergroup"] and not USERGROUP.fullmatch(fields["usergroup"]):
        raise ConfigError(f"{path}: {where}.usergroup must be a Slack user group id (S…), not a handle")
    if fields["channel"] and not CHANNEL.fullmatch(fields["channel"]):
        raise ConfigError(f"{path}: {where}.channel must be a Slack channel id (C…), not a name")
    return Department(**fields)


def _usergroups(path: Path, data: dict) -> tuple[str, ...]:
    groups = _list(path, data, "audit_usergroups")
    for index, group in enumerate(groups):
        if not isinstance(group, str) or not USERGROUP.fullmatch(group):
            raise ConfigError(f"{path}: audit_usergroups[{index}] must be a Slack user group id (S…), not a handle")
    return tuple(dict.fromkeys(groups))


def _proactive(path: Path, data: dict) -> Proactive | None:
    if "proactive" not in data:
        return None
    entry = data["proactive"]
    if not isinstance(entry, dict) or set(entry) != {"pages", "delay_seconds"}:
        raise ConfigError(f"{path}: proactive must be an object with pages and delay_seconds, and nothing else")
    pages, delay = entry["pages"], entry["delay_seconds"]
    if not isinstance(pages, list) or not 1 <= len(pages) <= MAX_PAGES:
        raise ConfigError(f"{path}: proactive.pages must be a list of 1 to {MAX_PAGES} path patterns")
    for index, page in enumerate(pages):
        if not isinstance(page, str) or not PAGE_PATTERN.fullmatch(page):
            raise ConfigError(f"{path}: proactive.pages[{index}] must be a path such as /databases or /research/*"
                              " (starting with /, no query string, * only at the end, at most 200 characters)")
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_INVITE_DELAY:
        raise ConfigError(f"{path}: proactive.delay_seconds must be a whole number of seconds, 0 to {MAX_INVITE_DELAY}")
    return Proactive(pages=tuple(dict.fromkeys(pages)), delay_seconds=delay)


def _quick_reply(path: Path, index: int, entry) -> QuickReply:
    where = f"quick_replies[{index}]"
    fields = _fields(path, where, entry, ("id", "label", "text"), ())
    if len(fields["label"]) > MAX_LABEL:
        raise ConfigError(f"{path}: {where}.label is at most {MAX_LABEL} characters")
    if len(fields["text"]) > MAX_REPLY_TEXT:
        raise ConfigError(f"{path}: {where}.text is at most {MAX_REPLY_TEXT} characters")
    return QuickReply(**fields)


def _topic(path: Path, index: int, entry) -> Topic:
    fields = _fields(path, f"topics[{index}]", entry, ("id", "label"), ())
    if len(fields["label"]) > MAX_LABEL:
        raise ConfigError(f"{path}: topics[{index}].label is at most {MAX_LABEL} characters")
    return Topic(**fields)


def forget_cached() -> None:
    _load_cached.cache_clear()
