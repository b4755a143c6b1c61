"""The opt-in gixy layer (PX290): gixy's issues land on the declaration that generated the line.

The mapping is tested with issues shaped like gixy-next's JSON report; the end-to-end tests run the
real gixy-next (a test dependency: `pip install -e '.[test]'`).
"""

from __future__ import annotations

import pytest

from proxygen.compile.build import build
from proxygen.errors import UsageError
from proxygen.lint import lint
from proxygen.lint.context import LintContext
from proxygen.lint.rules import px290_gixy
from proxygen.model import load_repository
from tests.lint.fixtures import TODAY, materialize


def _context(root):
    repo = load_repository(root)
    return LintContext(repo, build(repo), TODAY)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_issues_map_to_the_location_the_site_or_the_host(tmp_path):
    root = materialize("PX212", "flag", tmp_path / "repo")
    ctx = _context(root)
    site_conf = ctx.build.hosts["edge"].files["sites/app.conf"]
    issues = [
        {"plugin": "http_splitting", "severity": "HIGH", "reason": "Variable `$uri` can contain `\\n`",
         "rel": "sites/app.conf", "line": _line_of(site_conf, "proxy_pass http://app$uri;")},
        {"plugin": "add_header_multiline", "severity": "LOW", "reason": "x",
         "rel": "sites/app.conf", "line": _line_of(site_conf, "ssl_certificate ")},
        {"plugin": "worker_rlimit_nofile_vs_connections", "severity": "MEDIUM", "reason": "Missing",
         "rel": "nginx.conf", "line": 9},
    ]
    found = px290_gixy.hits_for(ctx, "edge", issues)
    assert [(h.source, h.loc, h.severity) for h in found] == [
        ("sites/app.yml", ("locations", 4), "warning"),
        ("sites/app.yml", (), "info"),
        ("proxygen.yml", ("hosts", "edge"), "warning"),
    ]
    site_yml = (root / "sites" / "app.yml").read_text(encoding="utf-8")
    assert ctx.position(found[0].source, found[0].loc).line == _line_of(site_yml, "- path: '^/raw/")
    assert found[0].message == ("gixy http_splitting: Variable `$uri` can contain `\\n` "
                                "(host edge, generated sites/app.conf)")


def test_missing_gixy_is_a_usage_error(monkeypatch):
    monkeypatch.setattr(px290_gixy.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(px290_gixy.shutil, "which", lambda name: None)
    with pytest.raises(UsageError, match="pip install gixy-next"):
        px290_gixy.gixy_command()


def test_a_gixy_that_writes_no_report_is_an_error_naming_its_exit(tmp_path):
    from proxygen.errors import ProxygenError

    with pytest.raises(ProxygenError, match=r"gixy failed \(exit 3\)"):
        px290_gixy.run_gixy({"nginx.conf": "events {}\n"}, ["sh", "-c", "echo boom >&2; exit 3", "gixy"])


def test_real_gixy_finds_the_splitting_proxygen_reports_too(tmp_path):
    root = materialize("PX212", "flag", tmp_path / "repo")
    report = lint(root, today=TODAY, gixy=True)
    gixy = [f for f in report.findings if f.code == "PX290"]
    assert any("http_splitting" in f.message and "$page" in f.message and f.field == "locations[1]"
               for f in gixy), "\n".join(str(f) for f in gixy)
    assert any(f.code == "PX212" and f.field == "locations[1].redirect.to" for f in report.findings)
    assert any(note.startswith("gixy: ") for note in report.notes)


def test_cli_gixy_findings_reach_every_format(tmp_path):
    import json
    import subprocess
    import sys

    root = materialize("PX212", "flag", tmp_path / "repo")
    proc = subprocess.run([sys.executable, "-m", "proxygen", "lint", "--root", str(root), "--gixy", "--format",
                           "sarif"], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    run = json.loads(proc.stdout)["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert "PX290" in ids
    assert any(r["ruleId"] == "PX290" for r in run["results"])
