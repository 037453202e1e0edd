"""Files in web chat, both ways, and a librarian's files for every patron (issue 19, item 4).
This module decides what goes into the files bucket (FILES_BUCKET) and takes it out again;
refdesk.file_links owns the librarians' files' keys and the patrons' links to them.

From a web patron (a picture or a PDF, at most MAX_BYTES):
1. `upload_form`: the widget asks (POST /chat/sessions/{id}/files) and gets a presigned POST for
   one key, `uploads/{conversation}/{file}`, whose policy holds the declared type and the size
   range, valid UPLOAD_SECONDS. The bytes go from the browser to S3, never through Lambda.
2. `take_upload`: the widget sends its message with the file's id; the object's size is read and
   its first bytes are checked (`kind_of`: the type is what the bytes are, never what the name
   says). A file that fails, or comes after the chat ended, is deleted there and then and the
   widget is told why: nothing is kept.
3. The message carries `upload_ref(key)` as its media; the dispatcher shows it in the staff thread
   with files_upload_v2 (refdesk.pictures) and then deletes it (`discard_upload`): a patron's file
   is kept in Slack only, like an MMS picture.

From a librarian (a file shared in the staff thread, at most MAX_BYTES):
`keep_for_patron` copies it from Slack (files.info, its url_private_download with the bot token)
to `files/{conversation}/{file}`, and the reply carries it (`Message.files`); the patron reaches it
by a link (refdesk.file_links).

Retention: a patron's upload lives until shown (the bucket's lifecycle removes a forgotten one
after a day); a librarian's file RetentionDays after it was copied, which is never after its
conversation's own end (the lifecycle rule, and the link's expiry). A patron's delete removes the
conversation's files at once (`erase`)."""
from __future__ import annotations

import time
from typing import Any, TypedDict
from urllib.parse import urlsplit

from aws_lambda_powertools import Logger

from refdesk import downloads, file_links
from refdesk.errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType, chat_ended
from refdesk.models import SharedFile
from refdesk.settings import get_settings
from refdesk.shapes import check

logger = Logger(child=True)

MAX_BYTES = 10 * 1024 * 1024
UPLOAD_SECONDS = 300  # the presigned POST's life: the widget uploads right after asking
UPLOAD_PREFIX = "uploads/"
UPLOAD_REF = "s3:"  # a patron message's media entry for an upload (InboundMessage.media)
SLACK_FILES_HOST = "files.slack.com"  # where url_private_download points: the only host given the bot token
DOWNLOAD_SECONDS = 15  # one librarian file from Slack, against the dispatcher's 30 s
# What a patron may send: the types `kind_of` proves from the first bytes.
ACCEPTED = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})
NOT_ACCEPTED = "Only pictures (PNG, JPEG, GIF, WebP) and PDF files can be sent."
TOO_LARGE = f"larger than {MAX_BYTES // (1024 * 1024)} MB."


class UploadRequest(TypedDict):
    """The body of POST /chat/sessions/{id}/files (refdesk.shapes checks it)."""
    type: str
    size: int


def kind_of(head: bytes) -> str:
    """The accepted type the first bytes of a file prove, or "" for anything else."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return ""


def upload_key(conversation_id: str, file_id: str) -> str:
    return f"{UPLOAD_PREFIX}{conversation_id}/{file_id}"


def upload_ref(key: str) -> str:
    return UPLOAD_REF + key


def check_upload_id(file_id: Any) -> str:
    if not (isinstance(file_id, str) and file_id.startswith("f") and file_id[1:].isalnum() and len(file_id) < 64):
        raise BadRequest("file_id is not a file this chat uploaded")
    return file_id


def declared(body: Any) -> str:
    """The type an upload request declares, once its type and size are ones a patron may send."""
    fields = check(body, UploadRequest, "body")
    kind = str(fields["type"]).split(";")[0].strip().lower()
    if kind not in ACCEPTED:
        raise UnsupportedMediaType(NOT_ACCEPTED)
    if not 0 < fields["size"] <= MAX_BYTES:
        raise PayloadTooLarge(f"That file is {TOO_LARGE}" if fields["size"] > 0 else "That file is empty.")
    return kind


def upload_form(conversation_id: str, file_id: str, kind: str) -> dict:
    """A presigned POST for one upload: the key, the type and the size range in its signed policy."""
    form = file_links.s3().generate_presigned_post(
        Bucket=file_links.bucket(), Key=upload_key(conversation_id, file_id), Fields={"Content-Type": kind},
        Conditions=[{"Content-Type": kind}, ["content-length-range", 1, MAX_BYTES]], ExpiresIn=UPLOAD_SECONDS)
    return {"url": form["url"], "fields": form["fields"]}


def take_upload(conversation_id: str, file_id: str, *, ended: bool) -> str:
    """The type an uploaded file's bytes prove. The file is deleted, and the error raised, when it is
    too large (PayloadTooLarge), not a picture or PDF (UnsupportedMediaType), or the chat has ended
    (Conflict); NotFound when nothing was uploaded under that id."""
    from botocore.exceptions import ClientError

    key = upload_key(conversation_id, file_id)
    s3 = file_links.s3()
    try:
        size = s3.head_object(Bucket=file_links.bucket(), Key=key)["ContentLength"]
        head = s3.get_object(Bucket=file_links.bucket(), Key=key, Range="bytes=0-15")["Body"].read() if size else b""
    except ClientError as error:
        if file_links.missing(error):
            raise NotFound("no file was uploaded with that id, or it was already sent") from None
        raise
    refusal = (chat_ended() if ended else
               PayloadTooLarge(f"That file is {TOO_LARGE}") if size > MAX_BYTES else
               None if kind_of(head) else UnsupportedMediaType(f"That file is not a picture or a PDF. {NOT_ACCEPTED}"))
    if refusal:
        discard_upload(key)
        logger.info("upload refused", extra={"code": refusal.code, "bytes": size})
        raise refusal
    return kind_of(head)


def read_upload(ref: str) -> tuple[bytes, str] | None:
    """An upload's bytes and type (for the staff thread), or None when it is gone (shown, or erased)."""
    from botocore.exceptions import ClientError

    try:
        answer = file_links.s3().get_object(Bucket=file_links.bucket(), Key=ref.removeprefix(UPLOAD_REF))
    except ClientError as error:
        if file_links.missing(error):
            return None
        raise
    return answer["Body"].read(), answer.get("ContentType", "")


def discard_upload(ref: str) -> None:
    file_links.s3().delete_object(Bucket=file_links.bucket(), Key=ref.removeprefix(UPLOAD_REF))


def keep_for_patron(conversation_id: str, file_ids: tuple[str, ...]) -> tuple[tuple[SharedFile, ...], list[str]]:
    """A librarian's files copied from Slack for the patron, and a line for each one that cannot be
    (too large, gone). The copy's key is the Slack file's id: a retry writes the same object again.
    Slack failing (or busy) raises: the job is tried again."""
    from refdesk.slack import api as slack

    kept, refused = [], []
    for file_id in file_ids:
        meta = slack.file_info(file_id)
        if not meta:
            refused.append("A file was not sent: Slack no longer has it (deleted meanwhile).")
            continue
        name = str(meta.get("name") or meta.get("title") or "A file")
        too_large = int(meta.get("size") or 0) > MAX_BYTES
        data = None if too_large else _from_slack(meta)
        if data is None:
            why = f"it is {TOO_LARGE}" if too_large else "Slack did not hand it over."
            refused.append(f"{name} was not sent: {why}")
            continue
        kind = str(meta.get("mimetype") or "application/octet-stream")
        file_links.keep(conversation_id, file_id, name, kind, data)
        kept.append(SharedFile(file_id=file_id, name=name, kind=kind, size=len(data)))
    logger.info("librarian files kept for the patron", extra={"conversation_id": conversation_id,
                                                              "kept": len(kept), "refused": len(refused)})
    return tuple(kept), refused


def _from_slack(meta: dict) -> bytes | None:
    """A shared file's bytes with the bot token, sent to Slack's file host only; None when Slack
    refuses it. Slack failing for now raises downloads.Transient (the job is tried again)."""
    import requests

    url = str(meta.get("url_private_download") or meta.get("url_private") or "")
    local = get_settings().slack_api_url
    host = urlsplit(local).netloc if local else SLACK_FILES_HOST
    if urlsplit(url).scheme not in ("https", "http" if local else "https") or urlsplit(url).netloc != host:
        return None
    with requests.Session() as session:
        session.max_redirects = 3
        session.headers["Authorization"] = f"Bearer {get_settings().secret('slack_bot_token')}"
        try:
            return downloads.capped(session, url, time.monotonic() + DOWNLOAD_SECONDS, MAX_BYTES)[0]
        except downloads.Refused:
            return None


def erase(conversation_id: str) -> None:
    """Every file of the conversation, both ways (a patron's delete). Safe to run again."""
    bucket = get_settings().files_bucket
    if not bucket:
        return
    s3 = file_links.s3()
    removed = 0
    for prefix in (UPLOAD_PREFIX, file_links.FILES_PREFIX):
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}{conversation_id}/")
        keys = [{"Key": item["Key"]} for item in listed.get("Contents", ())]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            removed += len(keys)
    if removed:
        logger.info("conversation's files removed", extra={"conversation_id": conversation_id, "files": removed})
