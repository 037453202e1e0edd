"""GET /privacy.html: the short notice the widget links to ("Privacy"), saying what the desk keeps
and for how long, worded from the stack's own settings (RetentionDays, IdleCloseHours,
KeepTranscripts, TranscriptRetentionDays), so that it never promises other numbers than the ones
the desk runs with. README's Privacy section is the full account. One self-contained page: no
script, no image, no third-party resource (its Content-Security-Policy says so)."""
from __future__ import annotations

from html import escape

from refdesk.settings import Settings

HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "cache-control": "public, max-age=300",  # a new setting shows within 5 minutes of a deploy
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}
CONTENT_TYPE = "text/html; charset=utf-8"


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _hours(count: float) -> str:
    return "1 hour" if count == 1 else f"{count:g} hours"


def html(settings: Settings) -> str:
    from refdesk.store import stats  # on this page's request only: its module loads boto3

    library = escape(settings.library_name or "the library")
    kept, idle = _days(settings.retention_days), _hours(settings.idle_close_hours)
    transcripts = (f"A copy of a closed conversation with names, phone numbers, e-mail addresses and card "
                   f"numbers taken out is kept for {_days(settings.transcripts_kept_days)}, to improve the "
                   f"service." if settings.keep_transcripts else "No transcript of your conversation is kept.")
    items = [
        ("What we keep", "Your messages, the librarians' replies, and the phone number or e-mail address you "
                         "give us, so that a librarian can answer you. Librarians see your messages with phone "
                         "numbers, e-mail addresses and card numbers hidden."),
        ("For how long", f"While your conversation is open, and {kept} after it closes; then it is deleted. A "
                         f"conversation with no new message for {idle} is closed for you."),
        ("Transcripts", transcripts),
        ("Your browser's visitor id", "The chat keeps a random id in your browser's local storage, so that "
                                      "when you come back you count as a returning visitor. We keep only a "
                                      "scrambled (keyed hash) form of it, never the id itself: with your "
                                      f"conversations, and for {_days(stats.PATRON_SEEN_SECONDS // 86400)} after "
                                      "your last one to tell new visitors from returning ones."),
        ("Where you asked from", "So that the librarian knows where you are: for a chat, the title and "
                                 "address of the web page you started it on (without anything after a "
                                 "“?”, and with phone numbers, e-mail addresses and card numbers "
                                 "hidden), whether you use a phone, tablet or computer, and your browser's "
                                 "language; for a text, your number's country. Kept with your conversation, "
                                 "no longer. Librarians also see your earlier conversations we still keep."),
        ("Your comment on a rating", "If you add a comment when you rate a chat, it is kept with names, "
                                     "phone numbers, e-mail addresses and card numbers taken out, for "
                                     f"{_days(settings.transcripts_kept_days)} (as long as de-identified "
                                     "transcripts), to improve the service."),
        ("Pictures and files", "A picture or PDF you send in the chat is passed to the librarians and then "
                               "deleted from our storage at once (one never sent is deleted within a day). "
                               "A file a librarian sends you is kept for you to open for "
                               f"{kept}, then deleted; the link stops working then."),
        ("E-mailing you the conversation", "If you ask the chat to e-mail you the conversation, the address "
                                           "you type is kept only until the e-mail is sent, and library "
                                           "staff never see it."),
        ("Statistics", "Counts only (how many questions, how long they waited), which say nothing about who "
                       "asked."),
        ("Deleting it now", "Press \u201cDelete this conversation\u201d in the chat, or text DELETE if you "
                            "texted us: your conversations are deleted at once, from our records and from what "
                            "library staff see. That also deletes your comments on ratings, and the visitor "
                            "id: its hash with us and the id in your browser (a later chat starts with a new "
                            "one)."),
    ]
    rows = "\n".join(f"<h2>{escape(title)}</h2>\n<p>{escape(text)}</p>" for title, text in items)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Privacy: what {library}'s chat keeps</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em;color:#1f2328}}
h1{{font-size:1.4em}}h2{{font-size:1.1em;margin-bottom:.2em}}p{{margin-top:0}}</style>
</head>
<body>
<h1>Privacy: what {library}'s chat keeps</h1>
{rows}
</body>
</html>
"""
