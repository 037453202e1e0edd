"""One bounded download over HTTP: a patron's MMS picture from Twilio (refdesk.pictures), a
librarian's file from Slack (refdesk.attachments). Streamed and stopped past its size limit, so
the rest is never read; its type can be refused from the headers, before the body is."""
from __future__ import annotations

import time
from typing import Callable

CONNECT_TIMEOUT = 3.05
CHUNK = 64 * 1024


class Transient(Exception):
    """Worth another try: a connection error, a timeout, HTTP 429 or 5xx, too slow."""


class Refused(Exception):
    """Not worth another try: `code` is fetch_failed (with the HTTP `status`), wrong_type (with the
    Content-Type the server gave) or too_big."""

    def __init__(self, code: str, *, status: int = 0, kind: str = ""):
        super().__init__(code)
        self.code, self.status, self.kind = code, status, kind


def capped(session, url: str, deadline: float, max_bytes: int,
           accepts: Callable[[str], bool] = lambda kind: True) -> tuple[bytes, str]:
    """The body and Content-Type of a GET (redirects followed by `session`'s rules), before the
    monotonic `deadline`; `accepts` may refuse the Content-Type before the body is read. Raises
    Transient or Refused; never an error quoting the URL."""
    import requests  # installed with twilio (layers/refdesk/requirements.txt)

    read_timeout = max(0.5, deadline - time.monotonic())
    try:
        with session.get(url, stream=True, timeout=(CONNECT_TIMEOUT, read_timeout),
                         allow_redirects=True) as response:
            status = response.status_code
            if status == 429 or status >= 500:
                raise Transient(f"HTTP {status}")
            if status != 200:
                raise Refused("fetch_failed", status=status)
            kind = response.headers.get("content-type", "")
            if not accepts(kind):
                raise Refused("wrong_type", kind=kind)
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise Refused("too_big")
            chunks, size = [], 0
            for chunk in response.iter_content(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise Refused("too_big")  # stop reading: the rest is never downloaded
                if time.monotonic() > deadline:
                    raise Transient("too slow")
                chunks.append(chunk)
            return b"".join(chunks), kind
    except requests.RequestException as error:  # only its type: its message quotes the URL
        raise Transient(type(error).__name__) from None
