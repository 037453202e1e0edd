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
