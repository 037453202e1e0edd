"""E-mailed replies: only the dispatcher may send, only with ses:SendEmail, and only as the
library's SES identity (SesSenderIdentity), a parameter that cannot be given a wildcard."""
from __future__ import annotations

import re

from tests.security.cfn import functions, resources, template

IDENTITY_ARN = {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SesSenderIdentity}"}
# SendEmail under a configuration set is authorised on the set too (its bounces: refdesk.delivery_status)
CONFIGURATION_SET_ARN = {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/"
                                    "${DeliveryEventsConfigurationSet}"}


def _statements(policies) -> list[dict]:
    return [statement for policy in policies or [] for statement in
            (policy.get("PolicyDocument", policy).get("Statement", []) if isinstance(policy, dict) else [])]


def _ses_statements() -> dict[str, list[dict]]:
    found = {}
    for name, role in resources("AWS::IAM::Role").items():
        found[name] = _statements(role["Properties"].get("Policies"))
    for name, function in functions().items():
        found[name] = _statements(function.get("Properties", {}).get("Policies"))
    return {name: [s for s in statements if any(str(a).lower().startswith("ses:") for a in _listed(s["Action"]))]
            for name, statements in found.items()}


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def test_only_the_dispatcher_sends_email_and_only_as_the_library_identity():
    granted = {name: statements for name, statements in _ses_statements().items() if statements}
    assert list(granted) == ["DispatcherRole"], granted
    [statement] = granted["DispatcherRole"]
    assert statement["Effect"] == "Allow" and not statement.get("Condition")
    assert _listed(statement["Action"]) == ["ses:SendEmail"]  # SES API v2 SendEmail; no SendRawEmail
    assert _listed(statement["Resource"]) == [IDENTITY_ARN, CONFIGURATION_SET_ARN]


def test_the_identity_parameter_admits_an_address_or_a_domain_and_no_wildcard():
    parameter = template()["Parameters"]["SesSenderIdentity"]
    assert "Default" not in parameter  # every stack names its sender
    pattern = parameter["AllowedPattern"]
    for good in ("askus@library.example.edu", "library.example.edu", "mail.library.example.edu"):
        assert re.fullmatch(pattern, good), good
    for bad in ("*", "*.example.edu", "askus@*", "", "library", "a b@example.edu", "*@example.edu"):
        assert not re.fullmatch(pattern, bad), bad


def test_the_dispatcher_is_told_the_identity_and_no_other_function_is():
    for name, function in functions().items():
        variables = function.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if name == "DispatcherFunction":
            assert variables["SES_SENDER_IDENTITY"] == {"Ref": "SesSenderIdentity"}
            assert variables["SES_FROM_ADDRESS"] == {"Ref": "SesFromAddress"}
        else:
            assert "SES_SENDER_IDENTITY" not in variables, name
    assert "SES_SENDER_IDENTITY" not in template()["Globals"]["Function"]["Environment"]["Variables"]
