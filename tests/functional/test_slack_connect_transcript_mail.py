"""Issue 19, item 3, the Slack Connect half: "E-mail me this conversation". After the close, the
rating's post in the partner's shared thread offers the button (a section's, beside the 1-5
buttons, and still on the thanks); it opens a patron's modal (views.open from the webhook) asking
for an address; a submission by the conversation's patron parks the address (never on the queue,
never logged) and the dispatcher e-mails what the patron saw once through SES (moto's), at most
twice a conversation, then tells the patron alone (ephemeral, in their thread) "Sent" or "Not
sent", never quoting the address. Anything to fix keeps the modal open (`response_action: errors`).

Through functions/slack_interactions, the dispatcher, moto and the Slack stand-in, as
tests/functional/test_slack_connect_rating_comment.py and tests/functional/test_transcript_mail.py."""
from __future__ import annotations

import json
import time

import pytest

from tests.conftest import fixture, log_to_captured_stdout, pump
from tests.functional.test_email_followups import FlakySes, ses_error, use_ses
from tests.functional.test_failure_path import short_retry_horizon  # noqa: F401 - the fixture
from tests.functional.test_relay import calls_named
from tests.functional.test_slack_connect_rating_comment import PATRON, PATRON_TEAM, buttons, interact, press
from tests.functional.test_slack_connect_relay import (PARTNER_CHANNEL, ROOT_TS, open_partner_conversation,
                                                        press_close, staff_reply)
from tests.functional.test_transcript_mail import LIBRARY, mail  # noqa: F401 - the fixture
from tests.functional.test_webchat import queued_bodies, table_items

ADDRESS = "jordan.lee@partner-mail.example.org"  # a domain the conversation never names
ANSWER = "Yes, the 1911 sheets are online at the state library."
QUESTION = fixture("slack_connect_message.json")["event"]["text"]


def closed(aws, slack) -> dict:
    """A partner's conversation Amanda answered (and noted) and closed: the rating's post in the
    shared thread, and the conversation."""
    conversation = open_partner_conversation(aws, slack)
    staff_reply(conversation["thread"], "note: they asked in the spring too", ts="1700000400.000100")
    staff_reply(conversation["thread"], ANSWER)
    pump(aws)
    press_close(conversation)
    pump(aws)
    [prompt] = [post for post in slack.posts() if post["channel"] == PARTNER_CHANNEL and "How did we do?" in post["text"]]
    return {**conversation, "prompt": prompt, "prompt_ts": prompt["answered_ts"]}


def offer(post: dict) -> dict:
    """The post's "E-mail me this conversation" button (a section's accessory)."""
    blocks = post.get("blocks") or []
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    [button] = [block["accessory"] for block in blocks if (block.get("accessory") or {}).get("action_id")
                == "email_transcript"]
    return button


def modal(slack, conversation: dict, **who) -> dict:
    press(conversation["prompt_ts"], offer(conversation["prompt"]), **who)
    return slack.stand_in.open_views()[-1]


def submit(view: dict, address: str | None, *, user: str = PATRON, team: str = PATRON_TEAM) -> dict:
    """The modal submitted as Slack sends it (the fixture of record's envelope) with `address` typed."""
    payload = fixture("slack_view_submission_rating_comment.json")
    payload["user"].update(id=user, team_id=team)
    payload["team"]["id"] = team
    values = {} if address is None else {"email": {"email": {"type": "plain_text_input", "value": address}}}
    payload["view"] = {**view, "state": {"values": values}}
    return interact(payload)


def errors_of(response: dict) -> dict:
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert body["response_action"] == "errors"
    return body["errors"]


def told(slack) -> list[dict]:
    return [call for call in calls_named(slack, "chat.postEphemeral") if call["channel"] == PARTNER_CHANNEL]


def parked_anywhere() -> bool:
    return "partner-mail" in json.dumps(table_items(), default=str)


def test_the_rating_post_offers_it_and_the_button_opens_a_modal_asking_for_an_address(aws, slack):
    conversation = closed(aws, slack)
    button = offer(conversation["prompt"])
    assert (button["text"]["text"], button["value"]) == ("E-mail me this conversation",
                                                         conversation["conversation_id"])
    assert [element["action_id"] for element in buttons(conversation["prompt"])] == [f"rate_{n}" for n in range(1, 6)]
    slack.forget_calls()

    view = modal(slack, conversation)

    assert slack.methods() == ["views.open"]  # opened by the webhook itself, the trigger still fresh
    assert view["callback_id"] == "email_transcript"
    [field] = [block for block in view["blocks"] if block["type"] == "input"]
    assert (field["block_id"], field["element"]["action_id"], field["element"]["type"]) == (
        "email", "email", "plain_text_input")
    assert json.loads(view["private_metadata"])["conversation_id"] == conversation["conversation_id"]


def test_the_patrons_address_gets_what_they_saw_once_and_they_alone_are_told_sent(aws, slack, mail):  # noqa: F811
    from refdesk.settings import CLOSING_TEXTS

    conversation = closed(aws, slack)
    view = modal(slack, conversation)
    slack.forget_calls()

    response = submit(view, f"  {ADDRESS} ")
    assert (response["statusCode"], response["body"]) == (200, "")  # an empty 200 closes the modal
    assert slack.methods() == []  # the webhook parks and queues; the dispatcher sends
    pump(aws)

    [sent] = mail()
    assert sent["to"] == [ADDRESS]
    assert sent["subject"] == f"Your conversation with {LIBRARY}"
    lines = sent["body"].split("\n-- \n")[0].strip().split("\n\n")[1:]
    said = [line.split(" ", 1)[1] for line in lines]
    assert said[1:] == [f"Amanda: {ANSWER}", f"{LIBRARY}: {CLOSING_TEXTS['slack_connect']}"]
    assert said[0].startswith("You: ") and "Sanborn maps" in said[0]
    assert "spring" not in sent["body"]  # never a staff note
    [line] = told(slack)
    assert (line["user"], line["thread_ts"]) == (PATRON, ROOT_TS)
    assert line["text"].startswith("Sent") and "partner-mail" not in line["text"] and "jordan" not in line["text"]
    assert not parked_anywhere()
    assert queued_bodies(aws) == []


def test_the_address_is_never_on_the_queue_or_in_the_logs(aws, slack, mail, monkeypatch, capfd):  # noqa: F811
    log_to_captured_stdout(monkeypatch)
    view = modal(slack, closed(aws, slack))
    capfd.readouterr()

    assert submit(view, ADDRESS)["body"] == ""
    [job] = [json.loads(body) for body in queued_bodies(aws) if json.loads(body)["kind"] == "transcript_mail"]
    assert "partner-mail" not in json.dumps(job) and job["user"] == PATRON and job["session_id"] == ""
    assert parked_anywhere()  # parked until sent
    pump(aws)

    assert len(mail()) == 1
    assert "partner-mail" not in capfd.readouterr().out
    assert not parked_anywhere()


@pytest.mark.parametrize("typed", [None, "", "jordan.lee", "jordan@", "@riverside.example.edu",
                                   "jordan lee@riverside.example.edu", "j@" + "x" * 250 + ".edu"])
def test_a_bad_address_keeps_the_modal_open_saying_why_without_quoting_it(aws, slack, mail, typed):  # noqa: F811
    view = modal(slack, closed(aws, slack))

    errors = errors_of(submit(view, typed))

    assert list(errors) == ["email"] and "e-mail address" in errors["email"]
    assert "jordan" not in errors["email"] and "partner-mail" not in errors["email"]
    assert queued_bodies(aws) == [] and not parked_anywhere()
    assert submit(view, ADDRESS)["body"] == ""  # fixed: sent
    pump(aws)
    assert [sent["to"] for sent in mail()] == [[ADDRESS]]


@pytest.mark.parametrize("who", [{"user": "U0PARTNER2"}, {"user": "U0AMANDA", "team": "T0LIBRARY"}])
def test_only_the_conversations_patron_can_have_it_emailed(aws, slack, mail, who):  # noqa: F811
    conversation = closed(aws, slack)
    view = modal(slack, conversation, **who)  # anyone in the shared channel may open it

    errors = errors_of(submit(view, ADDRESS, **who))
    pump(aws)

    assert errors["email"].startswith("Only the person who asked")
    assert mail() == [] and not parked_anywhere() and told(slack) == []
    assert submit(view, ADDRESS)["body"] == ""  # the patron still can, twice
    pump(aws)
    assert len(mail()) == 1


def test_a_third_request_is_refused_in_the_modal_and_only_two_are_sent(aws, slack, mail):  # noqa: F811
    conversation = closed(aws, slack)

    answers = [submit(modal(slack, conversation), address)["body"] for address in (ADDRESS, f"other.{ADDRESS}")]
    third = errors_of(submit(modal(slack, conversation), ADDRESS))
    pump(aws)

    assert answers == ["", ""]
    assert "e-mailed 2 times already" in third["email"]
    assert sorted(sent["to"][0] for sent in mail()) == [ADDRESS, f"other.{ADDRESS}"]
    assert [line["text"][:4] for line in told(slack)] == ["Sent", "Sent"]


def test_the_same_submission_delivered_twice_is_sent_once(aws, slack, mail):  # noqa: F811
    view = modal(slack, closed(aws, slack))

    assert submit(view, ADDRESS)["body"] == ""
    pump(aws)
    assert submit(view, ADDRESS)["body"] == ""  # the same view id: its request exists already
    pump(aws)

    assert len(mail()) == 1 and len(told(slack)) == 1


def test_the_thanks_keeps_the_offer_after_the_rating_and_after_the_comment(aws, slack):
    from tests.functional.test_slack_connect_rating_comment import comment_modal
    from tests.functional.test_slack_connect_rating_comment import submit as submit_comment

    conversation = closed(aws, slack)
    press(conversation["prompt_ts"], buttons(conversation["prompt"])[4])
    pump(aws)
    [thanks] = [call for call in calls_named(slack, "chat.update") if call["channel"] == PARTNER_CHANNEL]
    assert offer(thanks)["value"] == conversation["conversation_id"]

    assert submit_comment(comment_modal(slack, {"thanks": thanks, "thanks_ts": conversation["prompt_ts"]}),
                          "Very helpful")["statusCode"] == 200
    pump(aws)
    last = [call for call in calls_named(slack, "chat.update") if call["channel"] == PARTNER_CHANNEL][-1]
    assert buttons(last) == [] and offer(last)["value"] == conversation["conversation_id"]


def test_a_conversation_open_again_is_refused_until_it_ends(aws, slack, mail):  # noqa: F811
    conversation = closed(aws, slack)
    view = modal(slack, conversation)
    staff_reply(conversation["thread"], "One more thing: the 1925 sheets are there too.", ts="1700000600.000100")
    pump(aws)  # a librarian's reply reopens it

    errors = errors_of(submit(view, ADDRESS))

    assert "open again" in errors["email"]
    assert mail() == [] and not parked_anywhere()


# --- what may go wrong: SES or Slack failing once or for long, an answer lost, a delete ----------

def test_ses_failing_for_a_while_is_waited_out_and_it_is_sent_once(aws, slack, mail):  # noqa: F811
    view = modal(slack, closed(aws, slack))
    flaky = FlakySes([ses_error("ThrottlingException", 400), ses_error("ServiceUnavailable", 503),
                      ses_error("TooManyRequestsException", 429)])
    use_ses(flaky)

    assert submit(view, ADDRESS)["body"] == ""
    outcomes = pump(aws)

    assert outcomes.count("retry") == 3 and flaky.calls == 4  # the jobs queue's backoff (scaled to 0 here)
    assert len(mail()) == 1 and [line["text"][:4] for line in told(slack)] == ["Sent"]
    assert not parked_anywhere()


def test_an_answer_lost_after_ses_took_it_sends_it_again_as_every_email_reply(aws, slack, mail):  # noqa: F811
    """SES keeps no list to look in: e-mail is at least once (README, "Idempotent everywhere")."""
    from botocore.exceptions import ReadTimeoutError

    class LostAnswer(FlakySes):
        def send_email(self, **kwargs):
            self.calls += 1
            sent = self.client.send_email(**kwargs)
            if self.calls == 1:
                raise ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")
            return sent

    view = modal(slack, closed(aws, slack))
    use_ses(LostAnswer([]))

    assert submit(view, ADDRESS)["body"] == ""
    pump(aws)

    assert len(mail()) == 2 and [line["text"][:4] for line in told(slack)] == ["Sent"]
    assert not parked_anywhere()


def test_an_address_ses_refuses_for_good_is_forgotten_and_the_patron_told_not_sent(aws, slack, mail):  # noqa: F811
    view = modal(slack, closed(aws, slack))
    refusing = FlakySes([ses_error("MessageRejected", 400)])
    use_ses(refusing)

    assert submit(view, ADDRESS)["body"] == ""
    pump(aws)

    assert refusing.calls == 1 and mail() == []
    [line] = told(slack)
    assert line["text"].startswith("Not sent") and "partner-mail" not in line["text"]
    assert not parked_anywhere() and queued_bodies(aws) == []


def test_slack_failing_after_ses_took_it_tells_the_patron_later_without_a_second_email(aws, slack, mail):  # noqa: F811
    view = modal(slack, closed(aws, slack))
    slack.fail("chat.postEphemeral", status=500, count=2)

    assert submit(view, ADDRESS)["body"] == ""
    outcomes = pump(aws)

    assert outcomes.count("retry") == 2
    assert len(mail()) == 1  # the outcome waited in place of the address, which was forgotten
    assert len([call for call in told(slack)]) == 3 and not parked_anywhere()


def test_an_answer_lost_after_slack_told_the_patron_sends_no_second_email(aws, slack, mail):  # noqa: F811
    view = modal(slack, closed(aws, slack))
    slack.fail("chat.postEphemeral", status=500, commit=True)  # told, but the answer never came back

    assert submit(view, ADDRESS)["body"] == ""
    pump(aws)

    assert len(mail()) == 1
    shown = [message for message in slack.stand_in.messages() if message["ephemeral"] and message["visible_to"] == PATRON]
    assert len(shown) == 2  # ephemeral lines have nothing to look for: told at least once
    assert not parked_anywhere()


def test_a_patron_who_left_the_channel_is_not_told_and_nothing_is_retried(aws, slack, mail):  # noqa: F811
    view = modal(slack, closed(aws, slack))
    slack.fail("chat.postEphemeral", error="user_not_in_channel")

    assert submit(view, ADDRESS)["body"] == ""

    assert pump(aws).count("retry") == 0
    assert len(mail()) == 1 and not parked_anywhere() and queued_bodies(aws) == []


def test_an_address_never_sent_expires_with_its_request(aws, slack, mail, short_retry_horizon):  # noqa: F811
    """SES down past the jobs' retry horizon: the job is given up, and its address is kept no longer
    than the request's own lifetime (RETRY_HORIZON_HOURS and an hour); a redrive after that sends nothing."""
    from refdesk import clients, jobs, transcript_mail
    from refdesk.models import job_from_body

    view = modal(slack, closed(aws, slack))
    use_ses(FlakySes([ses_error("ServiceUnavailable", 503)] * 100))

    assert submit(view, ADDRESS)["body"] == ""
    [body] = [body for body in queued_bodies(aws) if json.loads(body)["kind"] == "transcript_mail"]
    pump(aws)

    [item] = [item for item in table_items() if item["sk"].startswith("TRANSCRIPT#")]
    assert int(item["expires_at"]) <= time.time() + transcript_mail.parked_seconds() <= time.time() + 1.2 * 3600
    clients.get("table").update_item(Key={"pk": item["pk"], "sk": item["sk"]}, UpdateExpression="SET expires_at = :past",
                                     ExpressionAttributeValues={":past": int(time.time()) - 1})
    use_ses(FlakySes([]))
    jobs.enqueue(job_from_body(body))  # as `make redrive` would
    pump(aws)

    assert mail() == [] and told(slack) == []


def test_after_the_patrons_delete_nothing_is_sent(aws, slack, mail):  # noqa: F811
    from tests.functional.test_slack_connect_relay import partner_says, slack_in

    view = modal(slack, closed(aws, slack))
    assert submit(view, ADDRESS)["body"] == ""
    slack_in(partner_says("delete", ts="1700000700.000100"))  # a new top-level message: their delete

    pump(aws)
    pump(aws)

    # The erasure and the send share no FIFO group: whichever runs first, the address is gone after.
    assert len(mail()) <= 1
    assert not parked_anywhere()
