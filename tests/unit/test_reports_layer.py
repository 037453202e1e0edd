"""No function and not the shared layer loads a chart library (the reports function writes its
charts as SVG itself: cold starts and the unzipped size stay small), and refdesk.reports' period,
median and link rules, without AWS."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from datetime import date

import pytest

from tests.conftest import ROOT, _functions

HEAVY = ("matplotlib", "numpy", "PIL", "contourpy", "kiwisolver", "fontTools", "plotly", "pygal", "bokeh",
         "altair", "pandas", "cairo", "cairosvg")

IMPORT_ALL = textwrap.dedent("""
    import importlib.util, json, sys
    sys.path.insert(0, sys.argv[1])
    for folder in sys.argv[2:]:
        sys.path.insert(0, folder)  # as Lambda runs a function: its own folder first (report_charts, ...)
        spec = importlib.util.spec_from_file_location("app_" + folder.rsplit("/", 1)[-1], folder + "/app.py")
        module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    import refdesk, refdesk.reports, refdesk.slack.commands  # the stats command's side, too
    import pkgutil
    for info in pkgutil.walk_packages(refdesk.__path__, "refdesk."):
        importlib.import_module(info.name)
    print(json.dumps(sorted(name for name in sys.modules)))
""")


def test_every_function_and_the_whole_layer_import_no_chart_library(tmp_path):
    folders = [str(function.code_dir) for function in _functions().values()]
    assert len(folders) >= 8 and any(folder.endswith("/reports") for folder in folders)
    script = tmp_path / "imports.py"
    script.write_text(IMPORT_ALL)
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "refdesk",
           "TABLE_NAME": "t", "JOBS_QUEUE_URL": "q"}
    result = subprocess.run([sys.executable, str(script), str(ROOT / "layers" / "refdesk"), *folders], env=env,
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert "refdesk.reports" in loaded and "refdesk.store.stats" in loaded  # the check saw the layer
    assert "report_charts" in loaded and "report_page" in loaded  # ... and the reports function
    assert not [name for name in loaded if name.split(".")[0] in HEAVY]


def test_no_chart_library_is_a_dependency():
    """The charts are SVG written by functions/reports/report_charts.py: a chart library would be
    the function's own requirements.txt, and must then fit tests/build's size limit."""
    requirements = [ROOT / "layers" / "refdesk" / "requirements.txt", ROOT / "requirements-dev.txt",
                    *(ROOT / "functions").glob("*/requirements.txt")]
    for path in requirements:
        named = {re.split(r"[=<>~!\[; ]", line.strip(), maxsplit=1)[0].lower()
                 for line in path.read_text().splitlines() if line.strip() and not line.startswith(("#", "-"))}
        assert not named & {"matplotlib", "numpy", "pillow", "plotly", "pandas"}, path


@pytest.fixture
def settings(monkeypatch):
    from refdesk.settings import get_settings

    monkeypatch.setenv("REPORT_LINK_KEY", "unit-key")
    monkeypatch.setenv("TERM_STARTS", "01-10,08-25")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_periods_end_today_and_a_term_starts_at_its_configured_day(settings):
    from refdesk import reports

    assert reports.period("7d", date(2026, 3, 10)) == reports.Period("7d", date(2026, 3, 4), date(2026, 3, 10))
    assert reports.period("", date(2026, 3, 10)).start == date(2026, 2, 9)  # 30 days by default
    assert reports.period("term", date(2026, 3, 10)).start == date(2026, 1, 10)
    assert reports.period("term", date(2026, 1, 5)).start == date(2025, 8, 25)  # still last year's autumn term
    assert reports.previous_month(date(2026, 3, 1)) == reports.Period("2026-02", date(2026, 2, 1), date(2026, 2, 28))
    assert reports.month("2024-02").end == date(2024, 2, 29)
    with pytest.raises(ValueError):
        reports.period("fortnight", date(2026, 3, 10))


@pytest.mark.parametrize("words, start, end", [
    ("2026-01-05 2026-03-10", date(2026, 1, 5), date(2026, 3, 10)),
    ("2026-03-10   to 2026-03-10", date(2026, 3, 10), date(2026, 3, 10)),
])
def test_any_date_range_ending_by_today_is_a_period(settings, words, start, end):
    from refdesk import reports

    of = reports.period(words, date(2026, 3, 10))
    assert (of.start, of.end) == (start, end) and of.name == f"{start} to {end}"


@pytest.mark.parametrize("words, why", [
    ("2026-03-10 2026-03-01", "must not be after"), ("2026-03-01 2026-03-11", "end today or earlier"),
    ("2025-01-01 2026-03-10", "at most 400 days"), ("2026-3-1 2026-03-10", "YYYY-MM-DD"),
    ("2026-02-30 2026-03-10", "YYYY-MM-DD"), ("2026-03-01 2026-03-02 2026-03-03", "unknown period"),
])
def test_a_bad_date_range_is_refused_saying_why(settings, words, why):
    from refdesk import reports

    with pytest.raises(ValueError, match=why):
        reports.period(words, date(2026, 3, 10))


def test_median_and_p90_are_exact_nearest_rank_values():
    from refdesk import reports

    assert reports.percentile([], 50) is None
    assert reports.percentile([7], 90) == 7
    assert reports.percentile([3, 7, 12, 20], 50) == 7  # the 2nd of 4
    assert reports.percentile([3, 7, 12, 20], 90) == 20
    assert reports.percentile(list(range(1, 11)), 90) == 9 and reports.percentile(list(range(1, 11)), 50) == 5


def test_a_link_opens_only_intact_and_unexpired(settings):
    from refdesk import reports
    from refdesk.errors import Forbidden

    of = reports.Period("7d", date(2026, 3, 4), date(2026, 3, 10))
    token = reports.sign(of, now=1_000_000)
    assert reports.open_link(token, now=1_000_000 + reports.LINK_SECONDS - 1) == of
    for bad, now in ((token, 1_000_000 + reports.LINK_SECONDS + 1), (token[:-1] + ("A" if token[-1] != "A" else "B"),
                     1_000_000), ("é.é", 1_000_000), ("x" * 1000, 1_000_000), (token.replace(".", ".."), 1_000_000)):
        with pytest.raises(Forbidden):
            reports.open_link(bad, now=now)
