"""Settings from one source (issue 16, item 10). Each setting is declared once, as a field of
refdesk.settings.Settings (its variable, type, default, doc, and where a deployed stack gets it:
a template.yaml parameter, STACK or LOCAL). template.yaml keeps each parameter's Default, as
CloudFormation needs it; these tests fail when the two disagree, when the template sets a
variable Settings does not know, or when a setting the docs name cannot be set in a deployment."""
from __future__ import annotations

import copy
import dataclasses
import re
import typing
from pathlib import Path

import pytest

from local import environment
from refdesk.settings import DECLARED, LOCAL, SECRETS, STACK, Settings
from tests.security.cfn import template

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
NOT_SETTINGS = re.compile(r"POWERTOOLS_[A-Z_]+")  # read by Powertools, not by Settings


def template_environment(data: dict) -> dict[str, list]:
    """Each variable the template sets (Globals' and every function's) -> the values it is set to."""
    found: dict[str, list] = {}
    blocks = [data.get("Globals", {}).get("Function", {})]
    blocks += [resource.get("Properties", {}) for resource in data["Resources"].values()
               if resource.get("Type") in FUNCTION_TYPES]
    for block in blocks:
        for name, value in ((block.get("Environment") or {}).get("Variables") or {}).items():
            found.setdefault(name, []).append(value)
    return found


def feeding_parameters(data: dict, values: list) -> set[str]:
    return {value["Ref"] for value in values
            if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in data.get("Parameters", {})}


def documented_variables(docs: str) -> set[str]:
    """The settings the docs name as `VARIABLE`."""
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)(?:=[^`]*)?`", docs)) & set(DECLARED)


def disagreements(data: dict, docs: str) -> list[str]:
    """Every way template.yaml (as data), the docs and Settings disagree, in words."""
    problems = []
    parameters = data.get("Parameters", {})
    environment_ = template_environment(data)
    unset = Settings.from_env({})
    for variable, values in sorted(environment_.items()):
        if NOT_SETTINGS.fullmatch(variable):
            continue
        if variable in {env for env, _ in SECRETS.values()}:
            problems.append(f"template.yaml puts the secret {variable} in the environment (SSM holds it)")
            continue
        declared = DECLARED.get(variable)
        if declared is None:
            problems.append(f"template.yaml sets {variable}, which refdesk.settings does not declare")
            continue
        source = declared.metadata["source"]
        fed_by = feeding_parameters(data, values)
        if source == LOCAL:
            problems.append(f"template.yaml sets {variable}, declared local-only")
        elif source == STACK:
            if fed_by:
                problems.append(f"{variable} is declared STACK but template.yaml sets it from {sorted(fed_by)}")
        elif fed_by != {source}:
            problems.append(f"{variable} is declared to come from parameter {source}, but template.yaml sets it "
                            f"from {sorted(fed_by) or 'no parameter'}")
        for parameter in sorted(fed_by):
            if "Default" not in parameters[parameter]:
                continue  # required: asked at deployment (the settings default serves the tests)
            default = str(parameters[parameter]["Default"])
            means = getattr(Settings.from_env({variable: default}), declared.name)
            if means != getattr(unset, declared.name):
                problems.append(f"{parameter}'s Default {default!r} means {means!r} for {variable}, but "
                                f"refdesk.settings' default is {getattr(unset, declared.name)!r}")
    for variable, declared in sorted(DECLARED.items()):
        source = declared.metadata["source"]
        if source == STACK and variable not in environment_:
            problems.append(f"{variable} is declared STACK, but template.yaml does not set it")
        elif source not in (STACK, LOCAL):
            if source not in parameters:
                problems.append(f"{variable} is declared to come from parameter {source}, which template.yaml "
                                "does not have")
            elif variable not in environment_:
                problems.append(f"template.yaml has parameter {source} but sets no {variable} from it")
    for variable in sorted(documented_variables(docs)):
        source = DECLARED[variable].metadata["source"]
        if source == STACK:
            problems.append(f"the docs name {variable}, but no template.yaml parameter sets it "
                            "(declare it local-only or add a parameter)")
        elif source != LOCAL and f"`{source}`" not in docs:
            problems.append(f"the docs name {variable}, but not its parameter `{source}`")
    for declared in DECLARED.values():
        source = declared.metadata["source"]
        if source not in (STACK, LOCAL) and source in parameters and f"`{source}`" not in docs:
            problems.append(f"parameter {source} ({declared.metadata['env']}) is not documented in README.md "
                            "or docs/")
    return problems


def read_docs() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in DOCS)


# --- the real template and docs -------------------------------------------------------------

def test_template_settings_and_docs_agree():
    assert disagreements(template(), read_docs()) == []


def test_every_setting_is_typed_and_its_default_has_that_type():
    hints = typing.get_type_hints(Settings)
    for variable, declared in DECLARED.items():
        kind = typing.get_origin(hints[declared.name]) or hints[declared.name]
        assert isinstance(declared.metadata["default"], kind), f"{variable}: default is not a {kind.__name__}"
        assert declared.metadata["doc"], f"{variable} has no doc"
        assert declared.metadata["source"] in (STACK, LOCAL) or re.fullmatch(r"[A-Z][A-Za-z0-9]+",
                                                                             declared.metadata["source"])
    assert len(DECLARED) == len(dataclasses.fields(Settings)), "a field without setting() (or two on one variable)"


def test_the_local_stack_sets_known_settings_and_template_parameters_only():
    local = environment.local_values(3000)
    known = set(DECLARED) | {env for env, _ in SECRETS.values()}
    assert set(local) - known == set()
    assert set(environment.LOCAL_PARAMETER_VALUES) <= set(template()["Parameters"])


def test_the_local_only_settings_are_the_ones_named_local():
    """Never deployed: the stand-ins' URLs and the pacing the local stack and the tests shorten."""
    local_only = {variable for variable, declared in DECLARED.items() if declared.metadata["source"] == LOCAL}
    assert local_only == {"SLACK_API_URL", "TWILIO_API_URL", "RETRY_DELAY_SCALE", "SWEEP_DELAY_SCALE",
                          "JOBS_RECEIVE_WAIT_SECONDS", "RETRY_HORIZON_HOURS"}


# --- the check itself catches each kind of disagreement -------------------------------------

def _edited(edit) -> list[str]:
    data = copy.deepcopy(template())
    docs = read_docs()
    edited = edit(data, docs)
    return disagreements(data, edited if isinstance(edited, str) else docs)


def _set_default(name, value):
    def edit(data, docs):
        data["Parameters"][name]["Default"] = value
    return edit


def _globals(data) -> dict:
    return data["Globals"]["Function"]["Environment"]["Variables"]


@pytest.mark.parametrize(("edit", "expected"), [
    (_set_default("NudgeMinutes", 5), "NudgeMinutes's Default '5'"),
    (_set_default("OpeningHours", '{"mon":"10:00-17:00"}'), "OpeningHours's Default"),
    (_set_default("SendContactCard", "false"), "SendContactCard's Default 'false'"),
    (_set_default("SmsAckText", ""), "SmsAckText's Default ''"),
    (lambda data, docs: _globals(data).update(SOMETHING_NEW={"Ref": "ReplyFormat"}),
     "sets SOMETHING_NEW, which refdesk.settings does not declare"),
    (lambda data, docs: _globals(data).update(RETRY_DELAY_SCALE="0"), "sets RETRY_DELAY_SCALE, declared local-only"),
    (lambda data, docs: _globals(data).update(SLACK_BOT_TOKEN="xoxb"), "the secret SLACK_BOT_TOKEN"),
    (lambda data, docs: _globals(data).pop("DEPARTMENT_REPLY_FORMAT"), "sets no DEPARTMENT_REPLY_FORMAT"),
    (lambda data, docs: data["Parameters"].pop("TermStarts"), "parameter TermStarts, which template.yaml"),
    (lambda data, docs: _globals(data).update(TABLE_NAME={"Ref": "SsmPrefix"}), "TABLE_NAME is declared STACK"),
    (lambda data, docs: docs + "\nSet `LIVE_URL` to …\n", "the docs name LIVE_URL"),
    (lambda data, docs: docs.replace("`TermStarts`", "TermStarts"), "TermStarts"),
])
def test_the_check_finds_each_kind_of_disagreement(edit, expected):
    found = _edited(edit)
    assert any(expected in problem for problem in found), found
