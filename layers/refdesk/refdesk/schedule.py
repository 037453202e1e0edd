"""The library's opening hours: a weekly schedule with holiday exceptions, in its time zone."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from refdesk.settings import get_settings

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Schedule:
    hours: dict  # {"mon": "09:00-17:00,18:00-20:00", ...}; a missing day is closed
    holidays: frozenset[str]
    timezone: ZoneInfo

    @classmethod
    def from_settings(cls, settings) -> "Schedule":
        return cls(settings.opening_hours, frozenset(settings.holidays), ZoneInfo(settings.library_timezone))

    @classmethod
    def current(cls) -> "Schedule":
        return cls.from_settings(get_settings())

    def ranges(self, day: date) -> list[tuple[datetime, datetime]]:
        if day.isoformat() in self.holidays:
            return []
        spans = []
        for span in filter(None, (self.hours.get(DAYS[day.weekday()]) or "").split(",")):
            start, end = (self._at(day, part.strip()) for part in span.split("-"))
            spans.append((start, end if end > start else end + timedelta(days=1)))  # "22:00-02:00"
        return spans

    def _at(self, day: date, clock: str) -> datetime:
        if clock == "24:00":
            return datetime.combine(day + timedelta(days=1), time(0), self.timezone)
        return datetime.combine(day, time.fromisoformat(clock), self.timezone)

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.timezone)
        return any(start <= local < end for day in (local.date() - timedelta(days=1), local.date())
                   for start, end in self.ranges(day))

    def next_opening(self, now: datetime, horizon_days: int = 31) -> datetime | None:
        """When the desk next opens after `now` (None if open now or never within the horizon)."""
        if self.is_open(now):
            return None
        local = now.astimezone(self.timezone)
        for offset in range(horizon_days + 1):
            for start, _ in self.ranges(local.date() + timedelta(days=offset)):
                if start > local:
                    return start
        return None

    def opening_label(self, opening: datetime | None, now: datetime) -> str:
        """When the desk opens, as a patron reads it in the library's time zone (the after-hours
        reply, the widget): "Mon 9:00" within the coming week, "Mon 5 Jan 9:00" further off, ""
        when no opening is known."""
        if opening is None:
            return ""
        local = opening.astimezone(self.timezone)
        clock = f"{local.hour}:{local:%M}"
        if local - now.astimezone(self.timezone) < timedelta(days=6):
            return f"{local:%a} {clock}"
        return f"{local:%a} {local.day} {local:%b} {clock}"

    def closing_time(self, now: datetime, horizon: timedelta = timedelta(days=2)) -> datetime | None:
        """When the desk closes, following ranges that meet (24:00 then 00:00, 12:00 then 12:00)."""
        local = now.astimezone(self.timezone)
        spans = sorted(span for offset in range(-1, horizon.days + 1)
                       for span in self.ranges(local.date() + timedelta(days=offset)))
        closing = None
        for start, end in spans:
            if start <= (closing or local) and (closing is not None or local < end):
                closing = max(closing or end, end)
        return closing
