"""Work that must happen later, without anything polling for it: one-time EventBridge Scheduler
schedules (`at(...)`, deleted once fired) that invoke a function asynchronously with an input.
The sweeper is woken this way while conversations wait (refdesk.waiting), and the dispatcher
when a failed job's next attempt is due (refdesk.jobs.retry_in). Nothing is billed while no
schedule is waiting to fire.

A schedule is named after its purpose and its time in whole seconds (`name`), so one created
again for the same time, by a retry whose answer was lost or by someone else, is refused with
ConflictException, which means the wake-up is there already."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from botocore.exceptions import ClientError

from refdesk import clients
from refdesk.settings import get_settings

# Lambda accepts the asynchronous invocation or throttles it; a wake-up an hour late is stale.
RETRY_POLICY = {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10}


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
