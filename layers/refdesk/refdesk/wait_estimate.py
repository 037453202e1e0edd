"""How long a patron told their place in line will roughly wait: the median first response of
live chats begun in opening hours at this time of day (the hour before, this hour and the next,
library time) over the last ESTIMATE_DAYS days (store.stats' exact waits), said in round words
("about 5 minutes"). Nothing is said with fewer than MIN_SAMPLES such waits: a guess from three
chats would mislead. One Query of the days' counters, made only when a patron is told their place
(once per wait, and only with someone ahead), so it is not cached."""
from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from refdesk.settings import get_settings
from refdesk.store import stats

ESTIMATE_DAYS = 28
MIN_SAMPLES = 10


def median_wait(now: datetime | None = None) -> int | None:
    """Seconds, or None when there is too little history."""
    local = (now or datetime.now().astimezone()).astimezone(ZoneInfo(get_settings().library_timezone))
    hours = {(local.hour + offset) % 24 for offset in (-1, 0, 1)}
    waits = [wait for day in stats.days(local.date() - timedelta(days=ESTIMATE_DAYS), local.date())
             for hour, values in day.hour_waits.items() if hour in hours for wait in values]
    return round(statistics.median(waits)) if len(waits) >= MIN_SAMPLES else None


def in_words(seconds: int) -> str:
    """ "about a minute", "about 4 minutes", "about 15 minutes", "about 2 hours": rounded so that it
    does not promise more precision than a median of past chats has."""
    minutes = seconds / 60
    if minutes < 1.5:
        return "about a minute"
    if minutes < 10:
        return f"about {round(minutes)} minutes"
    if minutes < 60:
        return f"about {5 * round(minutes / 5)} minutes"
    hours = round(minutes / 60)
    return "about an hour" if hours == 1 else f"about {hours} hours"


def sentence(now: datetime | None = None) -> str:
    """What the place-in-line line adds, or "" when there is too little history."""
    wait = median_wait(now)
    return f" At this time of day a librarian usually answers in {in_words(wait)}." if wait is not None else ""
