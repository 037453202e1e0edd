"""Librarians' files for patrons, by link (refdesk.attachments copies them from Slack): the files
bucket's `files/{conversation}/{file}` keys, and GET /files/{token} on the web chat API.

A link is signed with the patron-id key and good for RetentionDays from its message's time (`link`:
the same link however often it is made); it answers with a redirect to a presigned GET of a few
minutes (`open_link`), so the link outlives the Lambda credentials that sign each redirect.
`for_patron` decides per channel: a client that shows the files itself (the widget) gets the text
alone, a channel that sends pictures (SMS) carries those Twilio can as MMS media, and every other
file, on every channel, is a line with its link."""
from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime
from urllib.parse import quote, unquote

from refdesk import clients
from refdesk.errors import Gone, NotFound
from refdesk.models import Message, SharedFile
from refdesk.settings import get_settings

FILES_PREFIX = "files/"
PATH = "/files/"  # GET /files/{token}
REDIRECT_SECONDS = 300  # each link's redirect: long enough to load, short enough not to share
# Pictures every phone shows as MMS (Twilio: JPEG, PNG and GIF, at most 5 MB); others go as links.
MMS_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})
MMS_MAX_BYTES = 5 * 1024 * 1024


def file_key(conversation_id: str, file_id: str) -> str:
    return f"{FILES_PREFIX}{conversation_id}/{file_id}"


def keep(conversation_id: str, file_id: str, name: str, kind: str, data: bytes) -> None:
    """A librarian's file, kept for the patron's link, with its name for the download (URL-encoded:
    S3 metadata is ASCII)."""
    s3().put_object(Bucket=bucket(), Key=file_key(conversation_id, file_id), Body=data, ContentType=kind,
                    Metadata={"name": quote(name, safe="")})


def link(conversation_id: str, shared: SharedFile, sent_at: str, api_base: str = "") -> str:
    """The patron's link to a librarian's file, good for RetentionDays from its message's time: the
    same link however often it is made (a retried text is recognised by its words). Under
    PublicBaseUrl, else `api_base` (a request's own host), else the dispatcher's API_URL."""
    settings = get_settings()
    expires = int(_epoch(sent_at)) + settings.retention_seconds
    payload = f"{conversation_id}.{shared.file_id}.{expires:x}"
    return f"{settings.public_base_url or api_base or settings.api_url}{PATH}{payload}.{_signature(payload)}"


def _epoch(at: str) -> float:
    try:
        return datetime.fromisoformat(at).timestamp()
    except ValueError:
        return time.time()


def open_link(token: str, now: float | None = None) -> str:
    """Where a link leads now: a presigned GET of a few minutes. NotFound for a link that is not one
    of ours, Gone for one past its time or whose file is no longer kept."""
    from botocore.exceptions import ClientError

    payload, _, signature = token.rpartition(".")
    parts = payload.split(".")
    if len(parts) != 3 or not all(part.isalnum() for part in parts) or \
            not hmac.compare_digest(signature, _signature(payload)):
        raise NotFound("no such file")
    conversation_id, file_id, expires = parts
    if int(expires, 16) < (now if now is not None else time.time()):
        raise Gone("This file is no longer available: files are kept only as long as the conversation.")
    key = file_key(conversation_id, file_id)
    storage = s3()
    try:
        head = storage.head_object(Bucket=bucket(), Key=key)
    except ClientError as error:
        if missing(error):
            raise Gone("This file is no longer available: it was deleted, or its conversation was.") from None
        raise
    kind = head.get("ContentType", "")
    name = unquote((head.get("Metadata") or {}).get("name") or "file")
    plain = name.encode("ascii", "replace").decode().replace('"', "'")  # for a browser without filename*
    how = "inline" if kind.startswith("image/") or kind == "application/pdf" else "attachment"  # never opened
    return storage.generate_presigned_url("get_object", ExpiresIn=REDIRECT_SECONDS, Params={
        "Bucket": bucket(), "Key": key,
        "ResponseContentDisposition": f"{how}; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"})


def for_patron(conversation_id: str, message: Message, *, shows_files: bool = False,
               sends_pictures: bool = False) -> tuple[str, tuple[str, ...]]:
    """The text a reply with files is sent as, and the MMS media sent with it, as the channel's
    traits say (refdesk.channels.contract.Traits; a channel handed the reply on, a web follow-up's
    e-mail, has none: links)."""
    if not message.files or shows_files:
        return message.text, ()
    as_media = [shared for shared in message.files
                if sends_pictures and shared.kind in MMS_TYPES and shared.size <= MMS_MAX_BYTES]
    lines = [f"{shared.name}: {link(conversation_id, shared, message.at)}"  # no emoji: an SMS stays GSM-7
             for shared in message.files if shared not in as_media]
    return ("\n".join(part for part in (message.text, *lines) if part),
            tuple(link(conversation_id, shared, message.at) for shared in as_media))


def views(conversation_id: str, message: Message, api_base: str = "") -> list[dict]:
    """A message's files as the widget lists them (refdesk.channels.web.message_view)."""
    return [{"name": shared.name, "type": shared.kind, "size": shared.size,
             "url": link(conversation_id, shared, message.at, api_base)} for shared in message.files]


def missing(error) -> bool:
    """Whether S3's ClientError says there is no such object (404: the functions may list the bucket)."""
    return error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def bucket() -> str:
    name = get_settings().files_bucket
    if not name:
        raise NotFound("files are not configured")
    return name


def s3():
    return clients.get("s3")


def _signature(payload: str) -> str:
    key = get_settings().secret("patron_id_key").encode()
    return hmac.new(key, f"file-link:{payload}".encode(), hashlib.sha256).hexdigest()[:32]
