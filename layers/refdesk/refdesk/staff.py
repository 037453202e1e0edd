"""The staff boundary: only members of the library's own Slack workspace act as staff.

Checked at the edge, where each Slack payload is parsed, from the team Slack signed into it, so
the webhooks make no Slack call:
  - an interaction (a button, a menu, a modal): `user.team_id`, else `team.id`;
  - a slash command: `team_id`;
  - a message event (a reply in a staff thread): every one of `user_team`, `source_team` and
    `team` the message names; a message that names none counts only outside an externally
    shared channel, where every author is of the workspace the event was delivered to.
The team must be one of the library's (SlackTeamId: the workspace, or for an Enterprise Grid
org each workspace whose members are staff). Anything else fails closed: a payload that names
no team, a team that is not the library's, no SlackTeamId set.

The verified team rides in the job (`actor_team`, models.ByStaff). The dispatcher runs a staff
job only when that team is the library's (`trusts`): a job from anywhere else (a body queued
before this check, one put on the queue by hand) does nothing. Replies, the one staff action a
patron reads, are also checked against users.info (slack.api.is_library_member): a user Slack
does not know or cannot show is not staff either.

An outsider is refused in one short ephemeral line (`refusal()`: by the dispatcher for a
press, models.StaffOnlyJob; as the answer to a slash command) and nothing else happens."""
from __future__ import annotations

from typing import Any, Mapping

from aws_lambda_powertools import Logger

from refdesk.models import ByStaff, Job, StaffOnlyJob
from refdesk.observability import count
from refdesk.settings import get_settings

logger = Logger(child=True)

REFUSAL = "Only the library's staff can do that."
UNSET = " (RefDesk does not know the library's Slack workspace: whoever deployed it sets SlackTeamId.)"


def refusal() -> str:
    """What an outsider is told; when no workspace is set (a deploy without SlackTeamId), everyone is
    one, and told why."""
    return REFUSAL if get_settings().slack_team_ids else REFUSAL + UNSET


def team_of_interaction(payload: Mapping[str, Any]) -> str:
    """The clicker's team as an interaction names it, whoever they are ("" when it does not)."""
    user, team = payload.get("user") or {}, payload.get("team") or {}
    return str(user.get("team_id") or team.get("id") or "")


def of_interaction(payload: Mapping[str, Any]) -> str:
    """The clicker's team when it is the library's, else "" (not staff)."""
    return _verified(team_of_interaction(payload))


def of_command(form: Mapping[str, str]) -> str:
    """The team of whoever typed a slash command when it is the library's, else ""."""
    return _verified(str(form.get("team_id") or ""))


def of_message(message: Mapping[str, Any], envelope: Mapping[str, Any]) -> str:
    """The author's team when it is the library's, else "": every team the message names must be
    the library's; a message that names none counts only outside a shared channel, where its
    author is of the workspace the event was delivered to."""
    named = [message.get(name) for name in ("user_team", "source_team", "team") if message.get(name)]
    if named:
        return str(named[0]) if all(get_settings().is_library_team(str(team)) for team in named) else ""
    if envelope.get("is_ext_shared_channel") is not False:
        return ""
    return _verified(_installation_team(envelope))


def _verified(team: str) -> str:
    return team if get_settings().is_library_team(team) else ""


def trusts(job: Job) -> bool:
    """Whether the dispatcher may run `job`: anything but a staff action, or a staff action whose
    actor was verified at the edge."""
    return not isinstance(job, ByStaff) or get_settings().is_library_team(job.actor_team)


def refused(job: Job) -> None:
    """A staff job the dispatcher does not trust: dropped, and counted."""
    logger.warning("staff job from an unverified actor dropped", extra={"kind": job.kind})
    count("StaffActionRefused")


def tell_refused(job: StaffOnlyJob) -> None:
    """The one thing an outsider's press does: tell them, where they pressed it."""
    count("StaffActionRefused")
    if not job.channel:  # a view (the Home tab) has nowhere to say it
        return
    from refdesk.slack import api as slack

    slack.tell(job.channel, job.user, refusal(), thread_ts=job.thread_ts or None)


def _installation_team(envelope: Mapping[str, Any]) -> str:
    for authorization in envelope.get("authorizations") or ():
        if authorization.get("team_id"):
            return str(authorization["team_id"])
    return str(envelope.get("team_id") or "")
