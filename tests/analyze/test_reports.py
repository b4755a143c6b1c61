"""Reports: terminal text, JSON, and the self-contained HTML page opened in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import timedelta

import polars as pl
import pytest

from proxygen.analyze.run import Analysis, Summary, analyze_traffic
from proxygen.report import html, json_report, table
from .tables import T0, T1, ip, traffic, ua

EVIL_UA = 'python-requests/2.31 <script>alert("x")</script> [bold]markup[/bold]'


@pytest.fixture()
def analysis() -> Analysis:
    t = traffic(
        ips=[ip("203.0.113.7", 3000, rc_search=3000, sustained_rpm=50, peak_rpm=80, top_ua=EVIL_UA,
                asn_org="Evil [bold]markup[/bold] Net"),
             ip("203.0.113.90", 40, s4xx=38, flag_probe=35, distinct_paths=40),
             ip("192.0.2.1", 500, rc_static=300, rc_product=200, sustained_rpm=5, peak_rpm=9)],
        uas=[ua(EVIL_UA, 3000), ua("Mozilla/5.0 (compatible; GPTBot/1.2; +https://openai.com/gptbot)", 400, 3)])
    samples = pl.DataFrame({"client_ip": ["203.0.113.7"], "time": [T0], "method": ["GET"],
                            "path": ["/cgi/search.pl"], "query": ["search_terms=<b>x</b>"], "protocol": ["HTTP/1.1"],
                            "status": [200], "bytes": [512], "referer": [None], "user_agent": [EVIL_UA]})
    findings = analyze_traffic(t, samples=samples)
    minutes = [T0 + timedelta(minutes=i) for i in range(61)]
    timeline = pl.DataFrame({"minute": minutes, "requests": [50 + (i % 7) * 10 for i in range(61)]})
    series = {"ip:203.0.113.7": pl.DataFrame({"minute": minutes, "requests": [50] * 61})}
    summary = Summary(files=["access.log"], format="main", lines_read=3545, parsed=3540, malformed=5,
                      filtered_out=0, first_time=T0, last_time=T1, requests=3540, ips=3)
    return Analysis(summary=summary, findings=findings, timeline=timeline, series=series)


def test_plain_report_lists_every_finding_with_its_reason(analysis):
    text = table.render_plain(analysis)
    assert text.startswith("3,545 lines read, 3,540 parsed, 5 malformed (main)")
    assert len(re.findall(r"^\d+\. ", text, flags=re.M)) == len(analysis.findings) == 4
    assert "block ip 203.0.113.7" in text and "sensitive paths" in text


def test_summary_counts_lines_outside_the_time_window(analysis):
    from dataclasses import replace

    assert "outside" not in table.summary_line(analysis)
    windowed = replace(analysis, summary=replace(analysis.summary, filtered_out=1200))
    assert table.summary_line(windowed).startswith(
        "3,545 lines read, 3,540 parsed, 5 malformed, 1,200 outside --since/--until (main);")


def test_rich_table_does_not_interpret_log_text_as_markup(analysis):
    from rich.console import Console

    console = Console(record=True, width=250, force_terminal=True)
    table.render(analysis, console)
    out = console.export_text()
    assert "Evil [bold]markup[/bold] Net" in out  # shown literally, not styled away


def test_terminal_control_in_log_text_is_shown_escaped(analysis):
    """A user agent carrying escape sequences or a bidi override reaches no renderer raw (terminal, pipe, HTML)."""
    from dataclasses import replace

    from io import StringIO

    from rich.console import Console

    hostile = "bot\x1b[2J\x1b]0;owned\x07\r\u202eexe"
    analysis.findings[0] = replace(analysis.findings[0], why=f"user agent {hostile}")
    piped = StringIO()
    table.render(analysis, Console(file=piped, force_terminal=False))
    console = Console(record=True, width=250, force_terminal=True)
    table.render(analysis, console)
    page = html.render(analysis)
    assert "bot\\x1B[2J\\x1B]0;owned\\x07\\x0D\\u202Eexe" in page and "\u202e" not in page
    for out in (piped.getvalue(), console.export_text()):
        assert "bot\\x1B[2J\\x1B]0;owned\\x07\\x0D\\u202Eexe" in out
        assert not any(c in out for c in "\x07\r\u202e")


def test_json_report_is_stable(analysis):
    import json

    doc = json.loads(json_report.render(analysis))
    assert doc["summary"]["time_range"] == {"first": "2025-01-31T12:00:00Z", "last": "2025-01-31T13:00:00Z"}
    assert [f["key"] for f in doc["findings"]] == ["GPTBot", "203.0.113.7", "203.0.113.90", "python-requests"]
    assert doc["findings"][1]["samples"][0].startswith('203.0.113.7 - - [31/Jan/2025:12:00:00 +0000] "GET ')


def test_html_report_is_self_contained_and_escaped(analysis):
    page = html.render(analysis)
    assert "<script" not in page.replace("&lt;script", "")  # the UA's script tag is escaped, and we add none
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched from a network
    assert 'id="timeline"' in page and page.count('class="finding"') == 4


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
def test_html_report_renders_in_headless_chromium(analysis, tmp_path):
    exe = _chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (scripts/bootstrap.sh --test installs it)")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    report = tmp_path / "report.html"
    report.write_text(html.render(analysis), encoding="utf-8")
    profile = tmp_path / "profile"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
           f"--user-data-dir={profile}", "--virtual-time-budget=2000", "--dump-dom", report.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the browser parsed our page into a DOM: table rows and the SVG timeline with its lines are there
    assert dom.count('<tr class="finding"') == 4
    assert re.search(r'<svg[^>]*id="timeline"', dom)
    assert dom.count("<polyline") == 2
    assert "&lt;script&gt;alert" in dom and "<script>alert" not in dom
    shot = tmp_path / "shot.png"
    proc = subprocess.run(cmd[:-2] + ["--window-size=1280,900", f"--screenshot={shot}", report.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.stat().st_size > 10_000  # a blank page compresses far smaller
