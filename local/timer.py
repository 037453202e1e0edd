"""Runs a function on its template.yaml `Schedule` event the way EventBridge does: every period,
with a "Scheduled Event" as the event. Locally the period can be shortened with
LOCAL_SCHEDULE_SECONDS (tests use a fraction of a second); a cron() schedule is not run."""
from __future__ import annotations

import threading
import time
import traceback
import uuid
from datetime import datetime, timezone

from local.console import say
from local.handlers import HandlerUnavailable
from local.template import ACCOUNT_ID, REGION, STACK_NAME, ScheduleTrigger


def scheduled_event(function: str, trigger: ScheduleTrigger, now: datetime | None = None) -> dict:
    """The event EventBridge delivers for a schedule rule (events/eventbridge_schedule.json)."""
    now = now or datetime.now(timezone.utc)
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT_ID, "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{STACK_NAME}-{function}{trigger.name}"],
        "detail": {},
    }


class Timer:
    """A thread that invokes `function` every `seconds` (the rule's rate unless overridden),
    the first time one period after start, as a new rule does."""

    def __init__(self, function: str, trigger: ScheduleTrigger, invoker, seconds: float | None = None):
        self._function = function
        self._trigger = trigger
        self._invoker = invoker
        self.seconds = float(seconds or trigger.seconds or 60)
        self.runs = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"timer-{function}")

    def start(self) -> None:
        say("timer", f"{self._function}: {self._trigger.expression}, run every {self.seconds:g} s here")
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        next_run = time.monotonic() + self.seconds
        while not self._stopping.wait(max(0.0, next_run - time.monotonic())):
            next_run += self.seconds
            self.run_once()
            next_run = max(next_run, time.monotonic())  # a slow run does not pile up runs behind it

    def run_once(self):
        """One invocation, as EventBridge makes it (asynchronous: a failure is only reported)."""
        try:
            result = self._invoker.invoke(self._function, scheduled_event(self._function, self._trigger))
        except HandlerUnavailable as missing:
            say("timer", str(missing))
            return None
        except Exception as error:
            say("timer", f"{self._function} raised {type(error).__name__}")
            if self.runs == 0:
                traceback.print_exc()
            return None
        finally:
            self.runs += 1
        # The first run, and any that did something, are told; quiet minutes are not.
        if self.runs == 1 or (isinstance(result, dict) and result.get("nudged")):
            summary = ", ".join(f"{key} {value}" for key, value in result.items()) if isinstance(result, dict) else ""
            say("timer", f"{self._function} ran{': ' + summary if summary else ''}")
        return result
