"""The reveal audit (refdesk.reveal_audit, store.reveals): `/refdesk reveals` answered at once by
the webhook and queued; the reports function checks who asked (a Slack admin, a member of
desk.json's audit user groups, else refused) and tells them the table ephemerally; reveals listed
by date without a scan, once per press however often the job runs; the month's CSV beside the
stats CSV. Moto, the real handlers, and the Slack stand-in (U0PRIYA is its workspace admin,
U0SAM is in S0PRIVACY, the example's audit user group; U0AMANDA is neither)."""
from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from tests.conftest import STAFF_CHANNEL, close_value, invoke, log_to_captured_stdout
from tests.functional.test_redaction_reveal import FIRST, LATER, PATRON, SECRETS, open_conversation
from tests.functional.test_relay import calls_named
from tests.functional.test_reports import command, report_requests, run_report_requests

ADMIN, AUDITOR, LIBRARIAN = "U0PRIYA", "U0SAM", "U0AMANDA"


# --- helpers ---------------------------------------------------------------------------

def press_reveal(card: dict, user: str, action_ts: str) -> None:
    """The dispatcher running a Reveal press on the card (models.RevealJob), as it would once the
    webhook queued it, and again for a retried job."""
    from refdesk import reveal
    from refdesk.models import RevealJob

    reveal.reveal(RevealJob(conversation_id=close_value(card), user=user, channel=STAFF_CHANNEL,
                            root_ts=card["answered_ts"], message_ts=card["answered_ts"], action_ts=action_ts))


def record_at(monkeypatch, moment: datetime, conversation_id: str, user: str = "U0BEN") -> None:
    """A reveal recorded as if pressed at `moment`."""
    from refdesk.store import reveals

    revealed_at = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    monkeypatch.setattr(reveals, "now_iso", lambda: revealed_at)
    assert reveals.record(conversation_id, f"SM{conversation_id}", user, f"{moment.timestamp():.6f}")


def ask(aws, slack, user: str, text: str = "reveals") -> str:
    """`/refdesk {text}` as `user`, then the reports queue run: the ephemeral answer `user` got."""
    answer = json.loads(invoke("slack_commands", command(text, user=user))["body"])
    assert answer["text"].startswith("Looking up reveals")
    assert run_report_requests(aws) == [{"posted": 1, "failed": 0}]
    [told] = [call for call in calls_named(slack, "chat.postEphemeral") if call["user"] == user]
    assert told["channel"] == STAFF_CHANNEL
    return told["text"]


def rows(table: str) -> list[str]:
    return [line for line in table.splitlines() if line.startswith("• ")]


# --- the command -------------------------------------------------------------------------

def test_the_webhook_answers_at_once_and_queues_the_request_without_asking_slack(aws, slack):
    answer = json.loads(invoke("slack_commands", command("reveals 7d", user=LIBRARIAN))["body"])

    assert answer["response_type"] == "ephemeral" and answer["text"].startswith("Looking up reveals…")
    assert f"<#{STAFF_CHANNEL}>" in answer["text"]
    assert slack.calls == []  # who may see the audit is decided by the reports function
    assert report_requests(aws) == [{"kind": "reveals", "period": "7d", "user_id": LIBRARIAN}]

    answer = json.loads(invoke("slack_commands", command("reveals term", user=LIBRARIAN))["body"])["text"]
    assert "7d, 30d, 90d" in answer
    assert len(report_requests(aws)) == 1  # nothing more asked


def test_an_admin_sees_who_revealed_what_and_never_the_patron_text_in_it_or_the_logs(aws, slack, twilio, capfd,
                                                                                      monkeypatch):
    log_to_captured_stdout(monkeypatch)
    card, _ = open_conversation(aws, slack)
    press_reveal(card, "U0BEN", "1800000000.000001")
    slack.forget_calls()
    capfd.readouterr()

    table = ask(aws, slack, ADMIN)  # 30d by default

    [row] = rows(table)
    from refdesk import store

    [revealed] = store.reveals.list_for(close_value(card))
    assert "<@U0BEN>" in row and f"`{close_value(card)}`" in row and f"`{revealed['message_id']}`" in row
    local = datetime.fromisoformat(revealed["revealed_at"]).astimezone(ZoneInfo("America/New_York"))
    assert row.startswith(f"• {local:%Y-%m-%d %H:%M} E")  # EST or EDT: the library's time
    assert "(30d)" in table and "America/New_York" in table
    logs = capfd.readouterr().out
    assert "reveal audit shown" in logs
    for secret in [*SECRETS, PATRON, PATRON[2:], FIRST[:20], LATER[:20], "renew my books"]:
        assert secret not in table and secret not in logs


def test_a_member_of_an_audit_user_group_sees_it(aws, slack, monkeypatch):
    record_at(monkeypatch, datetime.now(timezone.utc) - timedelta(hours=1), "c-recent")

    assert len(rows(ask(aws, slack, AUDITOR))) == 1


def test_an_ordinary_librarian_is_refused_and_sees_no_reveal(aws, slack, monkeypatch):
    record_at(monkeypatch, datetime.now(timezone.utc) - timedelta(hours=1), "c-recent")

    answer = ask(aws, slack, LIBRARIAN)

    assert answer == "Only Slack admins or members of <!subteam^S0PRIVACY> can see the reveal audit."
    assert "c-recent" not in answer


def test_a_retried_reveal_press_is_listed_once(aws, slack, twilio):
    card, _ = open_conversation(aws, slack)
    press_reveal(card, "U0BEN", "1800000000.000001")
    press_reveal(card, "U0BEN", "1800000000.000001")  # the same job run again
    press_reveal(card, "U0AMANDA", "1800000000.000002")  # another press: another reveal

    from refdesk import reveal_audit, reports

    listed = reveal_audit.reveals_in(reports.period("7d"))
    assert [(reveal["user"], reveal["conversation_id"]) for reveal in listed] == [
        ("U0BEN", close_value(card)), ("U0AMANDA", close_value(card))]
    assert len(rows(ask(aws, slack, ADMIN))) == 2


def test_the_period_picks_the_reveals_by_date(aws, slack, monkeypatch):
    now = datetime.now(timezone.utc)
    for days in (3, 20, 60, 100):
        record_at(monkeypatch, now - timedelta(days=days), f"c-{days}d-ago")

    for period, expected in (("7d", ["c-3d-ago"]), ("30d", ["c-3d-ago", "c-20d-ago"]),
                             ("90d", ["c-3d-ago", "c-20d-ago", "c-60d-ago"])):
        slack.forget_calls()
        shown = rows(ask(aws, slack, ADMIN, f"reveals {period}"))
        assert [row.split("conversation `")[1].split("`")[0] for row in shown] == expected  # newest first


def test_the_monthly_export_writes_the_months_reveals_beside_the_stats(aws, slack, monkeypatch):
    """January 2026 in New York (UTC-5): from 1 Jan 05:00 UTC to 1 Feb 05:00 UTC, so the last
    evening of January lies in February's partition and is listed; the edges are exact."""
    import boto3

    for moment, conversation_id in (("2026-01-01T04:59:59", "c-dec31"), ("2026-01-01T05:00:00", "c-jan1"),
                                    ("2026-01-15T17:30:00", "c-jan15"), ("2026-02-01T04:59:00", "c-jan31"),
                                    ("2026-02-01T05:00:00", "c-feb1")):
        record_at(monkeypatch, datetime.fromisoformat(moment).replace(tzinfo=timezone.utc), conversation_id)

    result = invoke("reports", {"month": "2026-01"})
    again = invoke("reports", {"month": "2026-01"})  # the schedule's retry writes the same objects

    assert result == again
    assert result["reveals_key"] == "reveals/2026/refdesk-reveals-2026-01.csv" and result["reveals"] == 3
    s3 = boto3.client("s3")
    obj = s3.get_object(Bucket=os.environ["REPORTS_BUCKET"], Key=result["reveals_key"])
    assert obj["ContentType"].startswith("text/csv") and obj["ServerSideEncryption"] == "AES256"
    assert list(csv.reader(io.StringIO(obj["Body"].read().decode()))) == [
        ["revealed_at", "user", "conversation_id", "message_id"],
        ["2026-01-01T00:00:00-05:00", "U0BEN", "c-jan1", "SMc-jan1"],
        ["2026-01-15T12:30:00-05:00", "U0BEN", "c-jan15", "SMc-jan15"],
        ["2026-01-31T23:59:00-05:00", "U0BEN", "c-jan31", "SMc-jan31"],
    ]
    assert s3.head_object(Bucket=os.environ["REPORTS_BUCKET"], Key=result["key"])  # the stats CSV as before


# --- the table, without AWS --------------------------------------------------------------

def test_the_table_shows_the_newest_rows_and_counts_the_rest():
    from refdesk import reports, reveal_audit

    reveals = [{"revealed_at": f"2026-01-{day:02d}T15:00:00.000000Z", "user": "U0BEN",
                "conversation_id": f"c{day}", "message_id": f"SM{day}"} for day in range(1, 32)] * 2
    reveals.sort(key=lambda reveal: reveal["revealed_at"])

    table = reveal_audit.table(reveals, reports.month("2026-01"))

    shown = rows(table)
    assert len(shown) == reveal_audit.MAX_ROWS == 40
    assert shown[0].startswith("• 2026-01-31 10:00 EST · <@U0BEN> · conversation `c31` · message `SM31`")
    assert table.endswith("…and 22 more: see the monthly CSV (reports bucket, `reveals/`).")
    assert "No one revealed" in reveal_audit.table([], reports.month("2026-01"))


def test_an_id_a_patrons_browser_chose_is_shown_by_its_hash():
    from refdesk import reveal_audit

    assert reveal_audit.shown_id("3f2b9c1e-8d4a-4b7e-9f00-2a6c5d1e7b33") == "3f2b9c1e-8d4a-4b7e-9f00-2a6c5d1e7b33"
    assert reveal_audit.shown_id("C0PARTNER1-1700000000.000100") == "C0PARTNER1-1700000000.000100"
    hidden = reveal_audit.shown_id("=HYPERLINK(\"jane.doe@example.com\")")
    assert hidden.startswith("sha256:") and "jane" not in hidden
