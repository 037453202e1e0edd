"""Runs a function on its template.yaml `Schedule` event the way EventBridge does: every period,
with a "Scheduled Event" as the event. Locally the period can be shortened with
LOCAL_SCHEDULE_SECONDS; a cron() schedule is not run. The template has no rate() schedule now,
so only `scheduled_event` is in use: tests build the monthly report's event with it.

ScheduleRunner does what EventBridge Scheduler does with the one-time schedules the code creates
(the sweep's wake-ups, refdesk.waiting.arm): every fraction of a second it lists a schedule
group's schedules in moto, and each whose at(...) time has come is deleted (ActionAfterCompletion
DELETE) and its target function invoked with its Input, asynchronously as the scheduler invokes
Lambda: a failure is retried (twice, as the function's EventInvokeConfig says; here after
`retry_seconds`). Tests call fire_due() instead of start(), with their own clock."""
from __future__ import annotations

import json
import re
import threading
import time
import traceback
import uuid
from datetime import datetime, timedelta, timezone

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


AT_EXPRESSION = re.compile(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)")


class ScheduleRunner:
    """Fires a schedule group's due one-time schedules: `targets` maps a target ARN to the
    function (template logical id) the invoker knows it by."""

    def __init__(self, scheduler, group: str, invoker, targets: dict[str, str], *, interval: float = 0.2,
                 retries: int = 2, retry_seconds: float = 1.0, quiet: bool = False):
        self._scheduler = scheduler
        self.group = group
        self._invoker = invoker
        self._targets = targets
        self._interval = interval
        self._retries = retries
        self.retry_seconds = retry_seconds
        self._quiet = quiet
        self._retrying: list[tuple[datetime, int, str, str, dict]] = []  # (when, attempt, function, name, event)
        self.fired: list[str] = []  # the schedules fired, in order
        self.errors: list[BaseException] = []  # the invocations that raised (each retried, within `retries`)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"scheduler-{group}")

    def start(self) -> None:
        say("scheduler", f"{self.group}: one-time schedules fired when due (checked every {self._interval:g} s)")
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.fire_due()
            except Exception:  # moto stopping, or a bug: told, and the next round tries again
                traceback.print_exc()

    def pending(self) -> list[tuple[datetime, str]]:
        """(when, name) of each one-time schedule in the group, soonest first."""
        found = []
        for summary in self._scheduler.list_schedules(GroupName=self.group)["Schedules"]:
            schedule = self._scheduler.get_schedule(GroupName=self.group, Name=summary["Name"])
            matched = AT_EXPRESSION.fullmatch(schedule["ScheduleExpression"])
            if matched and schedule.get("ScheduleExpressionTimezone", "UTC") == "UTC":
                found.append((datetime.fromisoformat(matched[1]).replace(tzinfo=timezone.utc), summary["Name"]))
        return sorted(found)

    def fire_due(self, now: datetime | None = None) -> list:
        """Each schedule whose time has come (and each failed invocation whose retry has), to its
        target, one after another; returns what the invocations returned that did not raise."""
        now = now or datetime.now(timezone.utc)
        results = []
        with self._lock:
            work = []
            for when, name in self.pending():
                if when > now:
                    break
                schedule = self._scheduler.get_schedule(GroupName=self.group, Name=name)
                self._scheduler.delete_schedule(GroupName=self.group, Name=name)  # ActionAfterCompletion DELETE
                target = schedule["Target"]
                function = self._targets.get(target["Arn"])
                if function is None:
                    say("scheduler", f"{name}: no local function for {target['Arn']}")
                    continue
                work.append((0, function, name, json.loads(target.get("Input") or "{}")))
            due_retries = [entry for entry in self._retrying if entry[0] <= now]
            self._retrying = [entry for entry in self._retrying if entry[0] > now]
            work += [(attempt, function, name, event) for _, attempt, function, name, event in due_retries]
            for attempt, function, name, event in work:
                self.fired.append(name)
                try:
                    result = self._invoker.invoke(function, event)
                except HandlerUnavailable as missing:
                    say("scheduler", str(missing))
                    continue
                except Exception as error:
                    self.errors.append(error)
                    say("scheduler", f"{function}: {name} raised {type(error).__name__}"
                                     f"{', retried' if attempt < self._retries else ', given up'}")
                    if attempt < self._retries:
                        self._retrying.append((now + timedelta(seconds=self.retry_seconds), attempt + 1,
                                               function, name, event))
                    continue
                results.append(result)
                if not self._quiet:
                    summary = (", ".join(f"{key} {value}" for key, value in result.items())
                               if isinstance(result, dict) else "")
                    say("scheduler", f"{function}: {name} fired{': ' + summary if summary else ''}")
        return results
