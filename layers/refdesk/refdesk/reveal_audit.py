"""The reveal audit: who revealed which redacted patron message, and when (store.reveals), for
those a library trusts with it: the Slack workspace's admins and owners, and the members of the
user groups desk.json names as `audit_usergroups` (refdesk.deskconfig). A reveal is shown as a
Slack user, a time, a conversation id and a message id: never the text, never an address.

  request(word, user_id)  `/refdesk reveals [7d|30d|90d]`, the slash command's side: one
                          SendMessage to the reports queue and an answer at once (a webhook makes
                          no Slack call, so who may see the audit is decided by the reports function)
  answer(request)         the reports function's side: may_see, then the table or the refusal,
                          ephemeral in the staff channel (as a failed stats report is told)
  may_see(user_id)        a workspace admin or owner (users.info), or in an audit user group
  table(reveals, of)      newest first, at most MAX_ROWS rows, times in the library's time zone
  monthly_csv(reveals)    the month's reveals, for the monthly export (export_month, beside reports.export_month)"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger

from refdesk import deskconfig, reports, store
from refdesk.settings import get_settings
from refdesk.slack import api as slack

logger = Logger(child=True)

KIND = "reveals"  # the reports queue's message kind (reports.ReportRequest's is "stats")
PERIOD_WORDS = tuple(reports.PERIODS)
MAX_ROWS = 40  # keeps the ephemeral message readable; the monthly CSV has every row
CSV_FIELDS = ("revealed_at", "user", "conversation_id", "message_id")
# Ids RefDesk and the channels make (Twilio SIDs, the widget's UUIDs, Slack ts) are shown as they
# are. A web message's id is chosen by the patron's browser: anything else is shown by its hash,
# so no patron-typed text reaches Slack or a spreadsheet (where "=…" would be a formula).
PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
LOOKING = "Looking up reveals… the table will appear in <#{channel}>, visible only to you, in a few seconds."
FAILED = "Sorry, the reveal audit could not be made just now; try `/refdesk reveals` again later."


@dataclass(frozen=True)
class AuditRequest:
    """What the slash command hands the reports function (the reports queue's message body)."""

    period: str
    user_id: str

    def to_body(self) -> str:
        return json.dumps({"kind": KIND, "period": self.period, "user_id": self.user_id})

    @classmethod
    def from_body(cls, body: str) -> "AuditRequest":
        data = json.loads(body)
        return cls(period=str(data["period"]), user_id=str(data["user_id"]))


def request(word: str, user_id: str) -> str:
    """`/refdesk reveals [7d|30d|90d]`: ask the reports function for the audit (one asynchronous
    invocation) and answer at once."""
    word = (word or reports.DEFAULT_PERIOD).strip().lower()
    if word not in PERIOD_WORDS:
        return f"`/refdesk reveals` takes one of {', '.join(PERIOD_WORDS)} (default {reports.DEFAULT_PERIOD})."
    reports.ask(AuditRequest(word, user_id).to_body())
    return LOOKING.format(channel=get_settings().slack_staff_channel)


def answer(request: AuditRequest) -> None:
    """The table, or the refusal, to the requester only. Who asked is logged either way."""
    channel = get_settings().slack_staff_channel
    if not may_see(request.user_id):
        logger.info("reveal audit refused", extra={"user": request.user_id})
        slack.tell(channel, request.user_id, refusal())
        return
    of = reports.period(request.period)
    found = reveals_in(of)
    slack.tell(channel, request.user_id, table(found, of))
    logger.info("reveal audit shown", extra={"user": request.user_id, "period": of.name, "reveals": len(found)})


def may_see(user_id: str) -> bool:
    """A workspace admin or owner (asked afresh), else a member of an audit user group
    (usergroups.users.list, cached 5 minutes by slack.members)."""
    if not user_id:
        return False
    if slack.is_workspace_admin(user_id):
        return True
    return any(user_id in slack.members(usergroup=group) for group in deskconfig.get().audit_usergroups)


def refusal() -> str:
    groups = " or ".join(f"<!subteam^{group}>" for group in deskconfig.get().audit_usergroups)
    return f"Only Slack admins{f' or members of {groups}' if groups else ''} can see the reveal audit."


def reveals_in(of: reports.Period) -> list[dict]:
    """The period's reveals, its days taken in the library's time zone, oldest first."""
    zone = ZoneInfo(get_settings().library_timezone)
    return store.reveals.between(datetime.combine(of.start, time(), zone),
                                 datetime.combine(of.end + timedelta(days=1), time(), zone))


def table(reveals: list[dict], of: reports.Period) -> str:
    """The ephemeral answer (Slack mrkdwn): one line per reveal, newest first."""
    zone = get_settings().library_timezone
    title = f"*Reveals of redacted patron messages, {of.label} ({of.name})*"
    if not reveals:
        return f"{title}\nNo one revealed a patron message in this period."
    lines = [f"{title}: {len(reveals)}, newest first (times in {zone})"]
    for reveal in reversed(reveals[-MAX_ROWS:]):
        lines.append(f"• {_local(reveal['revealed_at']):%Y-%m-%d %H:%M %Z} · <@{reveal['user']}> · "
                     f"conversation `{shown_id(reveal['conversation_id'])}` · "
                     f"message `{shown_id(reveal['message_id'])}`")
    if len(reveals) > MAX_ROWS:
        lines.append(f"…and {len(reveals) - MAX_ROWS} more: see the monthly CSV (reports bucket, `reveals/`).")
    return "\n".join(lines)


def export_month(of: reports.Period) -> dict:
    """The month's reveals as a CSV beside its stats in the reports bucket."""
    key, reveals = csv_key(of), reveals_in(of)
    reports.put_csv(key, monthly_csv(reveals).encode())
    return {"reveals_key": key, "reveals": len(reveals)}


def csv_key(of: reports.Period) -> str:
    return f"reveals/{of.start:%Y}/refdesk-reveals-{of.start:%Y-%m}.csv"


def monthly_csv(reveals: list[dict]) -> str:
    """One row per reveal, oldest first; revealed_at in the library's time zone, with its offset."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for reveal in reveals:
        writer.writerow([_local(reveal["revealed_at"]).isoformat(timespec="seconds"), shown_id(reveal["user"]),
                         shown_id(reveal["conversation_id"]), shown_id(reveal["message_id"])])
    return out.getvalue()


def shown_id(value: str) -> str:
    return value if PLAIN_ID.fullmatch(value) else f"sha256:{hashlib.sha256(value.encode()).hexdigest()[:16]}"


def _local(revealed_at: str) -> datetime:
    return datetime.fromisoformat(revealed_at).astimezone(ZoneInfo(get_settings().library_timezone))
