"""The figures checked against a scripted day (issue "exact assessment"): conversations with known
waits, run through the local stack over HTTP, then `/refdesk stats <from> <to>`, whose answer in
the staff channel must hold exactly what the script implies.

The waits are known because both ends are scripted (the control API's `ts` and `action_ts`):
Slack Connect patrons' messages carry the time Slack gives them, and RefDesk times a wait from
that, to the librarian's reply or quick reply at the time Slack gives it. The other channels'
conversations are the ones no wait is asked of: an SMS closed unanswered (then rated with a
digit), a web chat the patron erased before anyone answered (abandoned). Ratings come from Slack
Connect's buttons (one with a comment, through its modal) and the SMS digit.

The script (`scripted_day`, also run by `make bench`) starts 8 minutes ago, inside the 10
minutes a Slack Connect send time is trusted for."""
from __future__ import annotations

import pytest

from local.scripted_day import expected_lines, run_script, scripted_day, stats_answer


@pytest.fixture(scope="module")
def desk(start_devstack):
    return start_devstack(SMS_ACK_TEXT="")


def test_the_stats_of_a_scripted_day_are_exactly_what_the_script_implies(desk):
    script = scripted_day()
    period = run_script(desk.url(""), script)
    answer = stats_answer(desk.url(""), period)
    for line in expected_lines(script):
        assert line in answer, (line, answer)
