"""Work that must happen later, without anything polling for it: one-time EventBridge Scheduler
schedules (`at(...)`, deleted once fired) that invoke a function asynchronously with an input.
The sweeper is woken this way while conversations wait (refdesk.waiting) or are open
(refdesk.idle), and the dispatcher when a failed job's next attempt is due
(refdesk.jobs.retry_in). Nothing is billed while no schedule is waiting to fire.

A schedule is named after its purpose and its time in whole seconds (`name`), so one created
again for the same time, by a retry whose answer was lost or by someone else, is refused with
ConflictException, which means the wake-up is there already.

Each of the sweeper's purposes keeps one chain of wake-ups (`arm_sweeper`): one desk-wide item
records when its next sweep is due, written conditionally (store.nudges.arm_sweep), and only the
caller whose write succeeded creates the schedule."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from refdesk import clients, store
from refdesk.settings import get_settings

logger = Logger(child=True)

# Lambda accepts the asynchronous invocation or throttles it; a wake-up an hour late is stale.
RETRY_POLICY = {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10}
ISO = "%Y-%m-%dT%H:%M:%S.%fZ"  # store.table.now_iso's format: ISO times compare as strings
TRUST_MARGIN_SECONDS = 30  # an armed sweep due sooner than this (or past) is armed again (times SWEEP_DELAY_SCALE)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(ISO)


def whole_second(moment: datetime) -> datetime:
    """Rounded up: `at()` takes whole seconds, and a wake-up must not come before its time."""
    return moment + timedelta(microseconds=1_000_000 - moment.microsecond) if moment.microsecond else moment


def name(purpose: str, wake: datetime) -> str:
    return f"{purpose}-{wake.astimezone(timezone.utc):%Y%m%d%H%M%S}"


def configured(function_arn: str) -> bool:
    settings = get_settings()
    return bool(settings.wake_up_schedule_group and settings.wake_up_scheduler_role_arn and function_arn)


def schedule(purpose: str, wake: datetime, function_arn: str, event: dict) -> str:
    """One CreateSchedule invoking `function_arn` with `event` at `wake` (whole seconds, UTC);
    returns the schedule's name. Raises what the scheduler raised but ConflictException."""
    settings = get_settings()
    wake = whole_second(wake)
    schedule_name = name(purpose, wake)
    try:
        clients.get("scheduler").create_schedule(
            Name=schedule_name, GroupName=settings.wake_up_schedule_group,
            ScheduleExpression=f"at({wake.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%S})",
            ScheduleExpressionTimezone="UTC", FlexibleTimeWindow={"Mode": "OFF"}, ActionAfterCompletion="DELETE",
            Target={"Arn": function_arn, "RoleArn": settings.wake_up_scheduler_role_arn,
                    "Input": json.dumps(event), "RetryPolicy": RETRY_POLICY},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConflictException":
            raise
    return schedule_name


def arm_sweeper(purpose: str, wake: datetime, armed_by: str, *, now: datetime,
                event: dict | None = None) -> datetime | None:
    """Make sure the sweeper runs for `purpose` by `wake` (rounded up to whole seconds): returns
    when it will, or None when a sweep is armed for then or sooner already (or the wake-ups are
    not configured: warned). One conditional write of the purpose's item (an armed sweep due
    within TRUST_MARGIN_SECONDS of `now`, or past, is not trusted: it may be running, or its
    schedule was never created), then, only when it succeeded, one CreateSchedule invoking the
    sweeper with {"wake_up": the schedule's name, "due_at", **event}. A CreateSchedule retried
    after its answer was lost (the same `armed_by` arms again) is refused as a conflict: armed.
    One that fails withdraws the record (store.nudges.disarm_sweep) before it raises, so that the
    next arming is not refused for a wake-up that may not exist (at worst there are two)."""
    settings = get_settings()
    if not configured(settings.sweeper_function_arn):
        logger.warning("sweep not armed: no schedule group, sweeper or role "
                       "(WAKE_UP_SCHEDULE_GROUP, SWEEPER_FUNCTION_ARN, WAKE_UP_SCHEDULER_ROLE_ARN)",
                       extra={"purpose": purpose})
        return None
    wake = whole_second(wake)
    trusted_after = now + timedelta(seconds=TRUST_MARGIN_SECONDS * settings.sweep_delay_scale)
    if not store.nudges.arm_sweep(iso(wake), armed_by, iso(trusted_after),
                                  int(wake.timestamp()) + store.nudges.ARMED_KEPT_SECONDS, purpose=purpose):
        return None
    try:
        scheduled = schedule(purpose, wake, settings.sweeper_function_arn,
                             {"wake_up": name(purpose, wake), "due_at": iso(wake), **(event or {})})
    except Exception:
        store.nudges.disarm_sweep(iso(wake), armed_by, purpose=purpose)
        raise
    logger.info("sweep armed", extra={"purpose": purpose, "due_at": iso(wake), "schedule": scheduled})
    return wake
