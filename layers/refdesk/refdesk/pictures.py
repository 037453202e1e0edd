"""A patron's MMS pictures (a book cover, an error screen), and the pictures and PDFs a web patron
uploads (refdesk.attachments), shown in the staff thread.

The webhook only records the media URLs and content types Twilio sent (`InboundMessage.media`);
the dispatcher fetches each one here, with the account's credentials (HTTP basic auth: Twilio's
"Enforce HTTP Auth on Media URLs"), and uploads it into the conversation's thread with
slack_sdk's `files_upload_v2`. The bytes go from Twilio to Slack and nowhere else: never into
the table, never into a log.

Only https://api.twilio.com/2010-04-01/Accounts/… URLs are fetched (locally: the configured
TWILIO_API_URL), so the credentials cannot be sent anywhere else; Twilio answers with a redirect
to a short-lived URL on its media CDN, which `requests` follows without the credentials. Only
image/* types are shown, and at most 5 MB (Twilio's MMS limit): the download is streamed and
stopped past that. Anything that cannot be shown gets a note in the thread instead: too big, not
a picture, or not fetched after a few tries (or within PICTURE_SECONDS). Progress is kept on
the stored message (`media_shown`), so a retried job neither uploads a picture twice nor skips
one; a job whose pictures take longer than JOB_SECONDS leaves the rest to its next attempt, and
the thread is told if the last attempt still left some unshown."""
from __future__ import annotations

import mimetypes
import time
from urllib.parse import urlsplit

from aws_lambda_powertools import Logger

from refdesk import attachments, downloads, store
from refdesk.channels.sms import media_type
from refdesk.models import Message
from refdesk.settings import get_settings
from refdesk.slack import api as slack
from refdesk.slack.text import escape

logger = Logger(child=True)

MAX_BYTES = 5 * 1024 * 1024
ATTEMPTS = 3
BACKOFF_SECONDS = 0.5  # then 1 s
# Time limits, against the dispatcher's 30 s timeout: one picture, all its tries included; and
# one job's pictures, after which the rest wait for the job's next attempt (which resumes).
PICTURE_SECONDS = 10
JOB_SECONDS = 15
MAX_REDIRECTS = 3
TWILIO_API = "https://api.twilio.com"
MEDIA_PATH = "/2010-04-01/Accounts/"


class NotShown(Exception):
    """A picture that cannot be shown: `code` for the log, `reason` for the staff thread."""

    def __init__(self, code: str, reason: str):
        super().__init__(code)
        self.code = code
        self.reason = reason


class PicturesPending(Exception):
    """This job's time for pictures is used up: the queue runs it again, from the next picture."""


def show(channel: str, thread_ts: str, conversation_id: str, stored: Message,
         media: tuple[tuple[str, str], ...]) -> None:
    """Each picture the patron sent into the thread, in order, from where a previous attempt
    stopped; a note for each one that cannot be shown. Slack errors propagate (the job is retried)."""
    total = len(media)
    session = None
    started = time.monotonic()
    for index in range(stored.media_shown, total):
        if index > stored.media_shown and time.monotonic() - started > JOB_SECONDS:
            logger.info("pictures left for the next attempt", extra={"conversation_id": conversation_id,
                                                                      "left": total - index})
            raise PicturesPending()
        url, declared = media[index]
        noun = "picture" if media_type(declared).startswith("image/") else "file"
        which = f"{noun} {index + 1} of {total}" if total > 1 else noun
        try:
            if url.startswith(attachments.UPLOAD_REF):  # from the widget: its type proven by its bytes
                data, kind = _uploaded(url), media_type(declared)
            else:
                if session is None:
                    session = _session()
                data, kind = _fetch(session, url, declared)
        except NotShown as why:
            slack.post(channel, f":frame_with_picture: The patron's {which} can't be shown here: {why.reason}",
                       thread_ts=thread_ts)
            logger.warning("patron picture not shown", extra={"conversation_id": conversation_id, "reason": why.code})
        else:
            slack.upload(channel, thread_ts, data, filename=f"{noun}-{index + 1}{_extension(kind)}",
                         title=f"The patron's {which}")
            logger.info("patron picture shown", extra={"conversation_id": conversation_id, "bytes": len(data),
                                                        "content_type": kind})
        store.messages.update(conversation_id, stored, media_shown=index + 1)
        if url.startswith(attachments.UPLOAD_REF):
            attachments.discard_upload(url)  # kept in Slack only, as an MMS picture is
    if session is not None:
        session.close()


def _uploaded(ref: str) -> bytes:
    upload = attachments.read_upload(ref)
    if upload is None:  # erased meanwhile, or (after a lost answer) already shown and deleted
        raise NotShown("upload_gone", "it is no longer stored. Ask the patron to send it again.")
    return upload[0]


def report_unshown(conversation_id: str, attempts: int) -> None:
    """The job of a message with pictures failed its last attempt: whatever it had not shown yet
    will not be, and the thread (if there is one yet) says so."""
    conversation = store.conversations.get(conversation_id)
    if conversation.slack_ts:
        slack.post(conversation.slack_channel, ":frame_with_picture: Some of the pictures the patron sent could not "
                   f"be shown here ({attempts} attempts). Ask the patron to send them again.",
                   thread_ts=conversation.slack_ts)


def twilio_media_url(url: str) -> str | None:
    """The URL to fetch, or None when it is not one of Twilio's media URLs: only Twilio's API
    host ever gets the account's credentials. Locally (TWILIO_API_URL set) Twilio's host is
    replaced by the stand-in's, as for every other Twilio API call (refdesk.clients)."""
    local = get_settings().twilio_api_url
    if local and url.startswith(TWILIO_API + "/"):
        url = local + url[len(TWILIO_API):]
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if f"{parts.scheme}://{parts.netloc}" != (local or TWILIO_API) or not parts.path.startswith(MEDIA_PATH):
        return None
    return url


def _session():
    import requests  # installed with twilio (layers/refdesk/requirements.txt)

    session = requests.Session()
    session.max_redirects = MAX_REDIRECTS
    settings = get_settings()
    session.auth = (settings.secret("twilio_account_sid"), settings.secret("twilio_auth_token"))
    return session


def _fetch(session, url: str, declared: str) -> tuple[bytes, str]:
    kind = media_type(declared)
    if not kind.startswith("image/"):
        raise NotShown("not_image", f"it is {_described(kind)}, and only pictures are shown. "
                                    "Ask the patron to describe it.")
    url = twilio_media_url(url)
    if url is None:
        raise NotShown("not_from_twilio", "its address is not Twilio's, so it was not fetched.")
    deadline = time.monotonic() + PICTURE_SECONDS
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _download(session, url, deadline)
        except downloads.Transient as error:
            logger.info("picture fetch failed", extra={"attempt": attempt, "error": str(error)})
            pause = BACKOFF_SECONDS * attempt
            if attempt == ATTEMPTS or time.monotonic() + pause >= deadline:
                tries = f"{attempt} tries" if attempt > 1 else "1 try"
                raise NotShown("fetch_failed", f"it could not be fetched from Twilio ({tries}). "
                                               "Ask the patron to send it again.") from None
            time.sleep(pause)
    raise AssertionError("unreachable")


def _download(session, url: str, deadline: float) -> tuple[bytes, str]:
    try:
        data, kind = downloads.capped(session, url, deadline, MAX_BYTES,
                                      accepts=lambda kind: media_type(kind).startswith("image/"))
        return data, media_type(kind)
    except downloads.Refused as refused:
        if refused.code == "too_big":
            raise NotShown("too_big", _too_big()) from None
        if refused.code == "wrong_type":
            raise NotShown("not_image", f"it is {_described(media_type(refused.kind))}, and only pictures are shown. "
                                        "Ask the patron to describe it.") from None
        raise NotShown("fetch_failed", f"Twilio refused to hand it over (HTTP {refused.status}).") from None


def _too_big() -> str:
    return f"it is larger than {MAX_BYTES // (1024 * 1024)} MB. Ask the patron to send a smaller one."


def _described(kind: str) -> str:
    return f"a file of type {escape(kind)}" if kind else "a file of an unknown type"


def _extension(kind: str) -> str:
    return mimetypes.guess_extension(kind) or ""
