"""The local stack's own machinery, independent of the domain code: gateway, stand-ins, AWS
resources, pump and overrides. Domain end-to-end tests build on the `stack` fixture."""
from __future__ import annotations

import base64
import http.client
import json
import re
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from local.environment import LOCAL_PARAMETER_VALUES, LOCAL_SECRETS
from local.gateway import Gateway
from local.handlers import HandlerUnavailable
from local.servers import Request
from local.signing import slack_signature_headers, twilio_signature_header
from local.template import Template
from local.twilio_standin import segment_count

ROOT = Path(__file__).resolve().parents[2]
STATIC_DIR = ROOT / "local" / "static"
TEMPLATE = Template(ROOT / "template.yaml", LOCAL_PARAMETER_VALUES)
STAFF_CHANNEL = LOCAL_PARAMETER_VALUES["SlackStaffChannel"]
LIBRARY_NUMBER = LOCAL_PARAMETER_VALUES["TwilioFromNumber"]
PATRON = "+15551234567"


@pytest.fixture
def fresh(stack):
    """The session's stack with nothing recorded and no faults, left that way."""
    stack.reset()
    yield stack
    stack.reset()


@pytest.fixture
def sqs(stack):
    return boto3.client("sqs", endpoint_url=stack.config["aws_endpoint_url"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


# Gateway over HTTP

def test_health_answers_once_ready(stack):
    response = stack.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("method, path", [
    ("GET", "/no/such/route"),
    ("GET", "/sms/inbound"),  # the route exists for POST only
    ("GET", "/presence/jid/ask/chat.example.edu"),
    ("POST", "/_local/api/nothing"),
])
def test_unmatched_requests_are_404(stack, method, path):
    response = stack.http.request(method, stack.url(path), timeout=10)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


@pytest.mark.parametrize("path, name", [("/", "index.html"), ("/_local/", "local.html")])
def test_pages_are_served_from_local_static(stack, path, name):
    page = STATIC_DIR / name
    response = stack.get(path)
    assert response.status_code == 200
    assert response.content == page.read_bytes()
    assert response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("raw_path", [
    "/_local/static/../../template.yaml",
    "/_local/static/%2e%2e/%2e%2e/template.yaml",
    "/_local/static/..%2F..%2Ftemplate.yaml",
])
def test_static_files_cannot_escape_their_folder(stack, raw_path):
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=10)
    connection.request("GET", raw_path)  # sent as is: no client normalises the dots away
    assert connection.getresponse().status == 404


def test_bodies_over_one_megabyte_are_refused(stack):
    response = stack.post("/sms/inbound", data=b"x" * (1024 * 1024 + 1),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


@pytest.mark.parametrize("host", ["evil.example:{port}", "refdesk.attacker.example", "127.0.0.1:1", ""])
@pytest.mark.parametrize("path", ["/_local/api/slack/messages", "/health", "/presence"])
def test_requests_for_another_host_name_are_refused(stack, host, path):
    """A page on a rebound DNS name reaches 127.0.0.1 but sends its own name as Host."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=10)
    connection.putrequest("GET", path, skip_host=True)
    if host:
        connection.putheader("Host", host.format(port=stack.port))
    connection.endheaders()
    assert connection.getresponse().status == 421


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LOCALHOST"])
def test_the_stacks_own_names_are_served(stack, name):
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=10)
    connection.request("GET", "/health", headers={"Host": f"{name}:{stack.port}"})
    assert connection.getresponse().status == 200


def test_control_api_takes_only_json(stack):
    response = stack.post("/_local/api/phone/send", data='{"from": "+15551234567"}',
                          headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


def test_template_intrinsics_resolve_to_local_values():
    resolve = TEMPLATE.resolver({"HttpApi": "local"}, {})
    outputs = TEMPLATE.data["Outputs"]
    webhook = resolve(outputs["TwilioWebhookUrl"]["Value"])  # !If on an !Equals condition, then !Sub
    assert webhook == "https://local.execute-api.us-east-1.amazonaws.com/sms/inbound"
    assert resolve({"Fn::Sub": ["${A}/${!Literal}", {"A": {"Ref": "SsmPrefix"}}]}) == "/refdesk/${Literal}"
    with pytest.raises(KeyError, match="!Ref Nowhere"):
        resolve({"Ref": "Nowhere"})


# Gateway events and responses, with a recording invoker in place of the handlers

def _gateway(invoke):
    return Gateway(TEMPLATE.functions(), SimpleNamespace(invoke=invoke), control=None, static_dir=STATIC_DIR,
                   port=3000)


def _request(method, path, query="", headers=(), body=b""):
    """What the gateway on port 3000 receives; every HTTP/1.1 client sends Host first."""
    return Request(method, path, query, (("Host", "127.0.0.1:3000"), *headers), body, "127.0.0.9", "HTTP/1.1")


def _recording(result):
    calls = []

    def invoke(name, event):
        calls.append((name, event))
        return result

    return calls, invoke


def test_gateway_sends_payload_2_0_events():
    calls, invoke = _recording({"statusCode": 204})
    response = _gateway(invoke)(_request(
        "POST", "/chat/sessions/abc%2Fd/messages", "a=1&a=2&b=",
        [("Content-Type", "application/json"), ("X-Thing", "1"), ("x-thing", "2"), ("Cookie", "s=1; t=2"),
         ("User-Agent", "pytest")],
        b'{"text": "hi"}'))
    assert response.status == 204
    [(function, event)] = calls
    assert function == "WebChatFunction"
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /chat/sessions/{id}/messages"
    assert event["rawPath"] == "/chat/sessions/abc%2Fd/messages"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["pathParameters"] == {"id": "abc/d"}
    assert event["headers"]["x-thing"] == "1,2"
    assert event["headers"]["content-type"] == "application/json"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["s=1", "t=2"]
    assert event["body"] == '{"text": "hi"}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {"method": "POST", "path": "/chat/sessions/abc%2Fd/messages", "protocol": "HTTP/1.1",
                               "sourceIp": "127.0.0.9", "userAgent": "pytest"}
    assert context["routeKey"] == event["routeKey"]
    assert context["stage"] == "$default"
    assert context["apiId"] == "local"
    assert context["domainName"] == "127.0.0.1:3000"
    assert {"accountId", "domainPrefix", "requestId", "time", "timeEpoch"} <= set(context)


def test_gateway_base64_encodes_form_bodies_as_api_gateway_does():
    calls, invoke = _recording({"statusCode": 200, "headers": {"Content-Type": "text/xml"}, "body": "<Response/>"})
    response = _gateway(invoke)(_request("POST", "/sms/inbound",
                                         headers=[("Content-Type", "application/x-www-form-urlencoded")],
                                         body=b"Body=hi%21&From=%2B15551234567"))
    event = calls[0][1]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"Body=hi%21&From=%2B15551234567"
    assert "pathParameters" not in event and "queryStringParameters" not in event
    assert (response.status, response.body) == (200, b"<Response/>")
    assert ("Content-Type", "text/xml") in response.headers


def test_path_variables_match_exactly_one_segment():
    calls, invoke = _recording({"statusCode": 200})
    gateway = _gateway(invoke)
    assert gateway(_request("GET", "/presence/jid/ask/chat.example.edu/js")).status == 200
    assert calls[-1][1]["pathParameters"] == {"queue": "ask", "host": "chat.example.edu", "format": "js"}
    for path in ("/presence/jid/ask/chat.example.edu/js/more", "/presence/jid/ask//js", "/presence/jid/ask/h/"):
        assert gateway(_request("GET", path)).status == 404, path


@pytest.mark.parametrize("result, status, body, header", [
    ({"statusCode": 201, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True,
      "cookies": ["a=1"]}, 201, b"\x00\x01", ("Set-Cookie", "a=1")),
    ({"items": [1]}, 200, b'{"items": [1]}', ("Content-Type", "application/json")),
    ("plain", 200, b"plain", ("Content-Type", "application/json")),
])
def test_gateway_answers_with_the_handler_result(result, status, body, header):
    _, invoke = _recording(result)
    response = _gateway(invoke)(_request("GET", "/presence"))
    assert (response.status, response.body) == (status, body)
    assert header in response.headers


@pytest.mark.parametrize("error", [RuntimeError("boom"), HandlerUnavailable("functions/x/app.py does not exist")])
def test_handler_failures_answer_500(error):
    def invoke(name, event):
        raise error

    response = _gateway(invoke)(_request("GET", "/presence"))
    assert response.status == 500
    assert json.loads(response.body) == {"message": "Internal Server Error"}


# Slack stand-in

def _slack(stack, token=LOCAL_SECRETS["SLACK_BOT_TOKEN"]):
    return WebClient(token=token, base_url=stack.config["slack_api_url"])


BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*A question*"}},
    {"type": "actions", "block_id": "conversation", "elements": [
        {"type": "button", "action_id": "close_conversation", "value": "c1",
         "text": {"type": "plain_text", "text": "Close"}}]},
]


def test_slack_stand_in_records_web_client_calls(fresh):
    client = _slack(fresh)
    assert client.auth_test()["user_id"] == "U0REFDESK"
    parent = client.chat_postMessage(channel=STAFF_CHANNEL, text="A question", blocks=BLOCKS)
    reply = client.chat_postMessage(channel=STAFF_CHANNEL, text="credited", thread_ts=parent["ts"],
                                    username="Amanda (library)", icon_url="https://example.edu/a.png")
    assert re.fullmatch(r"\d{10}\.\d{6}", reply["ts"]) and float(reply["ts"]) > float(parent["ts"])
    client.chat_update(channel=STAFF_CHANNEL, ts=parent["ts"], text="[closed] A question")
    client.reactions_add(channel=STAFF_CHANNEL, timestamp=reply["ts"], name="white_check_mark")
    # A form body, where blocks arrive as a JSON string.
    client.api_call("chat.postMessage", data={"channel": STAFF_CHANNEL, "text": "form", "blocks": json.dumps(BLOCKS)})
    assert client.users_info(user="U0PRIYA")["user"]["profile"]["real_name"] == "Priya Natarajan"

    first, second, third = fresh.get_json("/_local/api/slack/messages")["messages"]
    assert (first["text"], first["edited"], first["blocks"], first["user"]) == (
        "[closed] A question", True, BLOCKS, "U0REFDESK")
    assert (second["thread_ts"], second["username"], second["icon_url"], second["reactions"]) == (
        parent["ts"], "Amanda (library)", "https://example.edu/a.png", ["white_check_mark"])
    assert (third["text"], third["blocks"]) == ("form", BLOCKS)


@pytest.mark.parametrize("call, error", [
    (lambda client: client.users_info(user="U0NOBODY"), "user_not_found"),
    (lambda client: client.api_call("chat.fly"), "unknown_method"),
    (lambda client: client.chat_update(channel=STAFF_CHANNEL, ts="1.000001", text="x"), "message_not_found"),
])
def test_slack_stand_in_answers_errors_as_slack_does(fresh, call, error):
    with pytest.raises(SlackApiError) as refused:
        call(_slack(fresh))
    assert refused.value.response["error"] == error


def test_slack_stand_in_checks_the_bot_token(fresh):
    with pytest.raises(SlackApiError) as refused:
        _slack(fresh, token="xoxb-someone-else").auth_test()
    assert refused.value.response["error"] == "invalid_auth"


def test_slack_faults_answer_429_with_retry_after(fresh):
    fresh.post_json("/_local/api/faults", {"slack": {"status": 429, "count": 1}})
    client = _slack(fresh)
    with pytest.raises(SlackApiError) as limited:
        client.auth_test()
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "1"
    assert client.auth_test()["ok"]


def test_reply_records_the_librarian_message_and_posts_the_event(fresh):
    parent = _slack(fresh).chat_postMessage(channel=STAFF_CHANNEL, text="A question", blocks=BLOCKS)
    answer = fresh.post_json("/_local/api/slack/reply", {"thread_ts": parent["ts"], "text": "Yes, we have it."})
    assert isinstance(answer["status"], int)
    reply = fresh.get_json("/_local/api/slack/messages")["messages"][1]
    assert (reply["ts"], reply["thread_ts"], reply["user"], reply["text"]) == (
        answer["ts"], parent["ts"], "U0AMANDA", "Yes, we have it.")


def test_click_finds_the_button_in_the_recorded_message(fresh):
    parent = _slack(fresh).chat_postMessage(channel=STAFF_CHANNEL, text="A question", blocks=BLOCKS)
    clicked = fresh.post_json("/_local/api/slack/click", {"ts": parent["ts"], "action_id": "close_conversation"})
    assert isinstance(clicked["status"], int)
    missing = fresh.post("/_local/api/slack/click", json={"ts": parent["ts"], "action_id": "no_such_button"})
    assert missing.status_code == 404


def test_command_returns_the_handler_status_and_body(fresh):
    answer = fresh.post_json("/_local/api/slack/command", {"text": "status"})
    assert set(answer) == {"status", "body"}


# Twilio stand-in

class RedirectingHttpClient(TwilioHttpClient):
    def __init__(self, api_url: str):
        super().__init__(timeout=10)
        self.api_url = api_url

    def request(self, method, url, *args, **kwargs):
        return super().request(method, url.replace("https://api.twilio.com", self.api_url, 1), *args, **kwargs)


def _twilio(stack, token=LOCAL_SECRETS["TWILIO_AUTH_TOKEN"]):
    return Client(LOCAL_SECRETS["TWILIO_ACCOUNT_SID"], token,
                  http_client=RedirectingHttpClient(stack.config["twilio_api_url"]))


def test_twilio_stand_in_records_sent_texts(fresh):
    message = _twilio(fresh).messages.create(to=PATRON, from_=LIBRARY_NUMBER, body="Your hold is ready 📚")
    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert (message.status, message.num_segments, message.to) == ("queued", "1", PATRON)
    sent = fresh.get_json("/_local/api/phone/messages", number=PATRON)["messages"]
    assert [(text["to"], text["from"], text["body"]) for text in sent] == [
        (PATRON, LIBRARY_NUMBER, "Your hold is ready 📚")]
    # A "+" typed straight into the URL still means "+".
    assert len(fresh.get(f"/_local/api/phone/messages?number={PATRON}").json()["messages"]) == 1
    assert fresh.get_json("/_local/api/phone/messages", number="+15550000000")["messages"] == []


def test_twilio_stand_in_refuses_as_twilio_does(fresh):
    with pytest.raises(TwilioRestException) as unauthenticated:
        _twilio(fresh, token="wrong").messages.create(to=PATRON, from_=LIBRARY_NUMBER, body="hi")
    assert unauthenticated.value.status == 401

    opted_out = "+15557654321"
    fresh.post_json("/_local/api/faults", {"twilio": {"status": 500, "count": 1}, "twilio_opted_out": [opted_out]})
    client = _twilio(fresh)
    with pytest.raises(TwilioRestException) as outage:
        client.messages.create(to=PATRON, from_=LIBRARY_NUMBER, body="hi")
    assert outage.value.status == 500
    with pytest.raises(TwilioRestException) as unsubscribed:
        client.messages.create(to=opted_out, from_=LIBRARY_NUMBER, body="hi")
    assert (unsubscribed.value.status, unsubscribed.value.code) == (400, 21610)
    assert client.messages.create(to=PATRON, from_=LIBRARY_NUMBER, body="hi").status == "queued"

    fresh.reset()
    assert client.messages.create(to=opted_out, from_=LIBRARY_NUMBER, body="hi").status == "queued"


@pytest.mark.parametrize("body, segments", [
    ("a" * 160, 1), ("a" * 161, 2), ("€" * 80, 1), ("€" * 81, 2), ("📚" + "a" * 68, 1), ("📚" + "a" * 69, 2),
])
def test_segments_are_counted_as_twilio_does(body, segments):
    assert segment_count(body) == segments


def test_phone_send_posts_a_webhook_with_a_twilio_message_sid(fresh):
    answer = fresh.post_json("/_local/api/phone/send", {"from": PATRON, "body": "Is the library open?"})
    assert isinstance(answer["status"], int)
    assert re.fullmatch(r"SM[0-9a-f]{32}", answer["message_sid"])


def test_signatures_verify_with_the_vendors_own_validators():
    body, url, params = "payload=%7B%7D", "http://127.0.0.1:3000/sms/inbound", {"Body": "hi", "FromCity": ""}
    slack = slack_signature_headers("secret", body)
    assert SignatureVerifier("secret").is_valid(body, slack["X-Slack-Request-Timestamp"], slack["X-Slack-Signature"])
    signature = twilio_signature_header("token", url, params)["X-Twilio-Signature"]
    assert RequestValidator("token").validate(url, params, signature)


# AWS resources and the pump

def _message_count(sqs, url) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    return sum(map(int, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"].values()))


def test_table_and_queues_follow_the_template(stack, sqs):
    config = stack.config
    dynamodb = boto3.client("dynamodb", endpoint_url=config["aws_endpoint_url"], region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    expected = TEMPLATE.resources("AWS::DynamoDB::Table")["Table"]
    table = dynamodb.describe_table(TableName=config["table_name"])["Table"]
    assert config["table_name"] == "refdesk-local-Table"
    assert table["KeySchema"] == expected["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(expected["AttributeDefinitions"], key=str)
    assert table["BillingModeSummary"]["BillingMode"] == expected["BillingMode"]
    assert dynamodb.describe_time_to_live(TableName=config["table_name"])["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": expected["TimeToLiveSpecification"]["AttributeName"]}

    queues = TEMPLATE.resources("AWS::SQS::Queue")
    [dead_letter_url] = config["dead_letter_queue_urls"]
    assert config["jobs_queue_url"].endswith("/refdesk-local-JobsQueue.fifo")
    assert dead_letter_url.endswith("/refdesk-local-DeadLetterQueue.fifo")
    jobs = sqs.get_queue_attributes(QueueUrl=config["jobs_queue_url"], AttributeNames=["All"])["Attributes"]
    dead_letters = sqs.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["All"])["Attributes"]
    assert jobs["FifoQueue"] == dead_letters["FifoQueue"] == "true"
    assert jobs["ContentBasedDeduplication"] == str(queues["JobsQueue"]["ContentBasedDeduplication"]).lower()
    assert jobs["VisibilityTimeout"] == str(queues["JobsQueue"]["VisibilityTimeout"])
    assert dead_letters["MessageRetentionPeriod"] == str(queues["DeadLetterQueue"]["MessageRetentionPeriod"])
    assert json.loads(jobs["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead_letters["QueueArn"],
        "maxReceiveCount": queues["JobsQueue"]["RedrivePolicy"]["maxReceiveCount"]}
    assert stack.get_json("/_local/api/dlq") == {"count": _message_count(sqs, dead_letter_url)}


# Overrides

def test_overrides_replace_the_embedded_services(stack, start_devstack):
    config = stack.config
    second = start_devstack(AWS_ENDPOINT_URL=config["aws_endpoint_url"], SLACK_API_URL=config["slack_api_url"],
                            TWILIO_API_URL=config["twilio_api_url"])
    try:
        assert second.config["embedded"] == {"aws": False, "slack": False, "twilio": False}
        for key in ("aws_endpoint_url", "slack_api_url", "twilio_api_url", "table_name", "jobs_queue_url"):
            assert second.config[key] == config[key], key
        assert second.get("/_local/api/slack/messages").status_code == 409
        assert second.get("/_local/api/phone/messages").status_code == 409
    finally:
        assert second.stop() == 0
    assert "[devstack] stopped" in second.output()
