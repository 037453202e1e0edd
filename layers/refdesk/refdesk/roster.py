"""The duty roster: librarians go on and off duty from Slack (/refdesk on|off). An "on" lasts
until "off", closing time, or LONGEST_SHIFT at most (a forgotten "off")."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from refdesk import store
from refdesk.schedule import Schedule

LONGEST_SHIFT = timedelta(hours=10)


def go_on_duty(user_id: str, name: str, now: datetime | None = None) -> str:
    """Returns what to tell the librarian."""
    now = now or datetime.now(timezone.utc)
    schedule = Schedule.current()
    if not schedule.is_open(now):
        opening = schedule.next_opening(now)
        when = f" It opens {opening:%a %d %b %H:%M}." if opening else ""
        return f"The desk is closed now, so patrons still see it as offline.{when}"
    until = min(filter(None, [schedule.closing_time(now), now + LONGEST_SHIFT]))
    store.duty.set_on(user_id, name, int(until.timestamp()))
    return f"You're on duty until {until.astimezone(schedule.timezone):%H:%M}. Patrons see the desk as online."


def go_off_duty(user_id: str) -> str:
    was_on = store.duty.set_off(user_id)
    remaining = len(store.duty.on_duty())
    state = "online" if remaining else "offline"
    prefix = "You're off duty." if was_on else "You weren't on duty."
    return f"{prefix} {remaining} librarian(s) still on duty; patrons see the desk as {state}."


def librarians_on_duty() -> int:
    return len(store.duty.on_duty())
