"""One typed settings object. Plain values come from the environment (set by template.yaml);
secrets come from env vars locally and from SSM SecureStrings (via Powertools) in AWS."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache

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


# The line a patron gets when a librarian closes the conversation, worded for the channel
# they use: a web patron starts a new chat, an SMS patron texts again. CLOSING_TEXT (the
# template's ClosingText) overrides the SMS wording, WEB_CLOSING_TEXT the web one.
CLOSING_TEXTS = {
    "sms": "This conversation is closed. Text us any time with a new question.",
    "web": "This chat is closed. Start a new chat here any time you have another question.",
    "slack_connect": "This conversation is closed. Post a new message in this channel any time you have "
                     "another question.",
}
CLOSING_OVERRIDES = {"sms": "CLOSING_TEXT", "web": "WEB_CLOSING_TEXT", "slack_connect": "SLACK_CONNECT_CLOSING_TEXT"}
DEFAULT_CLOSING_TEXT = "This conversation is closed. Thank you for asking the library."
# Waiting and hours (refdesk.waiting): an unclaimed conversation nudges the on-duty librarians
# after NUDGE_MINUTES, and again at most every NUDGE_MINUTES. A conversation opened while the
# desk is closed gets AFTER_HOURS_TEXT once ({opening}: when it next opens, "Mon 9:00").
DEFAULT_NUDGE_MINUTES = 3
DEFAULT_AFTER_HOURS_TEXT = "The desk is closed now; a librarian will answer when we open {opening}."
# What a blocked patron is told, once per block (refdesk.blocking).
DEFAULT_BLOCKED_TEXT = "This service can't take your messages. Please contact the library another way."
# The waiting queue (store.queue, refdesk.assignment): a patron with someone ahead of them in
# line (position > 1) is told their place once per wait ({position}); a transferred patron is
# told they are being connected to a colleague.
DEFAULT_QUEUE_POSITION_TEXT = "A librarian will be with you shortly — you are number {position} in line."
DEFAULT_RETENTION_DAYS = 30
DEFAULT_TRANSFER_TEXT = "You're being connected to a colleague who can help with this. One moment, please."
# The failure path (refdesk.retry, refdesk.dispatch): transient failures are retried until their
# delays add up to RETRY_HORIZON_HOURS; a patron whose message was given up is told UNDELIVERED_TEXT.
DEFAULT_RETRY_HORIZON_HOURS = 25
DEFAULT_UNDELIVERED_TEXT = ("Sorry — your message hasn't reached a librarian yet because of a technical problem. "
                            "It is saved and will be answered once the problem is fixed; if it's urgent, please "
                            "call or visit the library.")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    table_name: str
    jobs_queue_url: str
    ssm_prefix: str = "/refdesk"
    public_base_url: str = ""
    slack_staff_channel: str = ""
    # The library's own Slack workspace (SlackTeamId, T…; for an Enterprise Grid org, each workspace
    # whose members are staff, and the org's E… id). Only its members act as staff (refdesk.staff);
    # none set: nobody does.
    slack_team_ids: tuple[str, ...] = ()
    slack_api_url: str = ""
    twilio_api_url: str = ""
    twilio_from_number: str = ""
    sms_ack_text: str = ""
    closing_texts: dict = field(default_factory=lambda: dict(CLOSING_TEXTS))  # per channel
    reply_format: str = "{name} (library): {text}"
    # A reply by a member of a department invited into the conversation (refdesk.departments).
    department_reply_format: str = "{name} ({department}): {text}"
    allowed_origins: tuple[str, ...] = ()
    library_timezone: str = "America/New_York"
    opening_hours: dict = field(default_factory=dict)
    holidays: tuple[str, ...] = ()
    max_delivery_attempts: int = 5  # for failures that are not transient (refdesk.retry)
    dead_letter_queue_url: str = ""  # where the dispatcher moves a job it gives up
    # Nothing polls the jobs queue (an idle month costs nothing): whoever queues a job wakes the
    # dispatcher, an asynchronous invocation of this function, which drains the queue
    # (refdesk.dispatch.drain). Its last, empty receive waits this long, as SQS's short polls
    # can miss the few messages of a small queue (0 locally: moto answers from all of them).
    dispatcher_function_arn: str = ""
    jobs_receive_wait_seconds: int = 1
    retry_horizon_hours: float = DEFAULT_RETRY_HORIZON_HOURS
    retry_delay_scale: float = 1.0  # multiplies every retry delay; 0 locally: retries at once
    undelivered_text: str = DEFAULT_UNDELIVERED_TEXT
    # The library's contact card (GET /contact.vcf), sent as MMS with the first reply to a new
    # SMS patron when send_contact_card is on; api_url is where the API answers when no
    # public_base_url is set (the dispatcher has no request to learn it from).
    library_name: str = ""
    library_website: str = ""
    library_email: str = ""
    send_contact_card: bool = True
    api_url: str = ""
    # E-mail replies to web follow-ups (Amazon SES): the verified identity (an address or a
    # domain; the dispatcher may send from it alone) and the From address when it is a domain.
    ses_sender_identity: str = ""
    ses_from_address: str = ""
    nudge_minutes: int = DEFAULT_NUDGE_MINUTES
    # Wake-ups later (refdesk.wake_ups): one-time EventBridge Scheduler schedules in this group,
    # each invoking the sweeper (the sweep runs only while something waits, refdesk.waiting) or
    # the dispatcher (a failed job's next attempt) through the role the scheduler assumes.
    # SWEEP_DELAY_SCALE multiplies the sweep's own pacing (at
    # least a minute between wake-ups), never NudgeMinutes or the opening hours; small locally,
    # so that `make dev` and the tests need not wait a minute.
    wake_up_schedule_group: str = ""
    sweeper_function_arn: str = ""
    wake_up_scheduler_role_arn: str = ""
    sweep_delay_scale: float = 1.0
    after_hours_text: str = DEFAULT_AFTER_HOURS_TEXT
    blocked_text: str = DEFAULT_BLOCKED_TEXT
    queue_position_text: str = DEFAULT_QUEUE_POSITION_TEXT
    transfer_text: str = DEFAULT_TRANSFER_TEXT
    # Library-card barcodes masked in what is posted to Slack (refdesk.redaction): a regular
    # expression matched as a whole word (LibraryCardPattern; default 14 digits).
    library_card_pattern: str = r"\d{14}"
    # Reports (refdesk.reports): the reports function `/refdesk stats` invokes asynchronously, the
    # bucket of the monthly CSV, and the first days (MM-DD) of the academic terms ("term").
    reports_function_arn: str = ""
    reports_bucket: str = ""
    term_starts: tuple[str, ...] = ("01-01", "06-01", "09-01")
    # De-identified transcripts (refdesk.transcripts): off unless KEEP_TRANSCRIPTS is "true"; the
    # bucket (and its prefix) the dispatcher may write them to.
    keep_transcripts: bool = False
    transcript_bucket: str = ""
    # Retention (README "Privacy"): a closed conversation, its messages and where replies went
    # are kept this many days after it closes, then expire (DynamoDB TTL, and filtered on read).
    retention_days: int = DEFAULT_RETENTION_DAYS
    # The web chat's live connection (refdesk.live): the WebSocket URL the widget opens (wss://…/{stage};
    # the web chat function's) and the @connections endpoint that pushes to it (https://…/{stage}; the
    # dispatcher's). Empty: no live connection, the widget polls.
    live_url: str = ""
    live_connections_url: str = ""
    # Posts into one Slack channel, paced per process (refdesk.slack.api): Slack takes about one
    # a second per channel, with short bursts. 0 posts a second: not paced.
    slack_posts_per_second: float = 1.0
    slack_post_burst: int = 3

    @classmethod
    def from_env(cls, env=os.environ) -> "Settings":
        return cls(
            table_name=env.get("TABLE_NAME", "refdesk"),
            jobs_queue_url=env.get("JOBS_QUEUE_URL", ""),
            ssm_prefix=env.get("SSM_PREFIX", "/refdesk").rstrip("/"),
            public_base_url=env.get("PUBLIC_BASE_URL", "").rstrip("/"),
            slack_staff_channel=env.get("SLACK_STAFF_CHANNEL", ""),
            slack_team_ids=_csv(env.get("SLACK_TEAM_ID", "")),
            slack_api_url=env.get("SLACK_API_URL", ""),
            twilio_api_url=env.get("TWILIO_API_URL", "").rstrip("/"),
            twilio_from_number=env.get("TWILIO_FROM_NUMBER", ""),
            sms_ack_text=env.get("SMS_ACK_TEXT", ""),
            closing_texts={channel: env.get(CLOSING_OVERRIDES[channel], "").strip() or text
                           for channel, text in CLOSING_TEXTS.items()},
            reply_format=env.get("REPLY_FORMAT") or "{name} (library): {text}",
            department_reply_format=env.get("DEPARTMENT_REPLY_FORMAT") or "{name} ({department}): {text}",
            allowed_origins=_csv(env.get("ALLOWED_ORIGINS", "")),
            library_timezone=env.get("LIBRARY_TIMEZONE") or "America/New_York",
            opening_hours=json.loads(env.get("OPENING_HOURS") or "{}"),
            holidays=_csv(env.get("HOLIDAYS", "")),
            max_delivery_attempts=int(env.get("MAX_DELIVERY_ATTEMPTS") or 5),
            dead_letter_queue_url=env.get("DEAD_LETTER_QUEUE_URL", ""),
            dispatcher_function_arn=env.get("DISPATCHER_FUNCTION_ARN", "").strip(),
            jobs_receive_wait_seconds=max(0, min(20, int(env.get("JOBS_RECEIVE_WAIT_SECONDS") or 1))),
            retry_horizon_hours=float(env.get("RETRY_HORIZON_HOURS") or DEFAULT_RETRY_HORIZON_HOURS),
            retry_delay_scale=max(0.0, float(env.get("RETRY_DELAY_SCALE") or 1)),
            undelivered_text=env.get("UNDELIVERED_TEXT", "").strip() or DEFAULT_UNDELIVERED_TEXT,
            library_name=env.get("LIBRARY_NAME", "").strip(),
            library_website=env.get("LIBRARY_WEBSITE", "").strip(),
            library_email=env.get("LIBRARY_EMAIL", "").strip(),
            send_contact_card=env.get("SEND_CONTACT_CARD", "true").strip().lower() != "false",
            api_url=env.get("API_URL", "").rstrip("/"),
            ses_sender_identity=env.get("SES_SENDER_IDENTITY", "").strip(),
            ses_from_address=env.get("SES_FROM_ADDRESS", "").strip(),
            nudge_minutes=max(0, int(env.get("NUDGE_MINUTES") or DEFAULT_NUDGE_MINUTES)),
            wake_up_schedule_group=env.get("WAKE_UP_SCHEDULE_GROUP", "").strip(),
            sweeper_function_arn=env.get("SWEEPER_FUNCTION_ARN", "").strip(),
            wake_up_scheduler_role_arn=env.get("WAKE_UP_SCHEDULER_ROLE_ARN", "").strip(),
            sweep_delay_scale=max(0.0, float(env.get("SWEEP_DELAY_SCALE") or 1)),
            after_hours_text=env.get("AFTER_HOURS_TEXT", "").strip() or DEFAULT_AFTER_HOURS_TEXT,
            blocked_text=env.get("BLOCKED_TEXT", "").strip() or DEFAULT_BLOCKED_TEXT,
            queue_position_text=env.get("QUEUE_POSITION_TEXT", "").strip() or DEFAULT_QUEUE_POSITION_TEXT,
            transfer_text=env.get("TRANSFER_TEXT", "").strip() or DEFAULT_TRANSFER_TEXT,
            library_card_pattern=env.get("LIBRARY_CARD_PATTERN", "").strip() or r"\d{14}",
            reports_function_arn=env.get("REPORTS_FUNCTION_ARN", "").strip(),
            reports_bucket=env.get("REPORTS_BUCKET", ""),
            term_starts=_csv(env.get("TERM_STARTS", "")) or ("01-01", "06-01", "09-01"),
            keep_transcripts=env.get("KEEP_TRANSCRIPTS", "false").strip().lower() == "true",
            transcript_bucket=env.get("TRANSCRIPT_BUCKET", "").strip(),
            retention_days=max(1, int(env.get("RETENTION_DAYS") or DEFAULT_RETENTION_DAYS)),
            live_url=env.get("LIVE_URL", "").rstrip("/"),
            live_connections_url=env.get("LIVE_CONNECTIONS_URL", "").rstrip("/"),
            slack_posts_per_second=max(0.0, float(env.get("SLACK_POSTS_PER_SECOND") or 1)),
            slack_post_burst=max(1, int(env.get("SLACK_POST_BURST") or 3)),
        )

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
        """The closing line for a patron on this channel."""
        return self.closing_texts.get(channel) or DEFAULT_CLOSING_TEXT

    @property
    def retention_seconds(self) -> int:
        return self.retention_days * 24 * 3600

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
