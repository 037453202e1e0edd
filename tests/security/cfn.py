"""template.yaml as plain data, for the security tests: short intrinsic tags (!Ref, !GetAtt, !Sub ...)
are read as their long forms ({"Ref": ...}, {"Fn::GetAtt": [...]}, ...)."""
from __future__ import annotations

from functools import cache
from pathlib import Path

from local.environment import LOCAL_PARAMETER_VALUES
from local.template import Template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"


@cache
def template() -> dict:
    """Read with the local stack's own loader (a yaml.SafeLoader that knows the short tags)."""
    return Template(TEMPLATE_PATH, LOCAL_PARAMETER_VALUES).data


def resources(*types: str) -> dict[str, dict]:
    """Logical id -> the whole resource (Type, Properties, Metadata ...) of the given types."""
    return {name: resource for name, resource in template()["Resources"].items() if resource["Type"] in types}


def functions() -> dict[str, dict]:
    return resources("AWS::Serverless::Function", "AWS::Lambda::Function")


def function_setting(function: dict, key: str):
    """A function's property, falling back to Globals.Function as SAM does."""
    properties = function.get("Properties", {})
    if key in properties:
        return properties[key]
    if function["Type"] == "AWS::Serverless::Function":
        return template().get("Globals", {}).get("Function", {}).get(key)
    return None


def ref(value) -> str | None:
    """The logical id or parameter a {"Ref": X} names, else None."""
    return value.get("Ref") if isinstance(value, dict) and len(value) == 1 else None


def get_att(value) -> tuple[str, str] | None:
    """(logical id, attribute) of a {"Fn::GetAtt": [X, Y]}, else None."""
    if isinstance(value, dict) and len(value) == 1 and "Fn::GetAtt" in value:
        name, attribute = value["Fn::GetAtt"]
        return name, attribute
    return None


# The template as CloudFormation deploys it with given parameter values

def parameter_values(**overrides) -> dict[str, str]:
    """Every parameter's value: its Default, else the local stack's value (the parameters without a
    default), then the overrides. As CloudFormation passes them: strings."""
    values = {name: spec["Default"] for name, spec in template()["Parameters"].items() if "Default" in spec}
    values |= {name: value for name, value in LOCAL_PARAMETER_VALUES.items() if name not in values}
    values |= overrides
    return {name: str(value) for name, value in values.items()}


def deployed(**overrides) -> dict:
    """The template with its conditions decided for these parameter values (defaults otherwise):
    resources and outputs whose Condition is false are left out, each Fn::If is replaced by the
    branch taken, and AWS::NoValue properties and list items are dropped. Other intrinsics stay."""
    data = template()
    values = parameter_values(**overrides)
    conditions: dict[str, bool] = {}

    def condition(name: str) -> bool:
        if name not in conditions:
            conditions[name] = bool(evaluate(data["Conditions"][name]))
        return conditions[name]

    def evaluate(value):
        if isinstance(value, dict) and len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref" and argument in values:
                return values[argument]
            if key == "Condition":
                return condition(argument)
            if key == "Fn::Equals":
                left, right = (evaluate(item) for item in argument)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not evaluate(argument[0])
            if key == "Fn::And":
                return all(evaluate(item) for item in argument)
            if key == "Fn::Or":
                return any(evaluate(item) for item in argument)
        return value

    def resolve(value):
        if isinstance(value, list):
            return [item for item in (resolve(item) for item in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if value == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if len(value) == 1 and "Fn::If" in value:
            name, when_true, when_false = value["Fn::If"]
            return resolve(when_true if condition(name) else when_false)
        resolved = {key: resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    kept = {}
    for section in ("Resources", "Outputs"):
        kept[section] = {name: resolve(entry) for name, entry in data.get(section, {}).items()
                         if "Condition" not in entry or condition(entry["Condition"])}
    return {**data, **kept, "Globals": resolve(data.get("Globals", {})), "Parameters": data["Parameters"]}


_NO_VALUE = object()


def deployed_resources(data: dict, *types: str) -> dict[str, dict]:
    """Logical id -> resource, of the given types, in a deployed() template."""
    return {name: resource for name, resource in data["Resources"].items() if resource["Type"] in types}


def deployed_setting(data: dict, function: dict, key: str):
    """function_setting for a deployed() template."""
    properties = function.get("Properties", {})
    if key in properties:
        return properties[key]
    if function["Type"] == "AWS::Serverless::Function":
        return data.get("Globals", {}).get("Function", {}).get(key)
    return None
