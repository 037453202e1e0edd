"""Drains the jobs queue, one job at a time (see refdesk.jobs for how the dispatcher is woken).
A failed job is tried again after the backoff refdesk.retry gives; one given up is moved to the
dead-letter queue and staff (and, for a patron's message, the patron) are told; a reaction tried
again apart (OutcomeReactionJob) is only dropped."""
from __future__ import annotations

import time
from typing import Callable

from aws_lambda_powertools import Logger

from refdesk import (assessment, assignment, blocking, delivery, departments, erasure, jobs, relay, retry, reveal,
                     staff, transcript_mail, waiting)
from refdesk.observability import count, seconds
from refdesk.models import (AssessJob, BlockPatronJob, ClaimJob, CloseJob, DeliveryOutcomeJob, ErasePatronJob,
                            HomeOpenedJob, InviteJob,
                            DigestJob, IdleCloseJob, Job, OutcomeReactionJob, PatronEditJob, PatronMessageJob,
                            QuickReplyJob, RatingJob, RemoveFromSlackJob, RemoveSentReplyJob, RevealJob, StaffEditJob,
                            StaffOnlyJob,
                            StaffReplyJob, TransferJob, TranscriptMailJob, RetiredJob, UnblockPatronJob,
                            HomeFilterJob, CannedReplyJob, job_from_body)
from refdesk.slack import home

logger = Logger(child=True)

HANDLERS: dict[type[Job], Callable] = {
    PatronMessageJob: relay.deliver_patron_message,
    StaffReplyJob: relay.relay_staff_reply,
    StaffEditJob: relay.handle_staff_edit,
    CloseJob: relay.close,
    IdleCloseJob: relay.close_idle,  # a conversation gone idle, closed quietly (refdesk.idle)
    PatronEditJob: relay.handle_patron_edit,
    InviteJob: departments.invite,  # departments invited into a conversation
    QuickReplyJob: relay.send_quick_reply,
    ClaimJob: assignment.claim,
    TransferJob: assignment.transfer,
    HomeOpenedJob: assignment.home_opened,
    DigestJob: waiting.show_digest,  # the desk's digest of who waits
    BlockPatronJob: blocking.block,
    UnblockPatronJob: blocking.unblock,
    AssessJob: assessment.assess,  # READ and topic on the closed card
    RatingJob: assessment.rate,
    ErasePatronJob: erasure.erase,  # a patron's "delete"
    RemoveFromSlackJob: erasure.remove_from_slack,  # then, apart, the erased conversation's staff thread
    RemoveSentReplyJob: erasure.remove_sent_reply,  # and the replies in a Slack Connect patron's thread
    RevealJob: reveal.reveal,  # Reveal on a redacted patron message
    StaffOnlyJob: staff.tell_refused,  # someone outside the library pressed a staff button
    OutcomeReactionJob: delivery.add_reaction,  # a ✅/❌/:lock: tried again apart from its delivery
    DeliveryOutcomeJob: delivery.show_reported,  # a reply's delivery as Twilio or SES reported it
    TranscriptMailJob: transcript_mail.send,  # a closed web chat e-mailed to the patron
    HomeFilterJob: home.choose_filter,  # a librarian's Home tab filter
    CannedReplyJob: home.canned_reply_changed,  # a canned reply added, edited or deleted on the Home tab
}


# A new job is taken only while this much of the invocation's time is left: the longest job (a
# picture's download, then Slack's and Twilio's calls) must finish well inside it.
RESERVE_MILLIS = 35_000
DONE, RETRY = "done", "retry"


def drain(remaining_millis: Callable[[], int]) -> list[str]:
    """Runs jobs until the queue has none visible; each attempt's outcome in order: DONE (ran,
    or given up and dead-lettered: deleted from the queue) or RETRY (hidden until its next
    attempt, which wakes the dispatcher then). Out of time with jobs left, it wakes a successor."""
    outcomes = []
    with jobs.draining():
        while remaining_millis() > RESERVE_MILLIS:
            received = jobs.receive()
            if received is None:
                return outcomes
            seconds("QueueAge", max(0.0, time.time() - received.sent_at))
            try:
                run(received)
            except jobs.WakeUpNotScheduled:
                raise
            except Exception:  # its next attempt is scheduled (run told why, without patron data)
                outcomes.append(RETRY)
            else:
                jobs.done(received)
                outcomes.append(DONE)
            # 1 for a failed attempt, 0 for one done: the metric's average is the share that failed.
            count("JobFailed", int(outcomes[-1] == RETRY))
    jobs.wake()
    return outcomes


def run(received: jobs.Received) -> None:
    """Runs the job. When it fails and will be tried again, its next attempt is scheduled and the
    error raised; when it is given up, it is moved to the
    dead-letter queue, staff are told, and it returns (the job is done)."""
    with jobs.attempting(received.attempt + received.earlier_attempts):  # counting those before a redrive
        _run(received)


def _run(received: jobs.Received) -> None:
    job = None
    try:
        try:
            job = job_from_body(received.body)
        except RetiredJob as retired:
            logger.info("retired job dropped", extra={"kind": str(retired)})
            return
        if staff.trusts(job):
            HANDLERS[type(job)](job)
        else:
            staff.refused(job)
    except Exception as error:
        seconds = retry.next_try(error, received.attempt)
        # Only the error's type: messages from Twilio and Slack can quote phone numbers or text.
        logger.warning("job failed", extra={"kind": job.kind if job else "unreadable", "attempt": received.attempt,
                                            "error": type(error).__name__, "retry_in": seconds})
        if seconds is not None:
            jobs.retry_in(received, seconds)
            raise
        if isinstance(job, OutcomeReactionJob):  # decoration: dropped, not dead-lettered (no alarm), nobody told
            delivery.reaction_given_up(job, error)
            return
        jobs.dead_letter(received)  # first: staff are told it is there
        if job is not None:
            _report(job, received.attempt)


def _report(job: Job, attempts: int) -> None:
    try:
        relay.report_undeliverable(job, attempts)
    except Exception as error:  # Slack itself may be what is failing; the DLQ still has the job.
        logger.error("could not report the failure to staff", extra={"error": type(error).__name__})
