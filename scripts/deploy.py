"""`make deploy`: RefDesk's guided deploy, the first one and every later one.

    make deploy                                  guided: asks what it needs, in order
    make deploy DEPLOY_ARGS="--guided"           run `sam deploy --guided` again (change parameters)
    make deploy DEPLOY_ARGS="--refresh-functions"  only make every function read its secrets afresh
    make deploy DEPLOY_ARGS="--non-interactive --parameter SlackStaffChannel=C0… …"
                                                 no questions: parameters from --parameter and
                                                 samconfig.toml, secrets from DEPLOY_<NAME>
                                                 variables (DEPLOY_TWILIO_AUTH_TOKEN …)

The steps, in the order Slack and AWS need them:

 1. prerequisites: AWS credentials and region, python3.12 and the sam CLI (the venv's);
 2. parameters: the ones without a default, checked before anything is deployed (kept in
    samconfig.toml after the first deploy);
 3. the account, with those parameters: Lambda's concurrency quota against what the template
    reserves, API Gateway's CloudWatch role against the WebSocket access log, the SES identity;
 4. secrets in SSM (SecureString under SsmPrefix): patron-id-key and report-link-key made at
    random if absent (never replaced), the Twilio account SID and auth token asked;
 5. `make build` (python3.12 from the venv on PATH), then `sam deploy --guided` the first time
    and `sam deploy` once samconfig.toml exists;
 6. the stack's outputs: slack-app-manifest.yaml written with the deployed URLs
    (slack-app-manifest.deployed.yaml);
 7. the Slack app: created from that manifest; only then do its signing secret and bot token
    exist, so they are asked now and stored; then Slack's "Retry" on the Events URL;
 8. Twilio: the webhook URL, and US A2P 10DLC / toll-free verification.

Every step is a function taking its boto3 clients, so the tests run them against moto. boto3
honours AWS_ENDPOINT_URL, which the tests point at moto; nothing here calls Slack or Twilio."""
from __future__ import annotations

import argparse
import getpass
import os
import re
import secrets as random_secrets
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
import tomllib
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "refdesk"), str(ROOT)]  # the layer, and local/ (make deploy runs from a checkout)

from refdesk.settings import SECRET_CACHE_SECONDS, SECRETS  # noqa: E402  (the layer, added above)
from local.template import load as load_cloudformation  # noqa: E402  (the local stack reads it the same way)

TEMPLATE = ROOT / "template.yaml"
MANIFEST = ROOT / "slack-app-manifest.yaml"
RENDERED_MANIFEST = ROOT / "slack-app-manifest.deployed.yaml"
SAMCONFIG = ROOT / "samconfig.toml"
DEFAULT_STACK_NAME = "refdesk"
PLACEHOLDER = "https://API-HOST"  # in slack-app-manifest.yaml, replaced by the stack's URL

# The secrets, by when they can be stored (names as refdesk.settings.SECRETS has them).
GENERATED_SECRETS = ("patron_id_key", "report_link_key")  # random, made here, never replaced
TWILIO_SECRETS = ("twilio_account_sid", "twilio_auth_token")  # asked before the deploy
SLACK_SECRETS = ("slack_signing_secret", "slack_bot_token")  # exist only once the Slack app does
NEVER_REPLACED = {"patron_id_key"}  # patrons' keyed identities depend on it (README "Operations")
SECRET_FORMS = {
    "twilio_account_sid": (r"AC[0-9a-fA-F]{32}", "AC followed by 32 hex digits (Twilio Console → Account Info)"),
    "slack_bot_token": (r"xoxb-\S+", "the Bot User OAuth Token, starting xoxb-"),
}
SECRET_QUESTIONS = {
    "twilio_account_sid": "Twilio Account SID (AC…, Twilio Console → Account Info)",
    "twilio_auth_token": "Twilio Auth Token (Twilio Console → Account Info; not shown as you type)",
    "slack_signing_secret": "Slack Signing Secret (Basic Information → App Credentials → Signing Secret → Show)",
    "slack_bot_token": "Slack Bot User OAuth Token (xoxb-…, OAuth & Permissions, after Install to Workspace)",
}

# The parameters asked before sam's own walk through every parameter, with where to find each.
# Those without a default in template.yaml are always asked, whatever this lists.
ASKED_PARAMETERS = {
    "SlackStaffChannel": "the staff channel's id, C… (in Slack: open the channel, click its name; "
                         "the id is at the bottom of About)",
    "SlackTeamId": "the library's Slack workspace id, T… (Slack: workspace menu → Tools & settings → "
                   "About this workspace, or the T… in the workspace's web address)",
    "TwilioFromNumber": "the library's Twilio number in E.164, +15551234567",
    "SesSenderIdentity": "the SES identity e-mailed replies come from: an address or a domain verified in SES",
    "AllowedOrigins": "the library web sites that embed the chat widget, comma-separated "
                      "(https://library.example.edu); empty: none yet",
    "AlarmEmail": "an address told of alarms (AWS mails a confirmation link); empty: none",
}
# Checks of our own, in plain words, on top of template.yaml's AllowedPattern and friends.
PARAMETER_RULES = {
    "SlackStaffChannel": (r"[CG][A-Z0-9]{6,}", "must be a channel id such as C0123ABCD (not #name)"),
    "SlackTeamId": (r"[TE][A-Z0-9]{2,30}(,[TE][A-Z0-9]{2,30})*",
                    "must be a Slack workspace id such as T0123ABCD (several: comma-separated, no spaces)"),
    "TwilioFromNumber": (r"\+[1-9][0-9]{6,14}", "must be a phone number in E.164: + then the country code and "
                                                "number, no spaces (+15551234567)"),
    "SesSenderIdentity": (r"[^@\s*?]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+",
                          "must be an e-mail address (askus@library.example.edu) or a domain "
                          "(library.example.edu), without * or ?"),
    "AllowedOrigins": (r"(https?://[^/\s,]+)?(,https?://[^/\s,]+)*",
                       "must be web origins such as https://library.example.edu, comma-separated, "
                       "without a path or a trailing /"),
    "PublicBaseUrl": (r"(https://\S+[^/\s])?", "must be empty or an https:// URL without a trailing /"),
}

# Lambda keeps part of the account's concurrency unreserved: "You can reserve up to the
# Unreserved account concurrency value minus 100" (Lambda developer guide, reserved
# concurrency). Accounts whose quota is under 100 (new accounts can start at 10) can reserve
# nothing: the whole quota must stay unreserved.
MIN_UNRESERVED = 100
LOGGING_PARAMETER = "ApiGatewayAccountLogging"  # "true": the WebSocket API writes an access log
# US toll-free area codes: such numbers need toll-free verification rather than A2P 10DLC.
US_TOLL_FREE = {"800", "833", "844", "855", "866", "877", "888"}


# --- output -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """One prerequisite: ok (nothing to do), warn (works, but read this) or fail (fix it first)."""

    status: str  # "ok", "warn", "fail"
    title: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "fail"


LABELS = {"ok": "OK  ", "warn": "NOTE", "fail": "FIX "}


def show(check: Check) -> None:
    print(f"  [{LABELS[check.status]}] {check.title}")
    say(check.detail, indent=9)


def say(text: str, indent: int = 2) -> None:
    """Prints text wrapped; a line that starts with spaces (a command, a URL) is printed whole."""
    for line in text.splitlines():
        if line.startswith(" "):
            print(" " * indent + line)
        else:
            print(textwrap.fill(line, width=110, initial_indent=" " * indent, subsequent_indent=" " * (indent + 2),
                                break_on_hyphens=False, break_long_words=False))


def heading(text: str) -> None:
    print(f"\n== {text}")


# --- questions --------------------------------------------------------------------------------

class Prompter:
    """Asks on the terminal; secrets are not echoed."""

    interactive = True

    def ask(self, question: str, default: str = "") -> str:
        shown = f" [{default}]" if default else ""
        answer = input(f"  {question}{shown}: ").strip()
        return answer or default

    def secret(self, question: str) -> str:
        return getpass.getpass(f"  {question}: ").strip()

    def confirm(self, question: str, default: bool = True) -> bool:
        answer = input(f"  {question} [{'Y/n' if default else 'y/N'}]: ").strip().lower()
        return default if not answer else answer.startswith("y")

    def pause(self, text: str) -> None:
        input(f"  {text} (press Enter) ")


class NoQuestions(Prompter):
    """--non-interactive: every answer is the default; secrets come from DEPLOY_<NAME> variables."""

    interactive = False

    def __init__(self, environ=os.environ):
        self.environ = environ

    def ask(self, question: str, default: str = "") -> str:
        return default

    def secret(self, question: str) -> str:
        return ""

    def confirm(self, question: str, default: bool = True) -> bool:
        return default

    def pause(self, text: str) -> None:
        pass


def secret_from_environment(name: str, environ=os.environ) -> str:
    """DEPLOY_<the secret's variable in refdesk.settings.SECRETS>, e.g. DEPLOY_TWILIO_AUTH_TOKEN."""
    return environ.get(f"DEPLOY_{SECRETS[name][0]}", "").strip()


# --- template.yaml ----------------------------------------------------------------------------

def load_template(path: Path = TEMPLATE) -> dict:
    return load_cloudformation(path)


def template_defaults(template: dict) -> dict[str, str]:
    return {name: str(spec["Default"]) for name, spec in template.get("Parameters", {}).items() if "Default" in spec}


def effective_parameters(template: dict, chosen: dict[str, str]) -> dict[str, str]:
    """What CloudFormation will use: the template's defaults, then the chosen values."""
    return {**template_defaults(template), **chosen}


NO_VALUE = object()  # AWS::NoValue


class Unresolvable(ValueError):
    pass


def evaluate(value, parameters: dict, conditions: dict):
    """The few intrinsic functions a reserved concurrency or a condition uses: Ref (parameters,
    AWS::NoValue), Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition."""
    def again(item):
        return evaluate(item, parameters, conditions)

    def condition(name):
        return bool(again(conditions[name]))

    if isinstance(value, list):
        return [again(item) for item in value]
    if isinstance(value, dict) and len(value) == 1:
        (key, argument), = value.items()
        if key == "Ref":
            if argument == "AWS::NoValue":
                return NO_VALUE
            if argument in parameters:
                return parameters[argument]
            raise Unresolvable(f"!Ref {argument}")
        if key == "Fn::If":
            name, when_true, when_false = argument
            return again(when_true if condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = again(argument)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not again(argument[0])
        if key == "Fn::And":
            return all(again(argument))
        if key == "Fn::Or":
            return any(again(argument))
        if key == "Condition":
            return condition(argument)
        if key.startswith("Fn::"):
            raise Unresolvable(key)
    return value


FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


def reserved_concurrency(template: dict, parameters: dict[str, str]) -> dict[str, int]:
    """Function logical id -> the concurrency it reserves with these parameters (functions that
    reserve none are left out). Globals.Function applies to AWS::Serverless::Function only."""
    values = effective_parameters(template, parameters)
    conditions = template.get("Conditions", {})
    default = template.get("Globals", {}).get("Function", {}).get("ReservedConcurrentExecutions")
    reserved = {}
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") not in FUNCTION_TYPES:
            continue
        if "Condition" in resource and not evaluate({"Condition": resource["Condition"]}, values, conditions):
            continue
        properties = resource.get("Properties", {})
        expression = properties.get("ReservedConcurrentExecutions",
                                    default if resource["Type"] == FUNCTION_TYPES[0] else None)
        value = evaluate(expression, values, conditions) if expression is not None else None
        if value not in (None, NO_VALUE, ""):
            reserved[name] = int(value)
    return reserved


def concurrency_parameters(template: dict) -> list[str]:
    """The parameters that decide what the functions reserve (FunctionConcurrency …)."""
    found: list[str] = []

    def refs(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "Ref" and item in template.get("Parameters", {}) and item not in found:
                    found.append(item)
                elif key == "Condition" and isinstance(item, str):
                    refs(template.get("Conditions", {}).get(item))
                else:
                    refs(item)
        elif isinstance(value, list):
            for item in value:
                refs(item)
        elif isinstance(value, str) and value in template.get("Conditions", {}):
            refs(template["Conditions"][value])  # Fn::If's condition name

    refs(template.get("Globals", {}).get("Function", {}).get("ReservedConcurrentExecutions"))
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") in FUNCTION_TYPES:
            refs(resource.get("Properties", {}).get("ReservedConcurrentExecutions"))
    return found


# --- parameters -------------------------------------------------------------------------------

def parameter_error(template: dict, name: str, value: str) -> str | None:
    """Why `value` will not do for parameter `name`, in plain words; None if it will."""
    spec = template.get("Parameters", {}).get(name)
    if spec is None:
        return f"{name} is not a parameter of template.yaml"
    if "Default" not in spec and not value.strip():
        return f"{name} is required: {ASKED_PARAMETERS.get(name, spec.get('Description', '')).strip()}"
    if name in PARAMETER_RULES:
        pattern, explanation = PARAMETER_RULES[name]
        if not re.fullmatch(pattern, value):
            return f"{name} {explanation}; got {value!r}"
    if "AllowedValues" in spec and value not in [str(allowed) for allowed in spec["AllowedValues"]]:
        return f"{name} must be one of {', '.join(str(allowed) for allowed in spec['AllowedValues'])}; got {value!r}"
    # CloudFormation matches AllowedPattern against the whole value.
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        why = spec.get("ConstraintDescription") or f"must match {spec['AllowedPattern']}"
        return f"{name} {why}; got {value!r}"
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return f"{name} must be a number; got {value!r}"
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return f"{name} must be at least {spec['MinValue']}; got {value}"
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return f"{name} must be at most {spec['MaxValue']}; got {value}"
    return None


def check_parameters(template: dict, chosen: dict[str, str]) -> list[str]:
    """Every problem with the chosen parameters, before sam deploy runs: the required ones that
    are missing, and every value the template or our rules would refuse."""
    problems = []
    for name, spec in template.get("Parameters", {}).items():
        if "Default" not in spec and not chosen.get(name, "").strip():
            problems.append(parameter_error(template, name, ""))
    for name, value in chosen.items():
        if "Default" not in template.get("Parameters", {}).get(name, {}) and not value.strip():
            continue  # already reported as required
        problem = parameter_error(template, name, value)
        if problem:
            problems.append(problem)
    return problems


def asked_parameters(template: dict) -> list[str]:
    """Those without a default (template order), then the optional ones worth asking."""
    parameters = template.get("Parameters", {})
    required = [name for name, spec in parameters.items() if "Default" not in spec]
    return required + [name for name in ASKED_PARAMETERS if name in parameters and name not in required]


def ask_parameters(template: dict, chosen: dict[str, str], prompt: Prompter,
                   names: list[str] | None = None) -> dict[str, str]:
    """Asks each parameter (the current value as the default) until it is acceptable."""
    answers = dict(chosen)
    defaults = template_defaults(template)
    for name in names if names is not None else asked_parameters(template):
        hint = ASKED_PARAMETERS.get(name) or " ".join(template["Parameters"][name].get("Description", "").split())
        while True:
            value = prompt.ask(f"{name}: {hint}\n   {name}", answers.get(name, defaults.get(name, "")))
            problem = parameter_error(template, name, value)
            if not problem:
                answers[name] = value
                break
            print(f"  {problem}")
            if not prompt.interactive:
                raise SystemExit(1)
    return answers


def format_overrides(parameters: dict[str, str]) -> list[str]:
    """sam's --parameter-overrides items, quoted as sam quotes them in samconfig.toml."""
    return [name + '="' + value.replace('"', r'\"') + '"' for name, value in parameters.items()]


def parse_overrides(value) -> dict[str, str]:
    """samconfig.toml's parameter_overrides (a string of Key="value" pairs, or a list of them)."""
    if not value:
        return {}
    try:
        from samcli.cli.types import CfnParameterOverridesType

        return dict(CfnParameterOverridesType().convert(value if isinstance(value, (list, tuple)) else (value,),
                                                        None, None))
    except ImportError:  # sam's own parser is in the venv; shell quoting reads what sam writes
        items = shlex.split(" ".join(value) if isinstance(value, (list, tuple)) else value)
        return dict(item.split("=", 1) for item in items if "=" in item)


@dataclass
class SamConfig:
    """What samconfig.toml keeps for `sam deploy` (its default environment)."""

    path: Path
    exists: bool = False
    stack_name: str = ""
    region: str = ""
    parameters: dict[str, str] = field(default_factory=dict)


def read_samconfig(path: Path = SAMCONFIG) -> SamConfig:
    if not path.exists():
        return SamConfig(path)
    data = tomllib.loads(path.read_text())
    deploy = data.get("default", {}).get("deploy", {}).get("parameters", {})
    region = deploy.get("region") or data.get("default", {}).get("global", {}).get("parameters", {}).get("region", "")
    return SamConfig(path, True, deploy.get("stack_name", ""), region,
                     parse_overrides(deploy.get("parameter_overrides")))


# --- 1. prerequisites -------------------------------------------------------------------------

def reason(error: Exception) -> str:
    """An AWS error in one short line (moto answers some with a whole HTML page)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        code = response["Error"].get("Code", "")
        message = str(response["Error"].get("Message", "")).strip().splitlines()
        text = f"{code}: {message[0]}" if message and not message[0].startswith("<") else code
    else:
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:160]


def check_credentials(sts, region: str | None) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if not region:
        return Check("fail", "AWS region: none set",
                     "Choose the region to deploy to: export AWS_REGION=us-east-1 (or `aws configure set region …`).")
    try:
        identity = sts.get_caller_identity()
    except NoCredentialsError:
        return Check("fail", "AWS credentials: none found",
                     "Sign in first: `aws configure` (access keys), or `aws sso login --profile NAME` and "
                     "export AWS_PROFILE=NAME.")
    except ClientError as error:
        return Check("fail", f"AWS credentials: refused ({error.response['Error'].get('Code', '')})",
                     "They are wrong or expired: sign in again (`aws sso login`, or new access keys).")
    except BotoCoreError as error:
        return Check("fail", "AWS credentials: could not check them", reason(error))
    return Check("ok", f"AWS credentials: account {identity['Account']}, region {region}",
                 f"as {identity['Arn']}")


def check_python312(which=shutil.which, run=subprocess.run) -> Check:
    """`sam build` builds the Python 3.12 functions with python3.12 found on PATH."""
    path = which("python3.12")
    if path:
        result = run([path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                     capture_output=True, text=True, check=False)
        if result.returncode == 0 and result.stdout.strip() == "3.12":
            venv = Path(path).parent == ROOT / ".venv" / "bin"
            return Check("ok", f"python3.12 for sam build: {path}{' (the venv)' if venv else ''}")
    return Check("fail", "python3.12 for sam build: not on PATH",
                 "`sam build` needs python3.12 on PATH. Run `make deploy` (or `make build`): the Makefile puts "
                 ".venv/bin, which has it, first. `make venv` makes the venv (Python 3.12 must be installed).")


def check_sam(which=shutil.which) -> Check:
    path = which("sam")
    if path:
        return Check("ok", f"sam CLI: {path}")
    return Check("fail", "sam CLI: not found", "`make venv` installs it into .venv (aws-sam-cli); run `make deploy`.")


# --- 3. the account, with the chosen parameters -----------------------------------------------

def check_concurrency(lambda_client, template: dict, parameters: dict[str, str],
                      reserved_now: int = 0) -> Check:
    """Whether the functions' reservations fit the account's Lambda concurrency quota.
    reserved_now: what this stack's functions already reserve (a re-deploy gives it back)."""
    from botocore.exceptions import BotoCoreError, ClientError

    reserved = reserved_concurrency(template, parameters)
    total = sum(reserved.values())
    try:
        limits = lambda_client.get_account_settings()["AccountLimit"]
    except (ClientError, BotoCoreError) as error:
        if total == 0:
            return Check("ok", "Lambda concurrency: the stack reserves none, so any quota fits",
                         f"(The account's quota could not be read: {reason(error)}.)")
        return Check("warn", "Lambda concurrency quota: could not read it",
                     f"({reason(error)}) The stack reserves {total}. See Service Quotas → AWS Lambda → Concurrent "
                     "executions: new accounts can start at 10, and then no function may reserve any.")
    quota = int(limits["ConcurrentExecutions"])
    unreserved = int(limits["UnreservedConcurrentExecutions"]) + reserved_now
    others = quota - unreserved  # reserved by functions outside this stack
    minimum = min(MIN_UNRESERVED, quota)
    drivers = ", ".join(f"{name}={parameters.get(name, template_defaults(template).get(name, ''))}"
                        for name in concurrency_parameters(template))
    if total == 0:
        note = (f"The stack reserves no concurrency, so it fits. The account's quota is {quota}: every function in "
                f"the account shares it{', which is little for a busy desk: ask for more' if quota < 100 else ''}"
                f"{' (Service Quotas → AWS Lambda → Concurrent executions)' if quota < 100 else ''}.")
        return Check("warn" if quota < 100 else "ok", f"Lambda concurrency: quota {quota}, nothing reserved", note)
    left = unreserved - total
    if left >= minimum:
        return Check("ok", f"Lambda concurrency: quota {quota}; the stack reserves {total}, {left} stay unreserved",
                     f"({drivers})" if drivers else "")
    needed = others + total + MIN_UNRESERVED
    by_function = ", ".join(f"{name} {count}" for name, count in reserved.items())
    if quota < MIN_UNRESERVED:
        why = (f"The account's Lambda concurrency quota is {quota} (new accounts can start at 10), and Lambda "
               f"keeps all of a quota under {MIN_UNRESERVED} unreserved: no function can reserve any.")
    else:
        why = (f"The account's quota is {quota}, {unreserved} of it unreserved; Lambda keeps {minimum} unreserved, "
               f"so at most {max(unreserved - minimum, 0)} can be reserved.")
    switch_off = no_reservation_setting(template, parameters)
    change = (f"deploy with {switch_off} (reserves nothing)" if switch_off
              else f"lower {' / '.join(concurrency_parameters(template)) or 'the reservations'}")
    return Check("fail", f"Lambda concurrency: the stack reserves {total}, which does not fit",
                 f"{why}\nWith these parameters ({drivers}) the functions reserve {total}: {by_function}.\n"
                 f"Either {change}, or ask for a quota of at least {needed} (Service Quotas → AWS Lambda → "
                 "Concurrent executions).\nDeploying as it is fails with \"decreases account's "
                 "UnreservedConcurrentExecution below its minimum value\".")


def no_reservation_setting(template: dict, parameters: dict[str, str]) -> str:
    """A "Parameter=value" among the template's allowed values that reserves nothing ("" if none)."""
    for name in concurrency_parameters(template):
        for value in template["Parameters"][name].get("AllowedValues", []):
            if not reserved_concurrency(template, {**parameters, name: str(value)}):
                return f"{name}={value}"
    return ""


def stack_reserved_concurrency(cloudformation, lambda_client, stack_name: str) -> int:
    """What the deployed stack's functions reserve now (0 before the first deploy)."""
    from botocore.exceptions import BotoCoreError, ClientError

    total = 0
    try:
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
            for resource in page["StackResourceSummaries"]:
                if resource["ResourceType"] == "AWS::Lambda::Function" and resource.get("PhysicalResourceId"):
                    answer = lambda_client.get_function_concurrency(FunctionName=resource["PhysicalResourceId"])
                    total += int(answer.get("ReservedConcurrentExecutions") or 0)
    except (ClientError, BotoCoreError):
        return total
    return total


def check_apigateway_logging(apigateway, template: dict, parameters: dict[str, str]) -> Check:
    """A WebSocket stage that writes an access log needs the account's API Gateway CloudWatch role
    (one per account and region). HTTP APIs don't."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        role = apigateway.get_account().get("cloudwatchRoleArn", "")
    except (ClientError, BotoCoreError) as error:
        return Check("warn", "API Gateway CloudWatch role: could not read the account's settings", reason(error))
    has_parameter = LOGGING_PARAMETER in template.get("Parameters", {})
    wanted = effective_parameters(template, parameters).get(LOGGING_PARAMETER, "").lower() == "true"
    how = ("Create it once per account and region: a role API Gateway may assume, with the managed policy "
           "AmazonAPIGatewayPushToCloudWatchLogs, then\n"
           "  aws apigateway update-account --patch-operations op=replace,path=/cloudwatchRoleArn,value=<its ARN>\n"
           "(docs/OPERATIONS.md, \"Before the first deployment\"). It is account-wide: the stack never sets it.")
    if role:
        note = "" if not has_parameter or wanted else (
            f"{LOGGING_PARAMETER}=true would keep the WebSocket API's access log (it is off now).")
        return Check("ok", f"API Gateway CloudWatch role: {role}", note)
    if not has_parameter:
        return Check("fail", "API Gateway CloudWatch role: none in this region",
                     "This template always writes the WebSocket API's access log, so the deploy would fail with "
                     "\"CloudWatch Logs role ARN must be set in account settings\".\n" + how)
    if wanted:
        return Check("fail", f"API Gateway CloudWatch role: none, but {LOGGING_PARAMETER}=true",
                     f"Set {LOGGING_PARAMETER}=false (the default; the WebSocket API then writes no access log), "
                     "or create the role first, or the deploy fails with \"CloudWatch Logs role ARN must be set "
                     "in account settings\".\n" + how)
    return Check("ok", f"API Gateway CloudWatch role: none; {LOGGING_PARAMETER} stays false",
                 "The WebSocket API writes no access log (the HTTP API's needs no role). To have it: create the "
                 f"role, then deploy with {LOGGING_PARAMETER}=true.\n" + how)


def check_ses_identity(ses, identity: str, region: str) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    if not identity:
        return Check("ok", "SES sender identity: not set")
    try:
        attributes = ses.get_identity_verification_attributes(Identities=[identity])["VerificationAttributes"]
    except (ClientError, BotoCoreError) as error:
        return Check("warn", f"SES sender identity {identity}: could not check it", reason(error))
    status = attributes.get(identity, {}).get("VerificationStatus", "not created")
    if status == "Success":
        return Check("ok", f"SES sender identity {identity}: verified in {region}",
                     "A new account sends only to verified addresses until SES production access is granted "
                     "(README, \"E-mail replies\").")
    return Check("warn", f"SES sender identity {identity}: {status.lower()} in {region}",
                 "E-mailed replies fail (❌ in the thread) until it is verified: SES console → Identities → Create "
                 f"identity, or `aws sesv2 create-email-identity --email-identity {identity}`. The deploy itself "
                 "does not need it.")


# --- 4. and 7. secrets ------------------------------------------------------------------------

def parameter_name(prefix: str, name: str) -> str:
    return f"{prefix.rstrip('/')}/{SECRETS[name][1]}"


def existing_secrets(ssm, prefix: str, names) -> set[str]:
    """Which of these secrets are in SSM (names as in SECRETS); their values are not read."""
    by_parameter = {parameter_name(prefix, name): name for name in names}
    answer = ssm.get_parameters(Names=list(by_parameter), WithDecryption=False)
    return {by_parameter[parameter["Name"]] for parameter in answer["Parameters"]}


def put_secret(ssm, prefix: str, name: str, value: str, *, overwrite: bool) -> None:
    ssm.put_parameter(Name=parameter_name(prefix, name), Value=value, Type="SecureString", Overwrite=overwrite,
                      Description=f"RefDesk {SECRETS[name][1]} (make deploy)")


def ensure_generated_secrets(ssm, prefix: str) -> dict[str, str]:
    """patron-id-key and report-link-key, made at random where absent. Never replaced:
    Overwrite=False, so even a key created meanwhile by someone else is kept."""
    results = {}
    present = existing_secrets(ssm, prefix, GENERATED_SECRETS)
    for name in GENERATED_SECRETS:
        if name in present:
            results[name] = "kept"
            continue
        try:
            put_secret(ssm, prefix, name, random_secrets.token_hex(32), overwrite=False)
            results[name] = "created"
        except ssm.exceptions.ParameterAlreadyExists:
            results[name] = "kept"
    return results


def secret_problem(name: str, value: str) -> str | None:
    if not value or any(character.isspace() for character in value):
        return "empty or has spaces"
    if name in SECRET_FORMS and not re.fullmatch(SECRET_FORMS[name][0], value):
        return f"should be {SECRET_FORMS[name][1]}"
    return None


def store_secrets(ssm, prefix: str, names, prompt: Prompter, *, replace: bool = False,
                  environ=os.environ) -> dict[str, str]:
    """Asks each secret that is missing (or every one, with replace) and stores it. Returns
    name -> "stored" (new), "replaced", "kept" (already there) or "missing" (no answer).
    patron-id-key is never replaced."""
    results = {}
    present = existing_secrets(ssm, prefix, names)
    for name in names:
        exists = name in present
        if exists and (not replace or name in NEVER_REPLACED):
            results[name] = "kept"
            continue
        value = secret_from_environment(name, environ) if not prompt.interactive else ""
        while prompt.interactive:
            value = prompt.secret(SECRET_QUESTIONS.get(name, SECRETS[name][1]))
            if not value and exists:
                break  # Enter keeps the stored one
            problem = secret_problem(name, value)
            if not problem:
                break
            print(f"  That {problem}.")
            if not prompt.confirm("Try again?", True):
                value = ""
                break
        if not value or secret_problem(name, value):
            results[name] = "kept" if exists else "missing"
            continue
        put_secret(ssm, prefix, name, value, overwrite=exists)
        results[name] = "replaced" if exists else "stored"
    return results


def show_secrets(prefix: str, results: dict[str, str]) -> None:
    words = {"created": "made at random", "stored": "stored", "replaced": "replaced", "kept": "already there, kept",
             "missing": "NOT stored yet"}
    for name, result in results.items():
        show(Check("warn" if result == "missing" else "ok", f"{parameter_name(prefix, name)}: {words[result]}"))


def refresh_functions(cloudformation, lambda_client, stack_name: str, *, now: float | None = None) -> list[str]:
    """Makes every function of the stack start afresh (new instances read the secrets again): a
    configuration change does it, here the description, stamped. Returns the functions' names."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    refreshed = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for resource in page["StackResourceSummaries"]:
            if resource["ResourceType"] != "AWS::Lambda::Function" or not resource.get("PhysicalResourceId"):
                continue
            function = resource["PhysicalResourceId"]
            current = lambda_client.get_function_configuration(FunctionName=function).get("Description", "")
            base = re.sub(r" \(secrets read [^)]*\)$", "", current)
            suffix = f" (secrets read {stamp})"
            lambda_client.update_function_configuration(FunctionName=function,
                                                        Description=base[:256 - len(suffix)] + suffix)
            refreshed.append(function)
    return refreshed


# --- 5. build and deploy ----------------------------------------------------------------------

def sam_deploy_command(*, guided: bool, samconfig: SamConfig, stack_name: str, region: str,
                       parameters: dict[str, str], interactive: bool) -> list[str]:
    """The `sam deploy` to run. The first time (no samconfig.toml) or with --guided: sam asks
    every parameter with ours as the defaults and saves the answers. Later: samconfig.toml's
    settings, the parameters given in full (a --parameter-overrides replaces the saved list)."""
    command = ["sam", "deploy", "--config-file", str(samconfig.path), "--no-fail-on-empty-changeset"]
    if guided:
        return [*command, "--guided", "--stack-name", stack_name, "--region", region,
                "--parameter-overrides", *format_overrides(parameters)]
    if not samconfig.exists:
        command += ["--stack-name", stack_name, "--region", region, "--resolve-s3", "--capabilities", "CAPABILITY_IAM",
                    "--s3-prefix", stack_name]
    if not interactive:
        command.append("--no-confirm-changeset")
    if parameters != samconfig.parameters or not samconfig.exists:
        command += ["--save-params", "--parameter-overrides", *format_overrides(parameters)]
    return command


def run_command(command: list[str], runner=subprocess.run) -> int:
    print(f"\n$ {' '.join(shlex.quote(part) for part in command)}")
    return runner(command, cwd=ROOT, check=False).returncode


# --- 6. outputs and the Slack app manifest ----------------------------------------------------

def stack_outputs(cloudformation, stack_name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def public_base_url(outputs: dict[str, str], parameters: dict[str, str]) -> str:
    """Where Slack and Twilio call: PublicBaseUrl (a custom domain) if set, else the ApiUrl output."""
    return (parameters.get("PublicBaseUrl") or outputs["ApiUrl"]).rstrip("/")


def render_manifest(text: str, base_url: str, *, stack_name: str = "") -> str:
    """slack-app-manifest.yaml with every https://API-HOST replaced by base_url, and a header
    saying what to do with it instead of the template's."""
    if not re.fullmatch(r"https://[^\s/]+(/\S*)?", base_url):
        raise ValueError(f"Slack calls https:// URLs only; got {base_url!r}")
    body = text.split("\n")
    while body and body[0].startswith("#"):  # the template's own header
        body.pop(0)
    header = [f"# The RefDesk Slack app{f' of stack {stack_name}' if stack_name else ''}, written by `make deploy` "
              "from slack-app-manifest.yaml.",
              "# https://api.slack.com/apps -> Create New App -> From an app manifest -> paste this file.",
              "# Later changes: the app's settings -> App Manifest -> paste it again."]
    rendered = "\n".join(header + body).replace(PLACEHOLDER, base_url)
    if "API-HOST" in rendered:
        raise ValueError("slack-app-manifest.yaml has an API-HOST placeholder not written https://API-HOST")
    yaml.safe_load(rendered)  # still a valid manifest
    return rendered


def manifest_urls(manifest: dict) -> list[str]:
    """Every URL in a Slack app manifest that Slack calls."""
    features, settings = manifest.get("features", {}), manifest.get("settings", {})
    return ([command["url"] for command in features.get("slash_commands", [])]
            + [settings.get("event_subscriptions", {}).get("request_url")]
            + [settings.get("interactivity", {}).get("request_url")])


def write_manifest(base_url: str, *, stack_name: str, source: Path = MANIFEST,
                   target: Path = RENDERED_MANIFEST) -> Path:
    target.write_text(render_manifest(source.read_text(), base_url, stack_name=stack_name))
    return target


# --- 8. Twilio --------------------------------------------------------------------------------

def twilio_notes(number: str, webhook_url: str) -> str:
    lines = [f"In the Twilio Console: Phone Numbers → Manage → Active numbers → {number or 'your number'} → "
             "Messaging configuration: \"A message comes in\": Webhook, HTTP POST,",
             f"  {webhook_url}",
             "Then Messaging → Settings → General: turn on \"Enforce HTTP Auth on Media URLs\" (patrons' pictures)."]
    if number.startswith("+1"):
        if number[2:5] in US_TOLL_FREE:
            lines.append(f"{number} is a US toll-free number: it needs toll-free verification (Twilio Console, "
                         "Messaging → Regulatory Compliance) before US carriers deliver its texts.")
        else:
            lines.append(f"{number} is a US/Canadian 10-digit number: texting US phones from it needs A2P 10DLC "
                         "registration, a brand and a campaign (Twilio Console → Messaging → Regulatory Compliance), "
                         "with the number in the campaign's Messaging Service.")
        lines.append("Unregistered traffic is filtered by the carriers (Twilio error 30007): register before "
                     "patrons use the number.")
    return "\n".join(lines)


# --- the walkthrough --------------------------------------------------------------------------

@dataclass
class Aws:
    """boto3 clients for one region, made when first asked (tests pass their own factory)."""

    region: str
    factory: object = None
    _clients: dict = field(default_factory=dict)

    def __call__(self, service: str):
        if service not in self._clients:
            if self.factory is not None:
                self._clients[service] = self.factory(service, self.region)
            else:
                import boto3

                self._clients[service] = boto3.client(service, region_name=self.region)
        return self._clients[service]


def default_region() -> str | None:
    import boto3

    return boto3.session.Session().region_name


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="make deploy DEPLOY_ARGS=…", description=__doc__.splitlines()[0])
    parser.add_argument("--stack-name", help=f"the CloudFormation stack (default: samconfig.toml's, else "
                                             f"{DEFAULT_STACK_NAME})")
    parser.add_argument("--region", help="default: samconfig.toml's, else AWS_REGION / the profile's")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="a template parameter (repeat for each); replaces samconfig.toml's value")
    parser.add_argument("--guided", action="store_true", help="run `sam deploy --guided` even if samconfig.toml exists")
    parser.add_argument("--non-interactive", action="store_true",
                        help="ask nothing: secrets from DEPLOY_<NAME> variables (DEPLOY_TWILIO_AUTH_TOKEN …)")
    parser.add_argument("--replace-secrets", action="store_true",
                        help="ask the Twilio and Slack secrets again even if stored (never patron-id-key)")
    parser.add_argument("--skip-deploy", action="store_true",
                        help="no build or deploy: checks, secrets, the manifest of the deployed stack")
    parser.add_argument("--refresh-functions", action="store_true",
                        help="only make the stack's functions read their secrets afresh")
    parser.add_argument("--config-file", type=Path, default=SAMCONFIG, help=argparse.SUPPRESS)
    parser.add_argument("--manifest-out", type=Path, default=RENDERED_MANIFEST, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    for item in options.parameter:
        if "=" not in item:
            parser.error(f"--parameter {item}: KEY=VALUE")
    return options


def main(argv: list[str] | None = None, *, prompt: Prompter | None = None, runner=subprocess.run,
         client_factory=None, which=shutil.which, environ=os.environ) -> int:
    options = parse_arguments(argv)
    prompt = prompt or (NoQuestions(environ) if options.non_interactive else Prompter())
    template = load_template()
    samconfig = read_samconfig(options.config_file.resolve())
    stack_name = options.stack_name or samconfig.stack_name or DEFAULT_STACK_NAME
    region = options.region or samconfig.region or default_region()
    aws = Aws(region or "", client_factory)

    if options.refresh_functions:
        functions = refresh_functions(aws("cloudformation"), aws("lambda"), stack_name)
        print(f"{len(functions)} functions of {stack_name} will read their secrets afresh on their next request.")
        return 0

    print(f"RefDesk deploy: stack {stack_name}{' (samconfig.toml)' if samconfig.exists else ''}")
    heading("1. Prerequisites")
    checks = [check_credentials(aws("sts") if region else None, region), check_python312(which), check_sam(which)]
    for check in checks:
        show(check)
    if options.skip_deploy:
        checks = checks[:1]
    if not all(check.ok for check in checks):
        print("\nFix the items marked FIX, then run `make deploy` again.")
        return 1

    heading("2. Parameters")
    chosen = {**samconfig.parameters, **dict(item.split("=", 1) for item in options.parameter)}
    if options.guided and not prompt.interactive:
        print("--guided asks questions: it cannot go with --non-interactive.")
        return 2
    # The first deploy is sam's guided one (it saves samconfig.toml); without questions, sam is
    # given everything and saves it with --save-params.
    guided = options.guided or (not samconfig.exists and prompt.interactive)
    if prompt.interactive and guided and not options.skip_deploy:
        print("  RefDesk asks these first and checks them; `sam deploy --guided` then shows every parameter "
              "with these as the defaults (press Enter to keep them).")
        chosen = ask_parameters(template, chosen, prompt)
    problems = check_parameters(template, chosen)
    for problem in problems:
        show(Check("fail", problem))
    if problems:
        print("\nGive them with --parameter KEY=VALUE (make deploy DEPLOY_ARGS=\"--parameter …\")"
              f"{' or in samconfig.toml' if samconfig.exists else ''}, then run `make deploy` again.")
        return 1
    show(Check("ok", "parameters: " + ", ".join(f"{name}={chosen[name]}" for name in asked_parameters(template)
                                                  if chosen.get(name))))

    heading("3. The account, with these parameters")
    while True:
        reserved_now = stack_reserved_concurrency(aws("cloudformation"), aws("lambda"), stack_name)
        concurrency = check_concurrency(aws("lambda"), template, chosen, reserved_now)
        show(concurrency)
        drivers = concurrency_parameters(template)
        if concurrency.ok or not prompt.interactive or not drivers or options.skip_deploy:
            break
        if not prompt.confirm("Lower the reservations now?", True):
            break
        chosen = ask_parameters(template, chosen, prompt, drivers)
    account = [concurrency, check_apigateway_logging(aws("apigateway"), template, chosen),
               check_ses_identity(aws("ses"), chosen.get("SesSenderIdentity", ""), region)]
    for check in account[1:]:
        show(check)
    if not options.skip_deploy and not all(check.ok for check in account):
        print("\nFix the items marked FIX, then run `make deploy` again.")
        return 1

    heading("4. Secrets in SSM Parameter Store (SecureString)")
    prefix = effective_parameters(template, chosen)["SsmPrefix"]
    results = ensure_generated_secrets(aws("ssm"), prefix)
    results.update(store_secrets(aws("ssm"), prefix, TWILIO_SECRETS, prompt, replace=options.replace_secrets,
                                 environ=environ))
    show_secrets(prefix, results)

    if not options.skip_deploy:
        heading("5. Build and deploy")
        if run_command(["make", "build"], runner) != 0:
            print("\n`make build` failed: see above.")
            return 1
        command = sam_deploy_command(guided=guided, samconfig=samconfig, stack_name=stack_name, region=region,
                                     parameters=chosen, interactive=prompt.interactive)
        if guided:
            say("sam now asks every parameter, with the answers above as defaults: press Enter to keep them. "
                "\"Allow SAM CLI IAM role creation\": Y. \"… has no authentication. Is this okay?\": y for each "
                "function (the webhooks check Slack's and Twilio's signatures themselves; N stops the deploy). "
                "\"Save arguments to configuration file\": Y, samconfig.toml.")
        if run_command(command, runner) != 0:
            print("\n`sam deploy` failed: see above. Fix it and run `make deploy` again; nothing is lost.")
            return 1
        saved = read_samconfig(samconfig.path)
        if saved.exists:  # what the guided answers made of stack, region and parameters
            stack_name, chosen = saved.stack_name or stack_name, {**chosen, **saved.parameters}
            if saved.region and saved.region != region:
                region, aws = saved.region, Aws(saved.region, client_factory)
        final_prefix = effective_parameters(template, chosen)["SsmPrefix"]
        if final_prefix != prefix:  # changed at sam's prompt: the secrets go there too
            prefix = final_prefix
            results = ensure_generated_secrets(aws("ssm"), prefix)
            results.update(store_secrets(aws("ssm"), prefix, TWILIO_SECRETS, prompt, environ=environ))
            show_secrets(prefix, results)

    heading("6. The stack's URLs and the Slack app manifest")
    try:
        outputs = stack_outputs(aws("cloudformation"), stack_name)
    except Exception as error:  # noqa: BLE001 (any failure: say it in words)
        print(f"  Could not read stack {stack_name} in {region}: {reason(error)}")
        return 1
    base_url = public_base_url(outputs, effective_parameters(template, chosen))
    manifest = write_manifest(base_url, stack_name=stack_name, target=options.manifest_out)
    for name in ("ApiUrl", "TwilioWebhookUrl", "CacheUrl", "LiveUrl", "DashboardUrl", "AlarmTopicArn"):
        if name in outputs:
            print(f"  {name:17} {outputs[name]}")
    print(f"  Slack app manifest written: {manifest} (URLs: {base_url}/slack/…)")

    heading("7. The Slack app")
    results.update(slack_step(aws, prefix, stack_name, manifest, prompt, replace=options.replace_secrets,
                              environ=environ))

    heading("8. Twilio")
    say(twilio_notes(chosen.get("TwilioFromNumber", ""), outputs.get("TwilioWebhookUrl", f"{base_url}/sms/inbound")))

    heading("Done" if "missing" not in results.values() else "Still to do")
    missing = [parameter_name(prefix, name) for name, result in results.items() if result == "missing"]
    if missing:
        print(f"  Store {', '.join(missing)} (make deploy asks again), or "
              "`aws ssm put-parameter --type SecureString --name … --value …`.")
    if "CacheUrl" in outputs:
        print("  The web chat widget, for every page of the library's site (README, \"Web chat widget\"):\n"
              f"    {widget_tag(outputs['CacheUrl'], base_url, chosen.get('LibraryName', ''))}")
    print("  Later deploys: `make deploy` again (samconfig.toml keeps the answers).")
    return 0


def widget_tag(cache_url: str, api_url: str, library_name: str) -> str:
    """The README's widget tag with this stack's URLs."""
    name = f' data-library="{escape(library_name)}"' if library_name else ""
    return f'<script src="{cache_url.rstrip("/")}/widget.js" data-api="{api_url}"{name} async></script>'


def slack_step(aws, prefix: str, stack_name: str, manifest: Path, prompt: Prompter, *, replace: bool,
               environ=os.environ) -> dict[str, str]:
    """The order Slack needs: the app made from the manifest (Slack checks the Events URL at once,
    signed with the new app's secret, which RefDesk cannot have yet: that first check fails),
    then its signing secret and bot token stored, then Retry. Returns what store_secrets did."""
    ssm = aws("ssm")
    present = existing_secrets(ssm, prefix, SLACK_SECRETS)
    if set(SLACK_SECRETS) <= present and not replace:
        show(Check("ok", "Slack signing secret and bot token: already stored",
                   f"If the manifest changed, paste {manifest.name} in the app's settings → App Manifest. "
                   "To replace the secrets: make deploy DEPLOY_ARGS=--replace-secrets."))
        return {name: "kept" for name in SLACK_SECRETS}
    minutes = SECRET_CACHE_SECONDS // 60
    if not present:
        print(f"""  a. https://api.slack.com/apps → Create New App → From an app manifest → the library's workspace →
     paste {manifest} → Next → Create.
     Slack checks the Events URL at once, signed with the new app's signing secret, which RefDesk
     does not have yet: RefDesk refuses the request and Slack reports the URL did not answer the
     challenge. That is expected: you will retry once the secret is stored.""")
        prompt.pause("Once the app is created,")
    if prompt.interactive:
        print("  b. Basic Information → App Credentials → Signing Secret → Show, and paste it here.")
        results = store_secrets(ssm, prefix, SLACK_SECRETS[:1], prompt, replace=replace, environ=environ)
        print("  c. Install App → Install to Workspace → Allow; then OAuth & Permissions → Bot User OAuth Token.")
        results.update(store_secrets(ssm, prefix, SLACK_SECRETS[1:], prompt, replace=replace, environ=environ))
    else:
        results = store_secrets(ssm, prefix, SLACK_SECRETS, prompt, replace=replace, environ=environ)
    show_secrets(prefix, results)
    if "replaced" in results.values():
        print(f"  A secret replaced another: the functions keep a secret up to {minutes} minutes and the Slack "
              "client its token for an instance's life.")
        if prompt.confirm("Make every function read the new secrets now?", True):
            functions = refresh_functions(aws("cloudformation"), aws("lambda"), stack_name)
            print(f"  {len(functions)} functions refreshed.")
        else:
            print(f"  Wait {minutes} minutes (for a new bot token, refresh): make deploy "
                  "DEPLOY_ARGS=--refresh-functions")
    if results.get("slack_signing_secret") == "missing":
        print("  Until the signing secret is stored RefDesk refuses every Slack request, so Slack cannot verify "
              "the Events URL.\n  Store the signing secret and the bot token (`make deploy` asks for them; "
              "without questions: DEPLOY_SLACK_SIGNING_SECRET and DEPLOY_SLACK_BOT_TOKEN), then Event "
              "Subscriptions → Request URL → Retry.")
    else:
        print("  d. Event Subscriptions → Request URL → Retry: it shows Verified. Save Changes.\n"
              "  e. In the staff channel: /invite @RefDesk")
    return results


if __name__ == "__main__":
    sys.exit(main())
