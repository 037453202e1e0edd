"""The waiting queue and Transfer for a Slack Connect patron: told their place and the transfer
line in their own shared thread, like SMS and web chat patrons."""
from __future__ import annotations

from tests.conftest import STAFF_CHANNEL, pump
from tests.functional.test_claim_transfer import THIRD, TRANSFER_LINE, pick_transfer, sms_card
from tests.functional.test_slack_connect_relay import PARTNER_CHANNEL, ROOT_TS, partner_says, posts_in, slack_in


def test_a_slack_connect_patron_third_in_line_is_told_3_in_their_thread_and_the_transfer_line(aws, slack, twilio):
    sms_card(aws, slack, "+15551230001")
    sms_card(aws, slack, "+15551230002")
    slack_in(partner_says("Are the Sanborn maps online?"))
    pump(aws)

    told = [post["text"] for post in posts_in(slack, PARTNER_CHANNEL, ROOT_TS)]
    assert THIRD in told

    [card] = [post for post in slack.roots() if post["channel"] == STAFF_CHANNEL][-1:]
    pick_transfer(card, "U0BEN")
    pump(aws)

    told = [post["text"] for post in posts_in(slack, PARTNER_CHANNEL, ROOT_TS)]
    assert TRANSFER_LINE in told
