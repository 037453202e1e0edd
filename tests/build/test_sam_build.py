"""The deployable artifact: the template lints, `sam build` (no container) succeeds, the built
functions import and handle an event with nothing but the layer and Lambda's own boto3, every
function with its layers unzips well under Lambda's 250 MB limit, and the arm64 build carries no
x86_64 binaries."""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
# What the Lambda Python runtime provides besides the standard library.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "dateutil", "six.py", "jmespath", "urllib3")
HOST_ARCHITECTURE = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
# Lambda refuses a function whose code and layers unzip to over 250 MB; 50 MiB short of it, a
# dependency that grows (or a chart library added back) fails here, not at deploy time.
UNZIPPED_LIMIT = 200 * 1024 * 1024
MIB = 1024 * 1024


def sam(*args: str, cwd: Path = ROOT) -> subprocess.Popen:
    """The sam CLI started (its output is read when it ends): builds run side by side."""
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    sam_cli = shutil.which("sam", path=env["PATH"])
    assert sam_cli, "sam CLI not installed (make venv installs aws-sam-cli)"
    return subprocess.Popen([sam_cli, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finished(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, Path]:
    """Both architectures' builds, started at once (mostly waiting on pip): {architecture: build dir}."""
    started = {}
    for architecture in {HOST_ARCHITECTURE, "arm64"}:
        build_dir = tmp_path_factory.mktemp(f"sam-{architecture}")
        started[architecture] = (build_dir, sam("build", "--build-dir", str(build_dir), "--parameter-overrides",
                                                f"Architecture={architecture}"))
    for _, process in started.values():
        finished(process)
    return {architecture: build_dir for architecture, (build_dir, _) in started.items()}


def test_template_passes_sam_validate_lint():
    finished(sam("validate", "--lint"))


@pytest.fixture(scope="module")
def host_build(builds) -> Path:
    return builds[HOST_ARCHITECTURE]


def lambda_runtime_dir(tmp_path: Path) -> Path:
    """A folder holding only what Lambda's runtime adds to sys.path (boto3 and its deps)."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    site = Path(__import__("boto3").__file__).parents[1]
    for name in RUNTIME_PACKAGES:
        if (site / name).exists():
            (runtime / name).symlink_to(site / name)
    return runtime


INVOKE = textwrap.dedent("""
    import base64, json, sys, time, importlib.util
    from slack_sdk.signature import SignatureVerifier
    import twilio.rest, slack_sdk.web  # the dispatcher's lazy imports must be in the layer too

    def load(folder):
        spec = importlib.util.spec_from_file_location("app_" + folder.split("/")[-1], folder + "/app.py")
        module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); return module

    class Context:
        function_name = "f"; function_version = "1"; memory_limit_in_mb = 256; aws_request_id = "r"
        invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:f"
        def get_remaining_time_in_millis(self): return 3000

    build = sys.argv[1]
    body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"})
    ts = str(int(time.time()))
    signature = SignatureVerifier("secret").generate_signature(timestamp=ts, body=body)
    event = {"rawPath": "/slack/events", "headers": {"content-type": "application/json",
             "x-slack-request-timestamp": ts, "x-slack-signature": signature},
             "requestContext": {"http": {"method": "POST"}}, "body": body, "isBase64Encoded": False}
    answers = {"slack": load(build + "/SlackEventsFunction").handler(event, Context())}
    form = base64.b64encode(b"MessageSid=SM00000000000000000000000000000000&From=%2B15551234567&Body=hi").decode()
    event = {"rawPath": "/sms/inbound", "headers": {"content-type": "application/x-www-form-urlencoded",
             "x-twilio-signature": "forged"}, "requestContext": {"http": {"method": "POST"}},
             "body": form, "isBase64Encoded": True}
    answers["sms"] = load(build + "/SmsInboundFunction").handler(event, Context())
    load(build + "/DispatcherFunction"); load(build + "/WebChatFunction"); load(build + "/SlackCommandsFunction")
    ping = {"requestContext": {"eventType": "MESSAGE", "routeKey": "ping", "connectionId": "c1="},
            "body": '{"type":"ping"}', "isBase64Encoded": False}
    answers["live"] = load(build + "/LiveFunction").handler(ping, Context())
    print(json.dumps({name: [answer["statusCode"], answer["body"]] for name, answer in answers.items()}))
""")


def test_built_functions_import_and_handle_events_with_only_the_layer(host_build, tmp_path):
    layer = host_build / "RefdeskLayer" / "python"
    assert (layer / "refdesk" / "conversations.py").exists(), "the refdesk package is missing from the layer"
    script = tmp_path / "invoke.py"
    script.write_text(INVOKE)
    # No __pycache__ written into the build: the size test measures it as sam built it.
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{layer}:{lambda_runtime_dir(tmp_path)}",
           "PYTHONDONTWRITEBYTECODE": "1", "SLACK_SIGNING_SECRET": "secret", "TWILIO_AUTH_TOKEN": "token", "AWS_DEFAULT_REGION": "us-east-1",
           "PUBLIC_BASE_URL": "https://refdesk.example.org", "TABLE_NAME": "t", "JOBS_QUEUE_URL": "q"}
    # -S: no site-packages at all, so only the layer and the runtime folder can satisfy imports.
    result = subprocess.run([sys.executable, "-S", str(script), str(host_build)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["slack"] == [200, json.dumps({"challenge": "c-123"}, separators=(",", ":"))]
    assert answers["sms"][0] == 403
    assert answers["live"] == [200, '{"type":"pong"}']


def test_arm64_build_holds_only_aarch64_or_pure_python_binaries(builds):
    built = builds["arm64"]
    # Only the layer installs wheels; the reports function draws its SVG charts with no package.
    layer = built / "RefdeskLayer" / "python"
    wheel_tags = [line.split(":", 1)[1].strip() for wheel in layer.glob("*.dist-info/WHEEL")
                  for line in wheel.read_text().splitlines() if line.startswith("Tag:")]
    assert wheel_tags, "no wheels found in the layer"
    wrong = [tag for tag in wheel_tags if not (tag.endswith("-any") or "aarch64" in tag)]
    assert not wrong, f"non-arm64 wheels in the arm64 layer: {wrong}"
    for shared_object in layer.rglob("*.so"):
        machine = int.from_bytes(shared_object.read_bytes()[18:20], "little")
        assert machine == 0xB7, f"{shared_object.name} is not an aarch64 ELF (e_machine {machine:#x})"
    reports = built / "ReportsFunction"
    assert not list(reports.glob("*.dist-info")) and not list(reports.rglob("*.so")), "a package in ReportsFunction"


REPORT = textwrap.dedent("""
    import importlib.util, json, sys
    from datetime import date
    build = sys.argv[1]
    sys.path.insert(0, build + "/ReportsFunction")  # Lambda runs the function from its own folder
    spec = importlib.util.spec_from_file_location("app_reports", build + "/ReportsFunction/app.py")
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    from refdesk import reports
    from refdesk.store.stats import DailyStats
    of = reports.Period("7d", date(2026, 3, 4), date(2026, 3, 10))
    figures = reports.summarize([DailyStats(day=date(2026, 3, 5), conversations={"sms": 3}, read={2: 1},
                                            hour_of_week={57: 3})], of)
    print(json.dumps(module.report_charts.charts(figures)))
""")


def test_built_reports_function_draws_its_svg_charts_with_nothing_but_the_layer(host_build, tmp_path):
    """No chart library: not in the function (it has no requirements.txt), not in the layer."""
    built = host_build / "ReportsFunction"
    assert (built / "report_charts.py").is_file() and not (built / "requirements.txt").exists()
    for where in (built, host_build / "RefdeskLayer" / "python"):
        assert not [path.name for path in where.iterdir() if path.name.lower() in ("matplotlib", "numpy", "pil")]
    script = tmp_path / "report.py"
    script.write_text(REPORT)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{host_build / 'RefdeskLayer' / 'python'}:"
           f"{lambda_runtime_dir(tmp_path)}", "AWS_DEFAULT_REGION": "us-east-1", "TABLE_NAME": "t",
           "PYTHONDONTWRITEBYTECODE": "1"}  # the build stays as sam made it, for the size test
    result = subprocess.run([sys.executable, "-S", str(script), str(host_build)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    charts = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(charts) == ["volume", "hours", "read"]
    for svg in charts.values():
        root = ET.fromstring(svg)
        assert root.get("role") == "img" and root.find("{http://www.w3.org/2000/svg}title") is not None
    bars = ET.fromstring(charts["volume"]).iter("{http://www.w3.org/2000/svg}rect")
    assert [(bar.get("data-day"), bar.get("data-value")) for bar in bars if bar.get("data-channel") == "sms"] == [
        ("2026-03-05", "3")]


class _CloudFormationLoader(yaml.SafeLoader):
    """The built template's short tags (!Ref ...) as their long forms."""


def _short_tag(loader, suffix, node):
    value = loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else loader.construct_object(node, True)
    return {suffix if suffix == "Ref" else f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _short_tag)


def unzipped_bytes(folder: Path) -> int:
    """What the folder's zip unzips to: every file's size (a symlink counted as what it points to)."""
    return sum((Path(root) / name).stat().st_size for root, _, names in os.walk(folder) for name in names)


def test_every_function_with_its_layers_unzips_under_200_mib(host_build):
    """Lambda's limit is 250 MB, code and layers together; this one leaves room to grow."""
    template = yaml.load((host_build / "template.yaml").read_text(), Loader=_CloudFormationLoader)
    resources = template["Resources"]
    default_layers = template.get("Globals", {}).get("Function", {}).get("Layers", [])
    sizes, layer_sizes = {}, {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        code = host_build / properties["CodeUri"]
        assert code.resolve().is_relative_to(host_build.resolve()) and code.is_dir(), f"{name} was not built"
        total = unzipped_bytes(code)
        for layer in properties.get("Layers", default_layers):
            assert isinstance(layer, dict) and "Ref" in layer, f"{name}: {layer} is not a layer of this template"
            if layer["Ref"] not in layer_sizes:
                content = host_build / resources[layer["Ref"]]["Properties"]["ContentUri"]
                layer_sizes[layer["Ref"]] = unzipped_bytes(content)
            total += layer_sizes[layer["Ref"]]
        sizes[name] = total
    assert len(sizes) >= 8 and "ReportsFunction" in sizes and layer_sizes
    table = "\n".join(f"  {name:<28} {size / MIB:7.1f} MiB"
                      for name, size in sorted(sizes.items(), key=lambda item: -item[1]))
    layers = ", ".join(f"{name} {size / MIB:.1f} MiB" for name, size in layer_sizes.items())
    print(f"\nunzipped, each function with its layers (limit {UNZIPPED_LIMIT // MIB} MiB; {layers}):\n{table}")
    over = {name: size for name, size in sizes.items() if size > UNZIPPED_LIMIT}
    assert not over, f"over {UNZIPPED_LIMIT // MIB} MiB unzipped:\n{table}"
