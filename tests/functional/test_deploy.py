"""`make deploy` (scripts/deploy.py), without AWS, Slack or Twilio: each step on its own (the
parameter checks that run before sam deploy, the account checks' plain words about Lambda's
concurrency quota and API Gateway's CloudWatch role, the secrets stored when missing and
patron-id-key never replaced, the order of the Slack steps, the Slack app manifest with the
deployed URLs, the sam commands), then the whole non-interactive path end to end against moto
(the session's moto server, the kind `make dev` runs), as far as moto's CloudFormation allows.
AWS answers come from botocore's Stubber (no network) or from that moto server; sam and make are
never run.

moto's CloudFormation cannot create template.yaml itself (no AWS::ApiGatewayV2::Api, and a FIFO
queue without a name fails), so the end-to-end test's stand-in for `sam deploy` creates a stack
with template.yaml's own Parameters (moto checks the required ones are given) and its Outputs,
resolved as CloudFormation would with made-up resource ids, and writes samconfig.toml as
`sam deploy --save-params` does. moto's Lambda has no GetAccountSettings: the concurrency check
says it could not read the quota (which matters only when the stack reserves some)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import boto3
import pytest
import yaml
from botocore.exceptions import NoCredentialsError
from botocore.stub import Stubber

from local.template import Resolver
from scripts import deploy
from tests.conftest import ROOT

VALID = {"SlackStaffChannel": "C0STAFF01", "SlackTeamId": "T0LIBRARY", "TwilioFromNumber": "+15551234567",
         "SesSenderIdentity": "askus@library.example.org"}
API_URL = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"


@pytest.fixture(scope="module")
def template() -> dict:
    return deploy.load_template()


def test_template_yaml_is_read_safely(template, tmp_path):
    """Only CloudFormation's short tags are added to a SafeLoader: a Python object tag is refused."""
    assert template["Globals"]["Function"]["Runtime"] == "python3.12"
    assert template["Globals"]["Function"]["Environment"]["Variables"]["TABLE_NAME"] == {"Ref": "Table"}
    hostile = tmp_path / "template.yaml"
    hostile.write_text("Resources: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(yaml.constructor.ConstructorError):
        deploy.load_template(hostile)


class FakePrompt(deploy.Prompter):
    """Scripted answers; Enter (the default) once they run out. A secret asked without a
    scripted answer fails the test. `log` keeps what was asked, in order."""

    interactive = True

    def __init__(self, answers=(), secrets=(), confirms=()):
        self.answers, self.secrets, self.confirms = list(answers), list(secrets), list(confirms)
        self.log: list[tuple[str, str]] = []

    def ask(self, question, default=""):
        self.log.append(("ask", question))
        return self.answers.pop(0) if self.answers else default

    def secret(self, question):
        self.log.append(("secret", question))
        assert self.secrets, f"asked a secret it should not have: {question}"
        return self.secrets.pop(0)

    def confirm(self, question, default=True):
        self.log.append(("confirm", question))
        return self.confirms.pop(0) if self.confirms else default

    def pause(self, text):
        self.log.append(("pause", text))


def stubbed(service: str):
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.activate()
    return client, stubber


# --- parameters, checked before sam deploy runs --------------------------------------------------

def test_the_required_parameters_are_checked_before_deploying(template):
    assert deploy.check_parameters(template, VALID) == []
    missing = deploy.check_parameters(template, {})
    assert [problem.split()[0] for problem in missing] == list(VALID)
    assert all("is required" in problem for problem in missing)


@pytest.mark.parametrize("name, value, words", [
    ("SlackStaffChannel", "#ask-a-librarian", "channel id such as C0123ABCD"),
    ("SlackStaffChannel", "c0staff01", "channel id"),
    ("SlackTeamId", "library.slack.com", "workspace id such as T0123ABCD"),
    ("SlackTeamId", "T0LIBRARY, T0OTHER", "comma-separated, no spaces"),
    ("TwilioFromNumber", "(555) 123-4567", "E.164"),
    ("TwilioFromNumber", "15551234567", "E.164"),
    ("SesSenderIdentity", "*@library.example.org", "without * or ?"),
    ("SesSenderIdentity", "askus", "e-mail address"),
    ("AllowedOrigins", "https://library.example.org/", "without a path or a trailing /"),
    ("AlarmEmail", "nobody", "AlarmEmail must match"),
    ("FunctionConcurrency", "0", "at least 1"),
    ("Architecture", "arm", "must be one of arm64, x86_64"),
    ("SlackChannel", "C0STAFF01", "not a parameter of template.yaml"),
])
def test_a_wrong_answer_is_refused_in_plain_words(template, name, value, words):
    [problem] = deploy.check_parameters(template, {**VALID, name: value})
    assert problem.startswith(name) and words in problem


@pytest.mark.parametrize("name, value", [
    ("SlackStaffChannel", "G01PRIVATE"), ("SlackTeamId", "T0LIB,E0GRID"), ("TwilioFromNumber", "+447700900123"),
    ("SesSenderIdentity", "library.example.org"),
    ("AllowedOrigins", "https://library.example.org,https://www.library.example.org"),
])
def test_good_answers_pass(template, name, value):
    assert deploy.check_parameters(template, {**VALID, name: value}) == []


def test_each_parameter_is_asked_again_until_it_will_do(template, capsys):
    prompt = FakePrompt(answers=["#desk", "C0STAFF01", "T0LIBRARY", "555-1234", "+15551234567",
                                 "askus@library.example.org", "", ""])
    answers = deploy.ask_parameters(template, {}, prompt)
    assert {name: answers[name] for name in VALID} == VALID
    asked = [question.rsplit("\n", 1)[-1].strip() for kind, question in prompt.log if kind == "ask"]
    assert asked == ["SlackStaffChannel", "SlackStaffChannel", "SlackTeamId", "TwilioFromNumber", "TwilioFromNumber",
                     "SesSenderIdentity", "AllowedOrigins", "AlarmEmail"]
    out = capsys.readouterr().out
    assert "not #name" in out and "E.164" in out


# --- the account: Lambda concurrency ------------------------------------------------------------

def lambda_with(quota: int, unreserved: int):
    client, stubber = stubbed("lambda")
    stubber.add_response("get_account_settings", {"AccountLimit": {"ConcurrentExecutions": quota,
                                                                   "UnreservedConcurrentExecutions": unreserved}})
    return client


def test_the_templates_defaults_fit_a_new_account_with_a_quota_of_10(template):
    assert deploy.reserved_concurrency(template, VALID) == {}
    check = deploy.check_concurrency(lambda_with(10, 10), template, VALID)
    assert check.ok and check.title == "Lambda concurrency: quota 10, nothing reserved"
    assert "fits" in check.detail and "ask for more" in check.detail


def test_reservations_do_not_fit_a_quota_of_10_and_it_says_what_to_do(template):
    parameters = {**VALID, "ReserveConcurrency": "true"}
    reserved = deploy.reserved_concurrency(template, parameters)
    functions = [name for name, resource in template["Resources"].items()
                 if resource["Type"] in deploy.FUNCTION_TYPES]
    assert sorted(reserved) == sorted(functions)
    total = sum(reserved.values())
    check = deploy.check_concurrency(lambda_with(10, 10), template, parameters)
    assert not check.ok
    assert f"reserves {total}" in check.title
    assert "quota is 10" in check.detail and "no function can reserve any" in check.detail
    assert "ReserveConcurrency=false" in check.detail
    assert f"at least {total + 100}" in check.detail
    assert "below its minimum value" in check.detail


def test_reservations_fit_a_large_quota_and_count_what_the_stack_already_reserves(template):
    parameters = {**VALID, "ReserveConcurrency": "true", "FunctionConcurrency": "20"}
    total = sum(deploy.reserved_concurrency(template, parameters).values())
    assert deploy.check_concurrency(lambda_with(1000, 1000), template, parameters).status == "ok"
    # Other functions in the account reserve 850: what is left is too little …
    assert not deploy.check_concurrency(lambda_with(1000, 150), template, parameters).ok
    # … unless it is this stack's own reservation, given back by the update.
    assert deploy.check_concurrency(lambda_with(1000, 150), template, parameters, reserved_now=total).ok


def test_an_unreadable_quota_is_a_note_not_a_stop(template):
    client, stubber = stubbed("lambda")
    stubber.add_client_error("get_account_settings", "AccessDeniedException", http_status_code=403)
    stubber.add_client_error("get_account_settings", "AccessDeniedException", http_status_code=403)
    nothing_reserved = deploy.check_concurrency(client, template, VALID)
    assert nothing_reserved.status == "ok" and "AccessDeniedException" in nothing_reserved.detail
    check = deploy.check_concurrency(client, template, {**VALID, "ReserveConcurrency": "true"})
    assert check.status == "warn" and "Service Quotas" in check.detail


def test_reservations_follow_globals_conditions_and_novalue():
    template = {
        "Parameters": {"Reserve": {"Type": "String", "Default": "false", "AllowedValues": ["true", "false"]},
                       "Size": {"Type": "Number", "Default": 4}},
        "Conditions": {"Reserves": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Reserve"}, "false"]}]}},
        "Globals": {"Function": {"ReservedConcurrentExecutions": {"Fn::If": ["Reserves", {"Ref": "Size"},
                                                                              {"Ref": "AWS::NoValue"}]}}},
        "Resources": {
            "A": {"Type": "AWS::Serverless::Function", "Properties": {}},
            "B": {"Type": "AWS::Serverless::Function", "Properties": {"ReservedConcurrentExecutions": 1}},
            "C": {"Type": "AWS::Lambda::Function", "Properties": {}},  # Globals do not apply
            "D": {"Type": "AWS::Serverless::Function", "Condition": "Reserves", "Properties": {}},
        },
    }
    assert deploy.reserved_concurrency(template, {}) == {"B": 1}
    assert deploy.reserved_concurrency(template, {"Reserve": "true", "Size": "7"}) == {"A": 7, "B": 1, "D": 7}
    assert deploy.concurrency_parameters(template) == ["Reserve", "Size"]


# --- the account: API Gateway's CloudWatch role ---------------------------------------------------

def apigateway_with(role: str | None):
    client, stubber = stubbed("apigateway")
    stubber.add_response("get_account", {"cloudwatchRoleArn": role} if role else {})
    return client


ROLE = "arn:aws:iam::123456789012:role/apigateway-cloudwatch"


def test_without_the_role_websocket_logging_stays_off(template):
    check = deploy.check_apigateway_logging(apigateway_with(None), template, VALID)
    assert check.ok and "ApiGatewayAccountLogging stays false" in check.title
    assert "AmazonAPIGatewayPushToCloudWatchLogs" in check.detail and "update-account" in check.detail


def test_without_the_role_websocket_logging_on_would_fail_the_deploy(template):
    check = deploy.check_apigateway_logging(apigateway_with(None), template,
                                            {**VALID, "ApiGatewayAccountLogging": "true"})
    assert not check.ok
    assert "Set ApiGatewayAccountLogging=false" in check.detail
    assert "CloudWatch Logs role ARN must be set" in check.detail


def test_with_the_role_logging_may_be_turned_on(template):
    off = deploy.check_apigateway_logging(apigateway_with(ROLE), template, VALID)
    assert off.status == "ok" and ROLE in off.title and "ApiGatewayAccountLogging=true would keep" in off.detail
    on = deploy.check_apigateway_logging(apigateway_with(ROLE), template, {**VALID, "ApiGatewayAccountLogging": "true"})
    assert on.status == "ok" and on.detail == ""


def test_a_template_that_always_logs_needs_the_role(template):
    older = {**template, "Parameters": {name: spec for name, spec in template["Parameters"].items()
                                        if name != "ApiGatewayAccountLogging"}}
    check = deploy.check_apigateway_logging(apigateway_with(None), older, VALID)
    assert not check.ok and "always writes the WebSocket API's access log" in check.detail


# --- prerequisites ----------------------------------------------------------------------------

def test_credentials():
    sts, stubber = stubbed("sts")
    stubber.add_response("get_caller_identity", {"Account": "123456789012", "UserId": "AIDA",
                                                 "Arn": "arn:aws:iam::123456789012:user/librarian"})
    check = deploy.check_credentials(sts, "us-east-1")
    assert check.ok and check.title == "AWS credentials: account 123456789012, region us-east-1"

    class NoCredentials:
        def get_caller_identity(self):
            raise NoCredentialsError()

    missing = deploy.check_credentials(NoCredentials(), "us-east-1")
    assert not missing.ok and "aws sso login" in missing.detail
    refused, stubber = stubbed("sts")
    stubber.add_client_error("get_caller_identity", "ExpiredToken", http_status_code=403)
    assert "refused (ExpiredToken)" in deploy.check_credentials(refused, "us-east-1").title
    assert "AWS_REGION" in deploy.check_credentials(sts, None).detail


def test_python312_is_the_venvs_or_sam_build_is_told_how():
    class Ran:
        def __init__(self, version):
            self.returncode, self.stdout = 0, version

    venv_python = str(ROOT / ".venv" / "bin" / "python3.12")
    good = deploy.check_python312(lambda name: venv_python, lambda *a, **k: Ran("3.12\n"))
    assert good.ok and good.title.endswith("(the venv)")
    wrong = deploy.check_python312(lambda name: "/usr/bin/python3.12", lambda *a, **k: Ran("3.11\n"))
    absent = deploy.check_python312(lambda name: None)
    for check in (wrong, absent):
        assert not check.ok and "make deploy" in check.detail and "make venv" in check.detail


# --- secrets ------------------------------------------------------------------------------------

@pytest.fixture
def ssm(local_aws):
    return local_aws.client("ssm")


@pytest.fixture
def prefix() -> str:
    return f"/deploy-test-{uuid.uuid4().hex[:8]}"


def stored(ssm, prefix: str) -> dict[str, str]:
    answer = ssm.get_parameters_by_path(Path=prefix, WithDecryption=True)["Parameters"]
    assert {parameter["Type"] for parameter in answer} <= {"SecureString"}
    return {parameter["Name"].rsplit("/", 1)[1]: parameter["Value"] for parameter in answer}


def test_the_random_keys_are_made_once_and_patron_id_key_never_replaced(ssm, prefix):
    ssm.put_parameter(Name=f"{prefix}/patron-id-key", Value="the-librarys-key", Type="SecureString")
    assert deploy.ensure_generated_secrets(ssm, prefix) == {"patron_id_key": "kept", "report_link_key": "created"}
    first = stored(ssm, prefix)
    assert first["patron-id-key"].endswith("the-librarys-key")  # moto shows SecureStrings with a kms: prefix
    assert re.fullmatch(r"(kms:[^:]+:)?[0-9a-f]{64}", first["report-link-key"])
    assert deploy.ensure_generated_secrets(ssm, prefix) == {"patron_id_key": "kept", "report_link_key": "kept"}
    assert stored(ssm, prefix) == first
    # Not even --replace-secrets asks for it again.
    assert deploy.store_secrets(ssm, prefix, ["patron_id_key"], FakePrompt(), replace=True) == {"patron_id_key": "kept"}
    assert stored(ssm, prefix) == first


def test_missing_secrets_are_asked_and_stored_present_ones_kept(ssm, prefix, capsys):
    sid = "AC" + "1" * 32
    prompt = FakePrompt(secrets=["ACnot-a-sid", sid, "twilio-token"], confirms=[True])
    results = deploy.store_secrets(ssm, prefix, deploy.TWILIO_SECRETS, prompt)
    assert results == {"twilio_account_sid": "stored", "twilio_auth_token": "stored"}
    assert "AC followed by 32 hex digits" in capsys.readouterr().out
    values = stored(ssm, prefix)
    assert values["twilio-account-sid"].endswith(sid) and values["twilio-auth-token"].endswith("twilio-token")
    # Again: nothing asked (FakePrompt has no secrets left and would fail), nothing changed.
    assert deploy.store_secrets(ssm, prefix, deploy.TWILIO_SECRETS, FakePrompt()) == {
        "twilio_account_sid": "kept", "twilio_auth_token": "kept"}
    # --replace-secrets asks; Enter keeps the stored one.
    replaced = deploy.store_secrets(ssm, prefix, deploy.TWILIO_SECRETS, FakePrompt(secrets=["", "new-token"]),
                                    replace=True)
    assert replaced == {"twilio_account_sid": "kept", "twilio_auth_token": "replaced"}
    assert stored(ssm, prefix)["twilio-auth-token"].endswith("new-token")


def test_without_questions_secrets_come_from_deploy_variables(ssm, prefix):
    environ = {"DEPLOY_SLACK_SIGNING_SECRET": "signing-secret"}
    results = deploy.store_secrets(ssm, prefix, deploy.SLACK_SECRETS, deploy.NoQuestions(environ), environ=environ)
    assert results == {"slack_signing_secret": "stored", "slack_bot_token": "missing"}
    assert list(stored(ssm, prefix)) == ["slack-signing-secret"]


def test_the_secret_names_are_the_functions_own(ssm, prefix):
    """Every secret refdesk.settings reads is stored by some step of make deploy."""
    from refdesk.settings import SECRETS

    steps = set(deploy.GENERATED_SECRETS) | set(deploy.TWILIO_SECRETS) | set(deploy.SLACK_SECRETS)
    assert steps == set(SECRETS)
    assert deploy.parameter_name("/refdesk/", "slack_bot_token") == "/refdesk/slack-bot-token"


# --- the Slack app: the order Slack verifies the Events URL in ------------------------------------

class FakeAws:
    def __init__(self, clients):
        self.clients = clients

    def __call__(self, service):
        return self.clients[service]


def test_slack_secrets_are_asked_after_the_app_is_created_then_retry(ssm, prefix, tmp_path, capsys):
    prompt = FakePrompt(secrets=["0123456789abcdef0123456789abcdef", "xoxb-1-2-3"])
    manifest = tmp_path / "slack-app-manifest.deployed.yaml"
    assert deploy.slack_step(FakeAws({"ssm": ssm}), prefix, "refdesk", manifest, prompt, replace=False) == {
        "slack_signing_secret": "stored", "slack_bot_token": "stored"}
    kinds = [(kind, text.split("(")[0].strip()) for kind, text in prompt.log]
    assert kinds == [("pause", "Once the app is created,"), ("secret", "Slack Signing Secret"),
                     ("secret", "Slack Bot User OAuth Token")]
    out = capsys.readouterr().out
    assert out.index("Create New App") < out.index("Signing Secret") < out.index("Bot User OAuth Token") \
        < out.index("Retry") < out.index("/invite @RefDesk")
    assert "did not answer the\n     challenge. That is expected" in out
    assert "refresh" not in out.lower()  # nothing cached a secret that did not exist
    assert set(stored(ssm, prefix)) == {"slack-signing-secret", "slack-bot-token"}


class FakeFunctions:
    """cloudformation's list_stack_resources and lambda's configuration calls, for two functions."""

    def __init__(self):
        self.descriptions = {"refdesk-Dispatcher-1": "Dispatcher - every Slack and Twilio call",
                             "refdesk-SlackEvents-2": "Slack events (secrets read 2026-01-01T00:00:00Z)"}

    def get_paginator(self, name):
        assert name == "list_stack_resources"
        return self

    def paginate(self, StackName):
        yield {"StackResourceSummaries": [{"ResourceType": "AWS::Lambda::Function", "PhysicalResourceId": name}
                                          for name in self.descriptions]
               + [{"ResourceType": "AWS::SQS::Queue", "PhysicalResourceId": "https://sqs/jobs.fifo"}]}

    def get_function_configuration(self, FunctionName):
        return {"Description": self.descriptions[FunctionName]}

    def update_function_configuration(self, FunctionName, Description):
        self.descriptions[FunctionName] = Description


def test_a_replaced_secret_offers_to_refresh_the_functions(ssm, prefix, capsys):
    for name in deploy.SLACK_SECRETS:
        deploy.put_secret(ssm, prefix, name, "old", overwrite=False)
    functions = FakeFunctions()
    aws = FakeAws({"ssm": ssm, "cloudformation": functions, "lambda": functions})
    kept = deploy.slack_step(aws, prefix, "refdesk", ROOT / "x.yaml", FakePrompt(), replace=False)
    assert kept == {"slack_signing_secret": "kept", "slack_bot_token": "kept"}
    assert "already stored" in capsys.readouterr().out

    prompt = FakePrompt(secrets=["0123456789abcdef0123456789abcdef", ""], confirms=[True])
    assert deploy.slack_step(aws, prefix, "refdesk", ROOT / "x.yaml", prompt, replace=True) == {
        "slack_signing_secret": "replaced", "slack_bot_token": "kept"}
    out = capsys.readouterr().out
    assert "Create New App" not in out  # the app exists: no pause, straight to the secrets
    assert f"up to {deploy.SECRET_CACHE_SECONDS // 60} minutes" in out and "2 functions refreshed" in out
    assert out.index("refreshed") < out.index("Retry")
    stamped = r" \(secrets read \d{4}-\d\d-\d\dT[\d:]+Z\)$"
    assert all(re.search(stamped, text) for text in functions.descriptions.values())
    assert functions.descriptions["refdesk-SlackEvents-2"].startswith("Slack events (secrets read 20")
    assert "2026-01-01" not in functions.descriptions["refdesk-SlackEvents-2"]  # replaced, not piled up

    declined = FakePrompt(secrets=["fedcba9876543210fedcba9876543210", ""], confirms=[False])
    deploy.slack_step(aws, prefix, "refdesk", ROOT / "x.yaml", declined, replace=True)
    assert "DEPLOY_ARGS=--refresh-functions" in capsys.readouterr().out


# --- the Slack app manifest -------------------------------------------------------------------

def template_routes(template) -> set[str]:
    return {event["Properties"]["Path"] for resource in template["Resources"].values()
            if resource["Type"] == "AWS::Serverless::Function"
            for event in resource.get("Properties", {}).get("Events", {}).values() if event["Type"] == "HttpApi"}


def test_the_manifest_gets_the_deployed_urls(template):
    source = (ROOT / "slack-app-manifest.yaml").read_text()
    assert deploy.PLACEHOLDER in source
    rendered = deploy.render_manifest(source, API_URL, stack_name="refdesk")
    assert "API-HOST" not in rendered
    manifest = yaml.safe_load(rendered)
    assert manifest == yaml.safe_load(source.replace(deploy.PLACEHOLDER, API_URL))  # nothing else changed
    urls = deploy.manifest_urls(manifest)
    assert urls == [f"{API_URL}/slack/commands", f"{API_URL}/slack/events", f"{API_URL}/slack/interactions"]
    assert {url.removeprefix(API_URL) for url in urls} <= template_routes(template)
    assert rendered.startswith("# The RefDesk Slack app of stack refdesk")
    assert "replacing https://API-HOST" not in rendered  # the template's instructions are not carried over


def test_the_manifest_uses_public_base_url_when_set(tmp_path):
    outputs = {"ApiUrl": API_URL}
    assert deploy.public_base_url(outputs, {"PublicBaseUrl": ""}) == API_URL
    assert deploy.public_base_url(outputs, {"PublicBaseUrl": "https://ask.library.example.org"}) == \
        "https://ask.library.example.org"
    target = deploy.write_manifest("https://ask.library.example.org", stack_name="s", target=tmp_path / "m.yaml")
    urls = deploy.manifest_urls(yaml.safe_load(target.read_text()))
    assert all(url.startswith("https://ask.library.example.org/slack/") for url in urls)


def test_slack_needs_https():
    with pytest.raises(ValueError, match="https"):
        deploy.render_manifest((ROOT / "slack-app-manifest.yaml").read_text(), "http://127.0.0.1:3000")


def test_a_placeholder_in_another_form_is_refused():
    with pytest.raises(ValueError, match="API-HOST"):
        deploy.render_manifest("settings:\n  url: http://API-HOST/x\n", API_URL)


# --- sam deploy and samconfig.toml ---------------------------------------------------------------

# As `sam deploy --guided` writes it: each value in quotes (a quote in it escaped as \"), all of
# it one TOML string (whose escapes JSON's are).
OVERRIDES = (r'SlackStaffChannel="C0STAFF01" SlackTeamId="T0LIBRARY" LibraryName="Riverside \"Main\" Library" '
             r'LibraryCardPattern="\d{14}" AlarmEmail=""')
SAMCONFIG = f"""version = 0.1

[default.deploy.parameters]
stack_name = "library-desk"
resolve_s3 = true
s3_prefix = "library-desk"
region = "eu-west-1"
confirm_changeset = true
capabilities = "CAPABILITY_IAM"
parameter_overrides = {json.dumps(OVERRIDES)}
"""


def test_samconfig_toml_as_sam_writes_it(tmp_path):
    path = tmp_path / "samconfig.toml"
    path.write_text(SAMCONFIG)
    config = deploy.read_samconfig(path)
    assert (config.exists, config.stack_name, config.region) == (True, "library-desk", "eu-west-1")
    assert config.parameters == {"SlackStaffChannel": "C0STAFF01", "SlackTeamId": "T0LIBRARY",
                                 "LibraryName": 'Riverside "Main" Library', "LibraryCardPattern": r"\d{14}",
                                 "AlarmEmail": ""}
    assert deploy.parse_overrides(" ".join(deploy.format_overrides(config.parameters))) == config.parameters
    assert not deploy.read_samconfig(tmp_path / "none.toml").exists


def test_the_first_deploy_is_guided_with_the_checked_answers(tmp_path):
    command = deploy.sam_deploy_command(guided=True, samconfig=deploy.SamConfig(tmp_path / "samconfig.toml"),
                                        stack_name="refdesk", region="us-east-1", parameters=VALID, interactive=True)
    assert command[:2] == ["sam", "deploy"] and "--guided" in command
    assert command[command.index("--stack-name") + 1] == "refdesk"
    assert command[command.index("--config-file") + 1] == str(tmp_path / "samconfig.toml")
    overrides = command[command.index("--parameter-overrides") + 1:]
    assert deploy.parse_overrides(" ".join(overrides)) == VALID


def test_later_deploys_use_samconfig_toml(tmp_path):
    path = tmp_path / "samconfig.toml"
    path.write_text(SAMCONFIG)
    config = deploy.read_samconfig(path)
    same = deploy.sam_deploy_command(guided=False, samconfig=config, stack_name="library-desk", region="eu-west-1",
                                     parameters=config.parameters, interactive=True)
    assert same == ["sam", "deploy", "--config-file", str(path), "--no-fail-on-empty-changeset"]
    changed = {**config.parameters, "AlarmEmail": "it@library.example.org"}
    command = deploy.sam_deploy_command(guided=False, samconfig=config, stack_name="library-desk",
                                        region="eu-west-1", parameters=changed, interactive=False)
    assert "--no-confirm-changeset" in command and "--save-params" in command and "--guided" not in command
    # A --parameter-overrides replaces samconfig.toml's whole list: all of them are given.
    assert deploy.parse_overrides(" ".join(command[command.index("--parameter-overrides") + 1:])) == changed


def test_a_first_deploy_without_questions_saves_samconfig_toml(tmp_path):
    command = deploy.sam_deploy_command(guided=False, samconfig=deploy.SamConfig(tmp_path / "samconfig.toml"),
                                        stack_name="refdesk", region="us-east-1", parameters=VALID,
                                        interactive=False)
    for option in ("--resolve-s3", "--save-params", "--no-confirm-changeset"):
        assert option in command
    assert command[command.index("--capabilities") + 1] == "CAPABILITY_IAM"


# --- Twilio -------------------------------------------------------------------------------------

def test_us_numbers_are_told_about_a2p_10dlc_or_toll_free_verification():
    webhook = f"{API_URL}/sms/inbound"
    long_code = deploy.twilio_notes("+15551234567", webhook)
    assert webhook in long_code and "A2P 10DLC" in long_code and "30007" in long_code
    toll_free = deploy.twilio_notes("+18885550100", webhook)
    assert "toll-free verification" in toll_free and "A2P 10DLC" not in toll_free and "30007" in toll_free
    elsewhere = deploy.twilio_notes("+447700900123", webhook)
    assert webhook in elsewhere and "10DLC" not in elsewhere and "30007" not in elsewhere


# --- end to end, on moto --------------------------------------------------------------------

SECRETS = {"DEPLOY_TWILIO_ACCOUNT_SID": "AC" + "2" * 32, "DEPLOY_TWILIO_AUTH_TOKEN": "twilio-token-1",
           "DEPLOY_SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef", "DEPLOY_SLACK_BOT_TOKEN": "xoxb-1-2"}


class MadeUpIds(dict):
    """Every resource's !Ref and !GetAtt: a made-up id, as CloudFormation would give a real one."""

    def __contains__(self, name):
        return True

    def __missing__(self, name):
        return f"{name.replace('.', '-').lower()}-e2e"


class FakeSam:
    """`make build` and `sam deploy`, as subprocess.run sees them."""

    def __init__(self, cloudformation, samconfig_path, log: list | None = None):
        self.cloudformation, self.samconfig_path = cloudformation, samconfig_path
        self.commands: list[list[str]] = []
        self.log = log if log is not None else []  # shared with a FakePrompt: what happened, in order
        self.template = deploy.load_template()

    def __call__(self, command, cwd, check):
        self.commands.append(command)
        self.log.append(("run", " ".join(command[:2])))
        if command == ["make", "build"]:
            return subprocess.CompletedProcess(command, 0)
        assert command[:2] == ["sam", "deploy"]
        saved = deploy.read_samconfig(self.samconfig_path)
        stack = command[command.index("--stack-name") + 1] if "--stack-name" in command else saved.stack_name
        given = ("--parameter-overrides" in command
                 and deploy.parse_overrides(" ".join(command[command.index("--parameter-overrides") + 1:])))
        parameters = given or saved.parameters
        body = json.dumps(self.stand_in_template(parameters), default=str)
        arguments = dict(StackName=stack, TemplateBody=body, Capabilities=["CAPABILITY_IAM"],
                         Parameters=[{"ParameterKey": key, "ParameterValue": value}
                                     for key, value in parameters.items()])
        stacks = [summary["StackName"] for summary in self.cloudformation.list_stacks()["StackSummaries"]
                  if summary["StackStatus"] != "DELETE_COMPLETE"]
        (self.cloudformation.update_stack if stack in stacks else self.cloudformation.create_stack)(**arguments)
        if "--save-params" in command or "--guided" in command:  # guided: its answers were ours (Enter)
            overrides = json.dumps(" ".join(deploy.format_overrides(parameters)))  # a TOML string
            region = command[command.index("--region") + 1] if "--region" in command else saved.region
            self.samconfig_path.write_text(f'version = 0.1\n\n[default.deploy.parameters]\nstack_name = "{stack}"\n'
                                           f'region = "{region}"\nparameter_overrides = {overrides}\n')
        return subprocess.CompletedProcess(command, 0)

    def stand_in_template(self, parameters: dict) -> dict:
        values = deploy.effective_parameters(self.template, parameters)
        conditions = self.template["Conditions"]
        resolve = Resolver(values, conditions, MadeUpIds(), MadeUpIds(),
                           {name: resource["Properties"]["StageName"] for name, resource in
                            self.template["Resources"].items() if resource["Type"] == "AWS::ApiGatewayV2::Stage"})
        outputs = {name: {"Value": str(resolve(output["Value"]))} for name, output in self.template["Outputs"].items()
                   if "Condition" not in output
                   or deploy.evaluate({"Condition": output["Condition"]}, values, conditions)}
        return {"AWSTemplateFormatVersion": "2010-09-09", "Parameters": self.template["Parameters"],
                "Resources": {"AlarmTopic": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}


@pytest.fixture
def moto(local_aws, monkeypatch):
    """boto3 (the script's clients too) answered by the session's moto (in this process: no endpoint)."""
    if local_aws.endpoint_url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", local_aws.endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return local_aws


@pytest.fixture
def run(moto, tmp_path):
    stack, prefix = f"refdesk-e2e-{uuid.uuid4().hex[:6]}", f"/refdesk-e2e-{uuid.uuid4().hex[:6]}"
    sam = FakeSam(moto.client("cloudformation"), tmp_path / "samconfig.toml")

    def run_deploy(*extra: str, environ: dict | None = None) -> int:
        arguments = ["--non-interactive", "--config-file", str(tmp_path / "samconfig.toml"),
                     "--manifest-out", str(tmp_path / "slack-app-manifest.deployed.yaml"), *extra]
        if not sam.samconfig_path.exists():
            arguments += ["--stack-name", stack, "--parameter", f"SsmPrefix={prefix}",
                          *[f"--parameter={name}={value}" for name, value in VALID.items()]]
        return deploy.main(arguments, runner=sam, environ={**SECRETS, **(environ or {})},
                           which=lambda name: sys.executable if name == "python3.12" else f"/venv/bin/{name}")

    run_deploy.stack, run_deploy.prefix, run_deploy.sam, run_deploy.dir = stack, prefix, sam, tmp_path
    return run_deploy


def secrets_in(moto, prefix: str) -> dict[str, dict]:
    answer = moto.client("ssm").get_parameters_by_path(Path=prefix, WithDecryption=True)["Parameters"]
    return {parameter["Name"].rsplit("/", 1)[1]: parameter for parameter in answer}


def test_make_deploy_end_to_end_on_moto(run, moto, capsys):
    assert run() == 0
    out = capsys.readouterr().out

    # The checks ran against the account, in plain words.
    assert "AWS credentials: account 123456789012, region us-east-1" in out
    assert "Lambda concurrency: the stack reserves none, so any quota fits" in out
    assert "API Gateway CloudWatch role: none; ApiGatewayAccountLogging stays false" in out

    # make build, then sam deploy with the checked parameters; samconfig.toml kept for later.
    build, sam_deploy = run.sam.commands
    assert build == ["make", "build"]
    assert deploy.parse_overrides(" ".join(sam_deploy[sam_deploy.index("--parameter-overrides") + 1:])) == {
        **VALID, "SsmPrefix": run.prefix}
    assert deploy.read_samconfig(run.dir / "samconfig.toml").stack_name == run.stack

    # Every secret the functions read, as SecureStrings under SsmPrefix.
    stored = secrets_in(moto, run.prefix)
    assert set(stored) == {parameter for _, parameter in deploy.SECRETS.values()}
    assert {parameter["Type"] for parameter in stored.values()} == {"SecureString"}
    assert stored["slack-bot-token"]["Value"].endswith("xoxb-1-2")

    # The manifest carries the stack's own URL.
    outputs = deploy.stack_outputs(moto.client("cloudformation"), run.stack)
    assert outputs["ApiUrl"] == "https://httpapi-e2e.execute-api.us-east-1.amazonaws.com"
    manifest = yaml.safe_load((run.dir / "slack-app-manifest.deployed.yaml").read_text())
    assert deploy.manifest_urls(manifest) == [f"{outputs['ApiUrl']}/slack/{path}"
                                              for path in ("commands", "events", "interactions")]
    assert f"{outputs['ApiUrl']}/sms/inbound" in out and "A2P 10DLC" in out
    assert "Event Subscriptions → Request URL → Retry" in out

    # A later `make deploy`: samconfig.toml's settings, no --guided; patron-id-key and the stored
    # secrets stay as they were.
    assert run(environ={"DEPLOY_TWILIO_AUTH_TOKEN": "another-token"}) == 0
    later = run.sam.commands[-1]
    assert "--guided" not in later and "--parameter-overrides" not in later and "--no-confirm-changeset" in later
    again = secrets_in(moto, run.prefix)
    assert {name: parameter["Value"] for name, parameter in again.items()} == \
        {name: parameter["Value"] for name, parameter in stored.items()}
    assert "Slack signing secret and bot token: already stored" in capsys.readouterr().out

    # --skip-deploy: neither build nor deploy; the manifest written again from the stack's outputs.
    (run.dir / "slack-app-manifest.deployed.yaml").unlink()
    commands = len(run.sam.commands)
    assert run("--skip-deploy") == 0
    assert len(run.sam.commands) == commands and (run.dir / "slack-app-manifest.deployed.yaml").exists()


def test_nothing_is_deployed_or_stored_with_a_wrong_parameter(run, moto, capsys):
    assert deploy.main(["--non-interactive", "--config-file", str(run.dir / "samconfig.toml"),
                        "--stack-name", run.stack, "--parameter", f"SsmPrefix={run.prefix}",
                        "--parameter", "SlackStaffChannel=#ask-a-librarian", "--parameter", "SlackTeamId=T0LIBRARY"],
                       runner=run.sam, environ=SECRETS, which=lambda name: sys.executable) == 1
    out = capsys.readouterr().out
    assert "SlackStaffChannel must be a channel id such as C0123ABCD" in out
    assert "TwilioFromNumber is required" in out and "SesSenderIdentity is required" in out
    assert run.sam.commands == []
    assert secrets_in(moto, run.prefix) == {}


def test_the_websocket_log_without_the_role_stops_before_anything_is_stored(run, moto, capsys):
    assert run("--parameter", "ApiGatewayAccountLogging=true") == 1
    assert "none, but ApiGatewayAccountLogging=true" in capsys.readouterr().out
    assert run.sam.commands == [] and secrets_in(moto, run.prefix) == {}


def test_the_first_deploy_asks_in_the_order_slack_needs(moto, tmp_path, capsys):
    """Parameters and Twilio's secrets before the deploy; the Slack app's secrets only after the
    manifest is written and the app created from it; then Retry."""
    prefix = f"/refdesk-e2e-{uuid.uuid4().hex[:6]}"
    prompt = FakePrompt(answers=["", "C0STAFF01", "T0LIBRARY", "+18885550100", "askus@library.example.org", "", ""],
                        secrets=["AC" + "3" * 32, "twilio-token", "0123456789abcdef0123456789abcdef", "xoxb-9"])
    sam = FakeSam(moto.client("cloudformation"), tmp_path / "samconfig.toml", log=prompt.log)
    manifest = tmp_path / "slack-app-manifest.deployed.yaml"
    assert deploy.main(["--stack-name", f"refdesk-e2e-{uuid.uuid4().hex[:6]}", "--parameter", f"SsmPrefix={prefix}",
                        "--config-file", str(sam.samconfig_path), "--manifest-out", str(manifest)],
                       prompt=prompt, runner=sam, which=lambda name: sys.executable) == 0
    steps = [(kind, text.rsplit("\n", 1)[-1].split("(")[0].strip()) for kind, text in prompt.log]
    assert steps == [
        ("ask", "SlackStaffChannel"), ("ask", "SlackStaffChannel"),  # Enter on a required one: asked again
        ("ask", "SlackTeamId"), ("ask", "TwilioFromNumber"), ("ask", "SesSenderIdentity"),
        ("ask", "AllowedOrigins"), ("ask", "AlarmEmail"),
        ("secret", "Twilio Account SID"), ("secret", "Twilio Auth Token"),
        ("run", "make build"), ("run", "sam deploy"),
        ("pause", "Once the app is created,"),
        ("secret", "Slack Signing Secret"), ("secret", "Slack Bot User OAuth Token"),
    ]
    assert "--guided" in sam.commands[-1]
    out = capsys.readouterr().out
    assert out.index("Slack app manifest written") < out.index("Create New App") < out.index("Retry")
    assert "toll-free verification" in out
    assert set(secrets_in(moto, prefix)) == {parameter for _, parameter in deploy.SECRETS.values()}
