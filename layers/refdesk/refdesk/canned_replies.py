"""Canned replies librarians manage in Slack (issue 19 item 2): listed on the Home tab, added,
edited and deleted through a modal, offered by every card's "Quick reply…" menu and sent like a
librarian's reply. desk.json's `quick_replies` seed them the first time the desk needs them (so
cards posted before keep their ids); after that the table is the truth (store.canned), and every
change is audited (who, when, what).

A reply may use variables, filled when it is sent:
  {library_name}        LibraryName
  {hours_today}         today's opening hours in the library's time zone ("9:00–17:00", "closed")
  {librarian}           the first name of the librarian who sends it
  {patron_first_name}   the first name the patron gave (the offline form); when none, it goes
                        with the space before it ("Hi {patron_first_name}," -> "Hi,")
Any other {word} is refused when the reply is saved."""
from __future__ import annotations

import re
from datetime import datetime

from aws_lambda_powertools import Logger

from refdesk import deskconfig, store
from refdesk.errors import BadRequest
from refdesk.models import CannedReplyJob
from refdesk.schedule import Schedule
from refdesk.settings import get_settings
from refdesk.store.canned import CannedReply

logger = Logger(child=True)

VARIABLES = ("library_name", "hours_today", "librarian", "patron_first_name")
VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
REPLY_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
MAX_LABEL = deskconfig.MAX_LABEL
MAX_TEXT = deskconfig.MAX_REPLY_TEXT


def all_replies() -> list[CannedReply]:
    """Every canned reply, label order; desk.json's written the first time (one transaction)."""
    replies = store.canned.replies()
    if not replies and not store.canned.is_seeded():
        seeds = [CannedReply(reply.id, reply.label, reply.text) for reply in deskconfig.get().quick_replies]
        if store.canned.seed(seeds):
            logger.info("canned replies seeded from desk.json", extra={"replies": len(seeds)})
        replies = store.canned.replies()
    return sorted(replies, key=lambda reply: (reply.label.lower(), reply.reply_id))


def problems(label: str, text: str) -> dict[str, str]:
    """What is wrong with a reply as typed, by field ("label", "text"): empty when it can be saved."""
    found = {}
    if not label.strip() or len(label) > MAX_LABEL:
        found["label"] = f"Give it a label of 1 to {MAX_LABEL} characters."
    unknown = sorted({name for name in VARIABLE.findall(text) if name not in VARIABLES})
    if not text.strip() or len(text) > MAX_TEXT:
        found["text"] = f"Write the reply: 1 to {MAX_TEXT} characters."
    elif unknown:
        found["text"] = (f"Unknown variable {', '.join('{' + name + '}' for name in unknown)}. Use "
                         + ", ".join("{" + name + "}" for name in VARIABLES) + ".")
    return found


def new_id(label: str, taken: set[str]) -> str:
    """An id from the label ("Opening hours" -> "opening-hours"), unique among `taken`."""
    base = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:32] or "reply"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    return candidate


def change(job: CannedReplyJob) -> None:
    """A librarian's add, edit or delete from the Home tab, written with its audit item (the Home
    tabs then show it: refdesk.slack.home.canned_reply_changed). Saving checks again what the modal
    checked (a queued job is trusted no further than its shape)."""
    existing = {reply.reply_id: reply for reply in all_replies()}
    if job.change == "delete":
        if job.reply_id in existing:
            store.canned.delete(existing[job.reply_id], job.user)
    elif problems(job.label, job.text):
        logger.info("canned reply refused", extra={"reply_id": job.reply_id})
        return
    elif job.reply_id in existing or len(existing) < store.canned.MAX_REPLIES:
        reply_id = job.reply_id or new_id(job.label, set(existing))
        store.canned.save(CannedReply(reply_id, job.label.strip(), job.text.strip()), job.user,
                          added=reply_id not in existing)
    logger.info("canned reply changed", extra={"reply_id": job.reply_id, "change": job.change})


def filled(text: str, *, librarian: str, patron_name: str, now: datetime | None = None) -> str:
    """The reply as the patron reads it: each variable filled (see the module's docstring)."""
    settings = get_settings()
    values = {"library_name": settings.library_name or "the library", "hours_today": hours_today(now),
              "librarian": librarian, "patron_first_name": patron_name.split()[0] if patron_name.split() else ""}
    if not values["patron_first_name"]:
        text = re.sub(r"[ \t]*\{patron_first_name\}", "", text)
    return VARIABLE.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def hours_today(now: datetime | None = None) -> str:
    schedule = Schedule.current()
    today = (now or datetime.now(schedule.timezone)).astimezone(schedule.timezone).date()
    spans = schedule.ranges(today)
    return ", ".join(f"{start.hour}:{start:%M}–{end.hour}:{end:%M}" for start, end in spans) or "closed"


def check_id(reply_id: str) -> str:
    """A reply id from a payload: its form only (the dispatcher looks it up)."""
    if not REPLY_ID.fullmatch(reply_id or ""):
        raise BadRequest("not a canned reply id")
    return reply_id
