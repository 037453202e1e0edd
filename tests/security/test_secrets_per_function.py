"""Each function may read only the secrets it uses: ssm:GetParameter on exactly its parameters
under SsmPrefix, never a wildcard. The table below is the review: a function that needs another
secret changes it here and in template.yaml together; a widened policy fails."""
from __future__ import annotations

import re

from tests.security.cfn import get_att, resources

# Function -> the SSM parameters (under SsmPrefix) it reads, and why.
EXPECTED = {
    # Twilio's request signature (refdesk.signatures); the patron's keyed hash (refdesk.identity).
    "SmsInboundFunction": {"twilio-auth-token", "patron-id-key"},
    # Slack's request signature; a Slack Connect patron's keyed hash.
    "SlackEventsFunction": {"slack-signing-secret", "patron-id-key"},
    # Slack's request signature; views.open for the Invite modal (the one Slack call of a webhook);
    # a Slack Connect patron's keyed hash.
    "SlackInteractionsFunction": {"slack-signing-secret", "slack-bot-token", "patron-id-key"},
    # Slack's request signature; stats and reveals are queued for the reports function.
    "SlackCommandsFunction": {"slack-signing-secret"},
    # The web patron's and the source IP's keyed hashes (sessions, rate limits).
    "WebChatFunction": {"patron-id-key"},
    # Presence, widget.js and the contact card: public answers from the table and the environment.
    "PresenceFunction": set(),
    # The live connection checks the session token's plain hash: no key.
    "LiveFunction": set(),
    # Every Slack and Twilio call (the clients), Twilio's media downloads, patrons' keyed hashes.
    "DispatcherFunction": {"slack-bot-token", "twilio-account-sid", "twilio-auth-token", "patron-id-key"},
    # Reads the waiting queue and queues nudges: no secret.
    "SweeperFunction": set(),
    # Posts the figures and charts (Slack client); signs and checks the report links.
    "ReportsFunction": {"slack-bot-token", "report-link-key"},
}

PARAMETER_ARN = re.compile(r"arn:\$\{AWS::Partition\}:ssm:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
                           r"parameter\$\{SsmPrefix\}/([a-z0-9-]+)")


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _statements(function: dict) -> list[dict]:
    """The function's own statements: inline Policies, or those of the role it names."""
    properties = function["Properties"]
    role = get_att(properties.get("Role"))
    if role:
        policies = resources("AWS::IAM::Role")[role[0]]["Properties"].get("Policies", [])
        return [statement for policy in policies for statement in policy["PolicyDocument"]["Statement"]]
    return [statement for policy in properties.get("Policies", []) for statement in policy.get("Statement", [])]


def _readable_parameters(function: dict) -> set[str]:
    found = set()
    for statement in _statements(function):
        actions = [str(action).lower() for action in _listed(statement.get("Action", []))]
        if not any(action.startswith("ssm:") for action in actions):
            continue
        assert statement["Effect"] == "Allow" and not statement.get("Condition"), statement
        assert actions == ["ssm:getparameter"], f"only ssm:GetParameter, one parameter at a time: {actions}"
        for resource in _listed(statement["Resource"]):
            text = resource.get("Fn::Sub") if isinstance(resource, dict) else resource
            match = PARAMETER_ARN.fullmatch(text) if isinstance(text, str) else None
            assert match, f"not one named parameter under SsmPrefix: {resource!r}"
            found.add(match[1])
    return found


def test_each_function_may_read_exactly_the_secrets_it_uses():
    functions = resources("AWS::Serverless::Function")
    assert set(functions) == set(EXPECTED), "a function was added or renamed: list the secrets it reads"
    granted = {name: _readable_parameters(function) for name, function in functions.items()}
    assert granted == EXPECTED


def test_the_table_names_only_secrets_the_layer_knows_and_every_one_of_them():
    from refdesk.settings import SECRETS

    parameters = {parameter for _, parameter in SECRETS.values()}
    used = set().union(*EXPECTED.values())
    assert used <= parameters, f"unknown secrets: {used - parameters}"
    assert used == parameters, f"secrets no function may read: {parameters - used}"


def test_no_other_resource_grants_ssm_access():
    """Only the functions' own statements and roles: no other role or policy may read secrets."""
    roles_of_functions = {get_att(function["Properties"].get("Role"))[0]
                          for function in resources("AWS::Serverless::Function").values()
                          if get_att(function["Properties"].get("Role"))}
    for name, role in resources("AWS::IAM::Role").items():
        if name in roles_of_functions:
            continue
        statements = [statement for policy in role["Properties"].get("Policies", [])
                      for statement in policy["PolicyDocument"]["Statement"]]
        assert not [statement for statement in statements if "ssm:" in str(statement.get("Action")).lower()], name
    for name, policy in resources("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy").items():
        assert "ssm:" not in str(policy["Properties"]["PolicyDocument"]).lower(), name
