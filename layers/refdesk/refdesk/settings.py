"""One typed settings object. Plain values come from the environment (set by template.yaml);
secrets come from env vars locally and from SSM SecureStrings (via Powertools) in AWS.

Each setting is declared once, as a field of Settings made by setting(): its environment
variable, its default (what the variable means when unset or blank), how its text is read, a
line of documentation, and where a deployed stack gets it from:
- a template.yaml parameter, by name: the parameter's Default must mean what this default
  means (tests/unit/test_settings_one_source.py reads both and fails when they differ);
- STACK: template.yaml sets it from the stack's own resources (a table, a queue, an ARN);
- LOCAL: not deployed; the local stack and the tests set it, and AWS runs with the default.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import Field, dataclass, field, fields
from functools import lru_cache
from typing import Any, Callable

# Secret name -> (env var used locally, SSM parameter name under SSM_PREFIX).
SECRETS = {
    "slack_bot_token": ("SLACK_BOT_TOKEN", "slack-bot-token"),
    "slack_signing_secret": ("SLACK_SIGNING_SECRET", "slack-signing-secret"),
    "twilio_account_sid": ("TWILIO_ACCOUNT_SID", "twilio-account-sid"),
    "twilio_auth_token": ("TWILIO_AUTH_TOKEN", "twilio-auth-token"),
    "patron_id_key": ("PATRON_ID_KEY", "patron-id-key"),
    "report_link_key": ("REPORT_LINK_KEY", "report-link-key"),  # signs the report links (refdesk.reports)
}
SECRET_CACHE_SECONDS = 300

STACK = "stack"  # set by template.yaml from the stack's own resources
LOCAL = "local"  # never deployed: the local stack and the tests set it; AWS runs with the default

# The line a patron gets when a librarian closes the conversation, worded for the channel
# they use: a web patron starts a new chat, an SMS patron texts again (the defaults of
# CLOSING_TEXT, WEB_CLOSING_TEXT and SLACK_CONNECT_CLOSING_TEXT below). Each channel's line is
# the setting named `{channel}_closing_text` (Settings.closing_text).
CLOSING_TEXTS = {
    "sms": "This conversation is closed. Text us any time with a new question.",
    "web": "This chat is closed. Start a new chat here any time you have another question.",
    "slack_connect": "This conversation is closed. Post a new message in this channel any time you have "
                     "another question.",
}
DEFAULT_CLOSING_TEXT = "This conversation is closed. Thank you for asking the library."  # any other channel


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _url(value: str) -> str:
    return value.rstrip("/")


def _strip(value: str) -> str:
    return value.strip()


def _at_least(low: float, kind: Callable[[str], Any] = int, high: float | None = None) -> Callable[[str], Any]:
    def read(value: str):
        number = max(kind(low), kind(value))
        return number if high is None else min(kind(high), number)
    return read


def _switch(default: bool) -> Callable[[str], bool]:
    """"true"/"false": only the word for the other value changes it (any other text keeps the default)."""
    other = "false" if default else "true"
    return lambda value: (not default) if value.strip().lower() == other else default


READERS: dict[type, Callable[[str], Any]] = {str: str, int: int, float: float, tuple: _csv, dict: json.loads}


def setting(env: str, default, source: str, doc: str, *, read: Callable[[str], Any] | None = None,
            keep_blank: bool = False) -> Any:
    """A Settings field read from the environment variable `env`: `default` when it is unset (or
    blank, unless keep_blank: then a blank value is read too), else read(value) (by default, as
    the default's type: str as is, int, float, tuple from comma-separated text, dict from JSON,
    bool from "true"/"false"). `source` is the template.yaml parameter that sets it, STACK or LOCAL."""
    reader = read or (_switch(default) if isinstance(default, bool) else READERS[type(default)])
    metadata = {"env": env, "default": default, "source": source, "doc": " ".join(doc.split()),
                "read": reader, "keep_blank": keep_blank}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    # --- where things are -------------------------------------------------------------------
    table_name: str = setting("TABLE_NAME", "refdesk", STACK, "The DynamoDB table.")
    jobs_queue_url: str = setting("JOBS_QUEUE_URL", "", STACK, "The jobs queue (FIFO) the dispatcher drains.")
    ssm_prefix: str = setting("SSM_PREFIX", "/refdesk", "SsmPrefix", "The SSM path of the secrets (SECRETS).",
                              read=_url)
    public_base_url: str = setting("PUBLIC_BASE_URL", "", "PublicBaseUrl",
                                   "The URL Twilio and Slack call; empty: the request's own host.", read=_url)
    api_url: str = setting("API_URL", "", STACK, """The HTTP API's URL, where the dispatcher (which has no request
                           to learn it from) points Twilio for the contact card when no PUBLIC_BASE_URL is set.""",
                           read=_url)
    # Nothing polls the jobs queue (an idle month costs nothing): whoever queues a job wakes the
    # dispatcher, an asynchronous invocation of this function, which drains the queue
    # (refdesk.dispatch.drain).
    dispatcher_function_arn: str = setting("DISPATCHER_FUNCTION_ARN", "", STACK, "The dispatcher, woken by "
                                           "whoever queues a job.", read=_strip)
    jobs_receive_wait_seconds: int = setting("JOBS_RECEIVE_WAIT_SECONDS", 1, LOCAL, """How long the drain's last,
        empty receive waits (SQS's short polls can miss the few messages of a small queue; 0 locally: moto
        answers from all of them).""", read=_at_least(0, int, 20))
    dead_letter_queue_url: str = setting("DEAD_LETTER_QUEUE_URL", "", STACK, "Where the dispatcher moves a job "
                                         "it gives up.")
    # Wake-ups later (refdesk.wake_ups): one-time EventBridge Scheduler schedules in this group,
    # each invoking the sweeper (the sweep runs only while something waits, refdesk.waiting) or
    # the dispatcher (a failed job's next attempt) through the role the scheduler assumes.
    wake_up_schedule_group: str = setting("WAKE_UP_SCHEDULE_GROUP", "", STACK, "The one-time schedules' group.",
                                          read=_strip)
    sweeper_function_arn: str = setting("SWEEPER_FUNCTION_ARN", "", STACK, "The sweeper, woken by schedules.",
                                        read=_strip)
    wake_up_scheduler_role_arn: str = setting("WAKE_UP_SCHEDULER_ROLE_ARN", "", STACK, "The role the scheduler "
                                              "assumes to invoke a function.", read=_strip)
    # Reports (refdesk.reports): the reports function `/refdesk stats` invokes asynchronously, and
    # the bucket of the monthly CSVs.
    reports_function_arn: str = setting("REPORTS_FUNCTION_ARN", "", STACK, "The reports function.", read=_strip)
    reports_bucket: str = setting("REPORTS_BUCKET", "", STACK, "The bucket of the monthly statistics CSVs.")
    transcript_bucket: str = setting("TRANSCRIPT_BUCKET", "", STACK, "Where de-identified transcripts go "
                                     "(refdesk.transcripts).", read=_strip)
    files_bucket: str = setting("FILES_BUCKET", "", STACK, "Files in web chat, both ways, and librarians' files "
                                "for patrons (refdesk.attachments).", read=_strip)
    # The web chat's live connection (refdesk.live). Empty: no live connection, the widget polls.
    live_url: str = setting("LIVE_URL", "", STACK, "The WebSocket URL the widget opens (wss://…/{stage}; the "
                            "web chat function's).", read=_url)
    live_connections_url: str = setting("LIVE_CONNECTIONS_URL", "", STACK, "The @connections endpoint that "
                                        "pushes to the widget (https://…/{stage}; the dispatcher's).", read=_url)
    # Stand-ins' addresses: the Slack Web API base (WebClient(base_url=…)) and Twilio's.
    slack_api_url: str = setting("SLACK_API_URL", "", LOCAL, "The Slack Web API base; empty: Slack's.")
    twilio_api_url: str = setting("TWILIO_API_URL", "", LOCAL, "Replaces https://api.twilio.com.", read=_url)

    # --- Slack and Twilio -------------------------------------------------------------------
    slack_staff_channel: str = setting("SLACK_STAFF_CHANNEL", "", "SlackStaffChannel", "The staff channel's id.")
    slack_team_ids: tuple[str, ...] = setting("SLACK_TEAM_ID", (), "SlackTeamId", """The library's own Slack
        workspace (T…; for an Enterprise Grid org, each workspace whose members are staff, and the org's E… id).
        Only its members act as staff (refdesk.staff); none set: nobody does.""")
    # Posts into one Slack channel, in turns shared by every dispatcher copy (refdesk.slack.api).
    slack_posts_per_second: float = setting("SLACK_POSTS_PER_SECOND", 1.0, "SlackPostsPerSecond", """Posts a
        second into one Slack channel (Slack takes about one a second per channel); 0: not paced.""",
                                            read=_at_least(0, float))
    slack_post_burst: int = setting("SLACK_POST_BURST", 3, "SlackPostBurst", "Posts into one channel that may "
                                    "go at once before the pace applies.", read=_at_least(1))
    twilio_from_number: str = setting("TWILIO_FROM_NUMBER", "", "TwilioFromNumber", "The library's Twilio "
                                      "number (E.164).")
    allowed_origins: tuple[str, ...] = setting("ALLOWED_ORIGINS", (), "AllowedOrigins", "The library web "
                                               "origins allowed to use the chat API.")

    # --- what patrons are told --------------------------------------------------------------
    sms_ack_text: str = setting("SMS_ACK_TEXT", "Thanks! Your question is with a librarian; we'll text you back "
                                "here.", "SmsAckText", "Sent as TwiML when a text opens a new conversation, "
                                "followed by how to erase it (channels.sms.acknowledgement); empty: no "
                                "acknowledgement.", keep_blank=True)
    sms_closing_text: str = setting("CLOSING_TEXT", CLOSING_TEXTS["sms"], "ClosingText",
                                    "The closing line for an SMS patron.", read=_strip)
    web_closing_text: str = setting("WEB_CLOSING_TEXT", CLOSING_TEXTS["web"], "WebClosingText",
                                    "The closing line for a web chat patron.", read=_strip)
    slack_connect_closing_text: str = setting("SLACK_CONNECT_CLOSING_TEXT", CLOSING_TEXTS["slack_connect"],
                                              "SlackConnectClosingText",
                                              "The closing line for a Slack Connect partner.", read=_strip)
    reply_format: str = setting("REPLY_FORMAT", "{name} (library): {text}", "ReplyFormat",
                                "How a librarian's reply is credited ({name}, {text}).")
    department_reply_format: str = setting("DEPARTMENT_REPLY_FORMAT", "{name} ({department}): {text}",
                                           "DepartmentReplyFormat", """How a reply by a member of a department
        invited into the conversation is credited (refdesk.departments; {name}, {department}, {text}).""")
    # The waiting queue (store.queue, refdesk.assignment).
    queue_position_text: str = setting("QUEUE_POSITION_TEXT", "A librarian will be with you shortly — you are "
                                       "number {position} in line.", "QueuePositionText", """Told once per wait to
        a patron with someone ahead of them in line ({position} > 1).""", read=_strip)
    transfer_text: str = setting("TRANSFER_TEXT", "You're being connected to a colleague who can help with this. "
                                 "One moment, please.", "TransferText", "Told to a transferred patron.",
                                 read=_strip)
    after_hours_text: str = setting("AFTER_HOURS_TEXT", "The desk is closed now; a librarian will answer when we "
                                    "open {opening}.", "AfterHoursText", """Told once to a patron whose
        conversation opens while the desk is closed ({opening}: when it next opens, "Mon 9:00";
        refdesk.waiting).""", read=_strip)
    blocked_text: str = setting("BLOCKED_TEXT", "This service can't take your messages. Please contact the "
                                "library another way.", "BlockedText", "Told to a blocked patron, once per block "
                                "(refdesk.blocking).", read=_strip)
    undelivered_text: str = setting("UNDELIVERED_TEXT", "Sorry — your message hasn't reached a librarian yet "
                                    "because of a technical problem. It is saved and will be answered once the "
                                    "problem is fixed; if it's urgent, please call or visit the library.",
                                    "UndeliveredText", "Told to a patron whose message was given up "
                                    "(refdesk.dispatch).", read=_strip)
    # The library's contact card (GET /contact.vcf), sent as MMS with the first reply to a new SMS patron.
    library_name: str = setting("LIBRARY_NAME", "", "LibraryName", "The library's name on its contact card "
                                "and e-mails; empty: \"Ask a Librarian\".", read=_strip)
    library_website: str = setting("LIBRARY_WEBSITE", "", "LibraryWebsite", "The web site on the contact card.",
                                   read=_strip)
    library_email: str = setting("LIBRARY_EMAIL", "", "LibraryEmail", "An e-mail address on the contact card.",
                                 read=_strip)
    send_contact_card: bool = setting("SEND_CONTACT_CARD", True, "SendContactCard", "Whether the first reply "
                                      "to a new SMS patron carries the contact card.")
    # E-mail replies to web follow-ups (Amazon SES).
    ses_sender_identity: str = setting("SES_SENDER_IDENTITY", "", "SesSenderIdentity", """The verified SES
        identity (an address or a domain) the dispatcher may send from, and from no other.""", read=_strip)
    ses_from_address: str = setting("SES_FROM_ADDRESS", "", "SesFromAddress", "The From address when the "
                                    "identity is a domain.", read=_strip)
    ses_configuration_set: str = setting("SES_CONFIGURATION_SET", "", STACK, "The configuration set e-mailed "
                                         "replies go out under: its bounces and complaints reach "
                                         "functions/delivery_events.", read=_strip)

    # --- hours and waiting (refdesk.schedule, refdesk.waiting) --------------------------------
    library_timezone: str = setting("LIBRARY_TIMEZONE", "America/New_York", "LibraryTimezone",
                                    "The time zone of the opening hours.")
    opening_hours: dict = setting("OPENING_HOURS", {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")},
                                  "OpeningHours", """The weekly schedule, JSON: days mon…sun, "HH:MM-HH:MM"
        (several comma-separated); a day left out is closed, and an empty value closes every day.""",
                                  keep_blank=True, read=lambda value: json.loads(value or "{}"))
    holidays: tuple[str, ...] = setting("HOLIDAYS", (), "Holidays", "Closed dates (YYYY-MM-DD).")
    nudge_minutes: int = setting("NUDGE_MINUTES", 3, "NudgeMinutes", """An unclaimed conversation nudges the
        on-duty librarians after this many minutes, and again at most every this many.""", read=_at_least(0))
    sweep_delay_scale: float = setting("SWEEP_DELAY_SCALE", 1.0, LOCAL, """Multiplies the sweep's own pacing (at
        least a minute between wake-ups), never NUDGE_MINUTES or the opening hours; small locally, so that
        `make dev` and the tests need not wait a minute.""", read=_at_least(0, float))

    # --- failures (refdesk.retry, refdesk.dispatch) -----------------------------------------
    max_delivery_attempts: int = setting("MAX_DELIVERY_ATTEMPTS", 5, "MaxDeliveryAttempts", "Attempts at a job "
                                         "whose failure is not transient.")
    retry_horizon_hours: float = setting("RETRY_HORIZON_HOURS", 25.0, LOCAL, """Transient failures are retried
        until their delays add up to this (a whole day's outage is outlived; the jobs queue's maxReceiveCount
        stays above the attempts it takes).""")
    retry_delay_scale: float = setting("RETRY_DELAY_SCALE", 1.0, LOCAL, "Multiplies every retry delay; 0 "
                                       "locally: retries at once.", read=_at_least(0, float))

    # --- privacy and reports ----------------------------------------------------------------
    library_card_pattern: str = setting("LIBRARY_CARD_PATTERN", r"\d{14}", "LibraryCardPattern", """Library-card
        barcodes masked in what is posted to Slack (refdesk.redaction): a regular expression matched as a whole
        word.""", read=_strip)
    retention_days: int = setting("RETENTION_DAYS", 30, "RetentionDays", """A closed conversation, its messages
        and where replies went are kept this many days after it closes (README "Privacy").""",
                                  read=_at_least(1))
    idle_close_hours: float = setting("IDLE_CLOSE_HOURS", 24.0, "IdleCloseHours", """An open conversation with no
        message for this many hours is closed quietly (refdesk.idle): its card says so, the patron is told nothing,
        and RetentionDays runs from then. Fractions of an hour are for the local stack's tests.""",
                                      read=_at_least(0.001, float))
    keep_transcripts: bool = setting("KEEP_TRANSCRIPTS", False, "KeepTranscripts", "Whether de-identified "
                                     "transcripts are kept (refdesk.transcripts).")
    transcript_retention_days: int = setting("TRANSCRIPT_RETENTION_DAYS", 0, "TranscriptRetentionDays", """Days a
        de-identified transcript is kept (the bucket's lifecycle rule); 0: RetentionDays, as its conversation.""",
                                             read=_at_least(0))
    term_starts: tuple[str, ...] = setting("TERM_STARTS", ("01-01", "06-01", "09-01"), "TermStarts", """The
        first days (MM-DD) of the academic terms, for `/refdesk stats term`.""")

    @classmethod
    def from_env(cls, env=os.environ) -> "Settings":
        return cls(**{item.name: read_setting(item, env.get(item.metadata["env"])) for item in fields(cls)})

    @property
    def email_from(self) -> str:
        """The address replies are e-mailed from: SES_FROM_ADDRESS, else the sender identity
        when it is an address; "" when e-mail replies are not set up."""
        if self.ses_from_address:
            return self.ses_from_address
        return self.ses_sender_identity if "@" in self.ses_sender_identity else ""

    def credit(self, sender: str, text: str, department: str = "") -> str:
        """A reply credited to its sender: "Amanda (library): …", or "Sam (IT): …" for a member
        of an invited department."""
        if department:
            return self.department_reply_format.format(name=sender, department=department, text=text)
        return self.reply_format.format(name=sender, text=text)

    def is_library_team(self, team: str) -> bool:
        """Whether a Slack team (or Grid org) id is the library's own: the staff boundary's one rule
        (refdesk.staff at the edge, refdesk.slack.api for users.info)."""
        return bool(team) and team in self.slack_team_ids

    def closing_text(self, channel: str) -> str:
        """The closing line for a patron on this channel: its setting `{channel}_closing_text`, found
        by its name (the channels' adapters import this module, so it cannot ask them)."""
        return getattr(self, f"{channel}_closing_text", "") or DEFAULT_CLOSING_TEXT

    @property
    def retention_seconds(self) -> int:
        return self.retention_days * 24 * 3600

    @property
    def transcripts_kept_days(self) -> int:
        return self.transcript_retention_days or self.retention_days

    @property
    def idle_close_seconds(self) -> int:
        return max(1, round(self.idle_close_hours * 3600))

    def secret(self, name: str) -> str:
        env_name, parameter = SECRETS[name]
        if os.environ.get(env_name):
            return os.environ[env_name]
        from aws_lambda_powertools.utilities import parameters

        from refdesk.errors import NotConfigured

        try:
            return parameters.get_parameter(
                f"{self.ssm_prefix}/{parameter}", decrypt=True, max_age=SECRET_CACHE_SECONDS
            )
        except parameters.exceptions.GetParameterError as error:
            if "ParameterNotFound" in str(error):  # not cached: stored later, it is read at once
                raise NotConfigured(f"{self.ssm_prefix}/{parameter} is not stored in SSM yet") from error
            raise


def read_setting(item: Field, value: str | None):
    """A setting's value for its variable's text (None: unset)."""
    meta = item.metadata
    if value is None or (not value.strip() and not meta["keep_blank"]):
        return copy.deepcopy(meta["default"])
    return meta["read"](value)


# Environment variable -> its Settings field (whose metadata says default, source and doc).
DECLARED: dict[str, Field] = {item.metadata["env"]: item for item in fields(Settings)}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
