"""Slack Connect: members of another organisation ask in a channel shared with the library.

Any externally shared channel the bot belongs to, other than the staff channel, is a patron
channel. A top-level message there from a member of another team (its `user_team` is not the
library's) opens a conversation, and later messages in that message's thread join it: the
session, the anchor of the open conversation, is the shared-channel thread (channel id + root
ts), so a new top-level message opens a new conversation. Replies are posted back into that
thread by the bot, credited like SMS replies through `ReplyFormat` ("Amanda (library): …"), so
no `chat:write.customize` scope is needed. Closing forgets the session, as for SMS: the
partner's next message in that thread opens a new conversation.

Staff see the partner as "Slack Connect · T0PARTNER ···NER1" (their team id and the last four
characters of their user id), never a name or an e-mail address. The webhook makes no Slack
call, so the team's name is not looked up.

Which events are a partner's is decided here (`from_partner`), from the event and its
envelope alone: no AWS or Slack call. The library's own team is the one staff boundary's
(refdesk.staff; the SlackTeamId setting, `Settings.is_library_team`)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from refdesk import identity, store, wake_ups
from refdesk.channels.contract import Rating, Traits
from refdesk.errors import BadRequest, DeliveryFailed
from refdesk.models import InboundMessage, Message
from refdesk.settings import get_settings
from refdesk.shapes import check
from refdesk.slack import payloads
from refdesk.slack.text import escaped_chunks, plain_text
from refdesk.store.sessions import Release

NAME = "slack_connect"
# Slack advises keeping message text under 4,000 characters (it truncates past 40,000).
MAX_PART = 4000
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
# A message's own ts is when the partner sent it, believed up to this long before the webhook's now:
# Slack's retries come within about 5 minutes, so an older ts is a replay or a clock gone wrong.
MAX_SEND_AGE = timedelta(minutes=10)
TS = re.compile(r"^\d{1,12}\.\d{1,8}$")
# chat.postMessage errors where trying again cannot help: the bot left or was removed from the
# shared channel, the channel was archived or unshared, or an admin restricts posting there.
PERMANENT_ERRORS = {
    "channel_not_found": "the shared channel no longer exists for the library, or the bot cannot see it",
    "not_in_channel": "the bot is no longer in the shared channel; invite it again",
    "is_archived": "the shared channel is archived",
    "restricted_action": "a workspace setting stops the bot posting there",
    "restricted_action_read_only_channel": "the shared channel is read-only",
    "restricted_action_thread_only_channel": "the shared channel does not allow this reply",
    "restricted_action_non_threadable_channel": "the shared channel does not allow thread replies",
    "team_access_not_granted": "the partner organisation no longer grants the library access",
    "ekm_access_denied": "administrators have suspended posting",
    "access_denied": "access to the shared channel is denied",
    "msg_too_long": "the reply is too long for Slack",
    "no_text": "the reply is empty",
}


def _bot_user(envelope: Mapping[str, Any]) -> str:
    for authorization in envelope.get("authorizations") or []:
        if authorization.get("is_bot") and authorization.get("user_id"):
            return str(authorization["user_id"])
    return ""


def author_team(message: Mapping[str, Any]) -> str:
    """The team of the person who wrote a message, as the event says (empty when it does not)."""
    return next((str(message[name]) for name in ("user_team", "source_team", "team") if message.get(name)), "")


def is_outsider(message: Mapping[str, Any]) -> bool:
    """Whether the event names the author's team and it is not the library's (refdesk.staff). A
    message that names no team is not a partner's; on the staff side it is not staff's either."""
    team = author_team(message)
    return bool(team) and not get_settings().is_library_team(team)


def from_partner(event: Mapping[str, Any], envelope: Mapping[str, Any], message: Mapping[str, Any] | None = None) -> bool:
    """A message (the event's, or `message` for edits and deletions) written by a member of
    another organisation in an externally shared channel that is not the staff channel."""
    message = event if message is None else message
    channel = event.get("channel")
    return (envelope.get("is_ext_shared_channel") is True
            and bool(channel) and channel != get_settings().slack_staff_channel
            and bool(message) and not message.get("bot_id")
            and bool(message.get("user")) and message.get("user") != _bot_user(envelope)
            and is_outsider(message))


def session_of(channel: str, thread_root: str) -> str:
    return f"slack-{channel}-{thread_root}"


def message_id_of(channel: str, ts: str) -> str:
    return f"{channel}-{ts}"


def address_of(channel: str, thread_root: str) -> str:
    """Where replies go: the shared-channel thread."""
    return f"{channel}/{thread_root}"


def thread_of(address: str) -> tuple[str, str]:
    """(channel id, root ts) of the shared-channel thread an address names."""
    channel, _, thread_root = address.partition("/")
    return channel, thread_root


def sent_at(event: Mapping[str, Any]) -> str:
    """When the partner sent the message (its ts, a checked payloads.Ts), as an ISO UTC time like
    store.table.now_iso: the wait is timed from it. Never later than now; a ts more than
    MAX_SEND_AGE before now is not believed, and the message is timed from now."""
    now = datetime.now(timezone.utc)
    sent = datetime.fromtimestamp(float(event["ts"]), timezone.utc)
    return wake_ups.iso(sent if now - MAX_SEND_AGE <= sent <= now else now)


def patron_of(team: str, user: str) -> str:
    """The keyed hash a partner's member is known by (their team and user id)."""
    return identity.patron_id(NAME, f"{team}:{user}")


def label_of(team: str, user: str) -> str:
    return f"Slack Connect · {team or 'partner'} ···{user[-4:]}"


def readable(slack_text: str, files: int = 0) -> str:
    """A partner's Slack text as staff read it in the card: mentions, links and escapes resolved
    (the card escapes it again), emoji shortcodes kept for Slack to show; files mentioned."""
    text = plain_text(slack_text, emoji=False)  # no emoji library in a webhook
    note = f"[shared {files} file(s) in the shared channel, not shown here]" if files else ""
    return "\n".join(part for part in (text, note) if part.strip())


class SlackConnectChannel:
    name = NAME
    release = Release.FORGET
    # The session is a shared thread, which other members of the partner may write in too: it goes
    # with the conversations it anchors, never just because one member asked for the erasure.
    traits = Traits(display_name="Slack Connect", delete_words=frozenset({"delete"}), rating=Rating.IN_THREAD,
                    shared_session=True, replies_thread=thread_of)

    def parse(self, fields: Mapping[str, Any], session_id: str = "") -> InboundMessage | None:
        """`fields` is the message event (type message: a new message, thread_broadcast or
        file_share). None when there is nothing to show (an empty message)."""
        check(fields, payloads.MessageEvent, "event")
        if not fields.get("user") or not fields.get("ts"):
            raise BadRequest("Slack Connect message without a user or ts")
        channel, user, ts = fields["channel"], fields["user"], fields["ts"]
        root = fields.get("thread_ts") or ts
        body = readable(fields.get("text") or "", len(fields.get("files") or ()))
        if not body.strip():
            return None
        team = author_team(fields)
        return InboundMessage(channel=self.name, message_id=message_id_of(channel, ts),
                              session_id=session_id or session_of(channel, root),
                              patron_id=patron_of(team, user), label=label_of(team, user),
                              text=body, reply_address=address_of(channel, root))

    def claim(self, message: InboundMessage, credential: str = "", at: str = "") -> tuple[str, bool]:
        return store.sessions.claim(message.session_id, message.message_id, new_conversation_id=identity.new_id("c"),
                                    message=message, at=at)

    def compose(self, sender: str, text: str, department: str = "") -> list[str]:
        """The reply credited like SMS ("Amanda (library): …") and escaped for Slack (a librarian's
        plain text may hold & < >), in parts Slack shows whole."""
        if sender:
            text = get_settings().credit(sender, text, department)
        return [part.strip() for part in escaped_chunks(text, MAX_PART) if part.strip()] or [""]

    def send(self, address: str, part: str, *, shows: Message | None = None) -> None:
        from slack_sdk.errors import SlackApiError

        from refdesk.slack import api as slack

        channel, thread_root = thread_of(address)
        if not CHANNEL_ID.match(channel) or not TS.match(thread_root):
            raise DeliveryFailed("no shared-channel thread to reply in", code="no_address")
        try:
            # With the stored message (its parts_sent: this part's index), posted once however
            # often the job runs.
            slack.post(channel, part, thread_ts=thread_root, shows=shows, part=shows.parts_sent if shows else 0)
        except SlackApiError as error:
            code = str(error.response.get("error") or "")
            if code in PERMANENT_ERRORS:
                raise DeliveryFailed(f"Slack error {code}: {PERMANENT_ERRORS[code]}", code=code) from error
            raise

    def tell(self, address: str, user: str, text: str) -> bool:
        """A line only `user` (a partner's member) sees, in the shared thread `address` names
        (chat.postEphemeral: nothing to look for on a retry, so at least once). False, and nothing
        posted, when it cannot be (no thread, they left the channel, a PERMANENT_ERRORS case);
        raises what may pass (Slack down, rate limited) for the jobs queue's backoff."""
        from slack_sdk.errors import SlackApiError

        from refdesk.slack import api as slack

        channel, thread_root = thread_of(address)
        if not CHANNEL_ID.match(channel) or not TS.match(thread_root):
            return False
        try:
            slack.tell(channel, user, escaped_chunks(text, MAX_PART)[0], thread_ts=thread_root)
        except SlackApiError as error:
            if str(error.response.get("error") or "") in {*PERMANENT_ERRORS, "user_not_in_channel"}:
                return False
            raise
        return True


CHANNEL = SlackConnectChannel()
