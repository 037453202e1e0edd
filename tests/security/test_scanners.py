"""Static security scanners, run as tests: cfn-lint (informational rules included) and checkov on
template.yaml, bandit on the code that is deployed or runs the local stack. A suppression lives next
to what it suppresses, with its reason: checkov's in the template's resource Metadata, bandit's as
an inline `# nosec BXXX - why`. docs/OPERATIONS.md lists them."""
from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.security.cfn import ROOT, TEMPLATE_PATH, deployed

TOOLS_VENV = ROOT / ".venv-tools"
BIN = Path(sys.executable).parent
BANDIT_PATHS = ("layers", "functions", "local")


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, **kwargs)


def test_cfn_lint_finds_nothing_not_even_informational():
    result = run([str(BIN / "cfn-lint"), "--include-checks", "I", "--", str(TEMPLATE_PATH)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_passes_and_every_suppression_is_in_use():
    checkov = TOOLS_VENV / "bin" / "checkov"
    assert checkov.exists(), "checkov is not installed: `make tools` (which `make test` runs) installs it"
    # --skip-download: nothing is fetched from Prisma Cloud (without it checkov tries to, and logs
    # a traceback when it cannot).
    result = run([str(checkov), "--file", str(TEMPLATE_PATH), "--framework", "cloudformation",
                  "--skip-download", "--output", "json"])
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0
    failed = [f"{check['check_id']} {check['resource']}: {check['check_name']}"
              for check in report["results"]["failed_checks"]]
    assert not failed, "\n".join(failed)
    assert report["summary"]["passed"] > 0
    # A skip that checkov never applied is a typo or stale: the check no longer concerns the resource.
    # checkov decides the template's conditions with the default parameters and leaves out the
    # resources they turn off (LiveAccessLogGroup without ApiGatewayAccountLogging): not theirs.
    applied = {(check["resource"].split(".", 1)[1], check["check_id"]) for check in report["results"]["skipped_checks"]}
    declared = {(name, skip["id"]) for name, resource in deployed()["Resources"].items()
                for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])}
    assert declared <= applied, f"suppressions checkov did not use: {sorted(declared - applied)}"


def _loader_is_safe(finding: dict) -> bool:
    """B506 (yaml.load) is a false positive when the Loader passed is a yaml.SafeLoader subclass,
    as local/template.py's loader for CloudFormation's short tags is. Checked by importing it."""
    path = Path(finding["filename"])
    tree = ast.parse((ROOT / path).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.lineno == finding["line_number"]:
            loader = next((keyword.value for keyword in node.keywords if keyword.arg == "Loader"), None)
            if isinstance(loader, ast.Name) and path.parts[0] == "local":
                module = importlib.import_module(".".join(path.with_suffix("").parts))
                candidate = getattr(module, loader.id, None)
                return isinstance(candidate, type) and issubclass(candidate, yaml.SafeLoader)
    return False


# Findings accepted without an inline nosec because a test proves them false positives.
PROVEN_FALSE_POSITIVES = {"B506": _loader_is_safe}


def test_bandit_finds_no_medium_or_high_issue():
    """Medium severity and up, any confidence. Low findings (placeholder secrets of the local stack,
    xml.sax.saxutils.escape flagged as an XML parser) are not reported."""
    result = run([str(BIN / "bandit"), "--recursive", *BANDIT_PATHS, "--severity-level", "medium",
                  "--format", "json", "--quiet"])
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert not report["errors"], report["errors"]
    assert report["metrics"]["_totals"]["loc"] > 1000, "bandit scanned almost nothing"
    findings = [finding for finding in report["results"]
                if not PROVEN_FALSE_POSITIVES.get(finding["test_id"], lambda _: False)(finding)]
    assert not findings, "\n".join(f"{finding['filename']}:{finding['line_number']} {finding['test_id']} "
                                   f"{finding['issue_text']}" for finding in findings)
