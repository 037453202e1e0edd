"""The /refdesk slash command: librarians go on and off duty and see what patrons see."""
from __future__ import annotations

from typing import Mapping

from refdesk import presence, roster, staff
from refdesk.observability import count
from refdesk.shapes import check
from refdesk.slack import payloads

HELP = ("`/refdesk on` - go on duty (patrons see the desk online)\n"
        "`/refdesk off` - go off duty\n"
        "`/refdesk status` - who is on duty, which departments can be asked, and what patrons see\n"
        "`/refdesk stats [7d|30d|90d|term|<from> <to>]` - the desk's figures and charts (default 30d; "
        "dates as YYYY-MM-DD)\n"
        "`/refdesk reveals [7d|30d|90d]` - who revealed which patron message, and when (Slack admins and the "
        "audit user groups only; default 30d)")


def answer(form: Mapping[str, str], api_url: str = "") -> str:
    """A slash command's answer: the library's staff's commands run (refdesk.staff); anyone
    else is refused, and nothing happens."""
    check(form, payloads.SlashCommand, "command")
    if not staff.of_command(form):
        count("StaffActionRefused")
        return staff.refusal()
    return run(form.get("text", ""), form["user_id"], form.get("user_name", ""), api_url)


def run(text: str, user_id: str, user_name: str, api_url: str = "") -> str:
    """api_url: where the API answers (the report link of `stats` points there)."""
    word = text.strip().lower()
    if not user_id:
        return "Slack did not say who you are; try again."
    if word in ("on", "in", "start"):
        return roster.go_on_duty(user_id, user_name)
    if word in ("off", "out", "stop"):
        return roster.go_off_duty(user_id)
    if word.split()[:1] == ["stats"]:  # answered at once; the reports function does the work
        from refdesk import reports

        return reports.request(word[len("stats"):].strip(), user_id, api_url)
    if word.split()[:1] == ["reveals"]:  # answered at once; the reports function checks who may see it
        from refdesk import reveal_audit

        return reveal_audit.request(word[len("reveals"):].strip(), user_id)
    if word == "status":
        state = presence.current()
        return (f"Patrons see the desk as *{state['status']}*; {state['librarians_on_duty']} librarian(s) on duty"
                + ("." if state["open_now"] else " (the desk is closed now).") + "\n" + _directory())
    return HELP


def _directory() -> str:
    """Who is on duty and which departments are reachable (refdesk.departments)."""
    from refdesk import departments

    return departments.directory()
