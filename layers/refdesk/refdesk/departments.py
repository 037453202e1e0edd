"""Departments pulled into a conversation (Invite on the card), run by the dispatcher.

Inviting a department mentions its Slack user group in the conversation's thread and posts a
short pointer, with a permalink to the thread, in the department's channel. The invitation is
recorded with the conversation (store.invitations), once per department: a second Invite of the
same department, by a double click or a colleague, only tells the librarian it was done.

Who answers for a department: a reply in the thread whose author belongs to a department that
was invited into that conversation (its user group's members, usergroups.users.list; a
department without a user group: its channel's members, conversations.members) reaches the
patron credited with the department ("Sam (IT): …"). Membership is asked of Slack only for
conversations with an invited department, and cached for a few minutes (slack.api.members)."""
from __future__ import annotations

from aws_lambda_powertools import Logger

from refdesk import deskconfig, store
from refdesk.models import InviteJob
from refdesk.slack import api as slack
from refdesk.slack.text import escape

logger = Logger(child=True)


def invite(job: InviteJob) -> None:
    """Safe to run again: each step (mention, pointer) is recorded once done."""
    conversation = store.conversations.get(job.conversation_id)
    channel, root = conversation.slack_channel, conversation.slack_ts
    department = deskconfig.get().department(job.department_id)
    if not channel or not root:  # the card is not posted yet: retried
        raise RuntimeError("the conversation has no staff thread yet")
    if department is None:
        slack.tell(channel, job.user, "That department is no longer in the desk's configuration; nobody was "
                   "invited.", thread_ts=root)
        return
    if not conversation.is_open:
        slack.tell(channel, job.user, f"This conversation is closed, so {department.name} was not invited.",
                   thread_ts=root)
        return
    invitation, mine = store.invitations.invite(job.conversation_id, department.id, job.user, job.submission)
    if not mine:
        slack.tell(channel, job.user, f"{department.name} was already invited into this conversation by "
                   f"<@{invitation.invited_by}>.", thread_ts=root)
        return
    if not invitation.mention_ts:
        ask = f" They ask: {escape(job.note.strip())}" if job.note.strip() else ""
        ts = slack.post(channel, f":wave: {department.mention}, <@{job.user}> invites {escape(department.name)} "
                        f"into this conversation.{ask}\nYour replies in this thread reach the patron credited "
                        f"as {escape(department.name)}; start a reply with `note:` to keep it internal.",
                        thread_ts=root)
        store.invitations.record_steps(job.conversation_id, department.id, mention_ts=ts)
    if department.channel and not invitation.pointer_ts:
        link = slack.permalink(channel, root)
        ts = slack.post(department.channel, f":raising_hand: The reference desk asks {escape(department.name)} "
                        f"for help with a patron's question ({escape(conversation.label)}), invited by "
                        f"<@{job.user}>: <{link}|open the conversation>")
        store.invitations.record_steps(job.conversation_id, department.id, pointer_ts=ts)
    logger.info("department invited", extra={"conversation_id": job.conversation_id, "department": department.id})


def credit(conversation_id: str, user: str) -> str:
    """The name of the invited department `user` answers for in this conversation, or "" (the
    library). Slack failing to say keeps the library's credit rather than holding the reply."""
    from slack_sdk.errors import SlackApiError

    invitations = store.invitations.invited(conversation_id)
    if not invitations:
        return ""
    config = deskconfig.get()
    for invitation in invitations:
        department = config.department(invitation.department_id)
        if department is None:
            continue
        try:
            members = slack.members(usergroup=department.usergroup,
                                    channel="" if department.usergroup else department.channel)
        except SlackApiError as error:
            logger.warning("department members unknown", extra={"department": department.id,
                                                                 "error": error.response.get("error")})
            continue
        if user in members:
            return department.name
    return ""


def directory() -> str:
    """Who can be asked, for `/refdesk status`: the librarians on duty and the departments a
    conversation can be handed to (no Slack call: the command answers at once)."""
    on_duty = sorted(store.duty.on_duty(), key=lambda item: str(item.get("since", "")))
    people = ", ".join(f"<@{item['user_id']}>" for item in on_duty if item.get("user_id")) or "nobody"
    lines = [f"*On duty:* {people}"]
    departments = deskconfig.get().departments
    if departments:
        lines.append("*Departments you can invite* (Invite on a conversation's card):")
        for department in departments:
            reach = ", ".join(filter(None, ["its user group is mentioned in the thread" if department.usergroup
                                            else "", f"pointer in <#{department.channel}>" if department.channel
                                            else ""]))
            about = f" - {escape(department.description)}" if department.description else ""
            lines.append(f"• *{escape(department.name)}*{about} ({reach})")
    else:
        lines.append("No departments are configured to invite (see the desk's configuration file).")
    return "\n".join(lines)
