"""The opt-in gixy layer (PX290): gixy's issues land on the declaration that generated the line.

The mapping is tested with issues shaped like gixy-next's JSON report; the end-to-end test runs the
real gixy-next when it is installed (it is not a dependency of proxygen) and is skipped otherwise.
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
    found = px290_gixy.findings_for(ctx, "edge", issues)
    assert [(f.source, f.field, f.severity) for f in found] == [
        ("sites/app.yml", "locations[4]", "warning"),
        ("sites/app.yml", "", "info"),
        ("proxygen.yml", "hosts.edge", "warning"),
    ]
    site_yml = (root / "sites" / "app.yml").read_text(encoding="utf-8")
    assert found[0].position.line == _line_of(site_yml, "- path: '^/raw/") and found[0].code == "PX290"
    assert found[0].message == "gixy http_splitting: Variable `$uri` can contain `\\n` (generated sites/app.conf)"


def test_missing_gixy_is_a_usage_error(monkeypatch):
    monkeypatch.setattr(px290_gixy.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(px290_gixy.shutil, "which", lambda name: None)
    with pytest.raises(UsageError, match="pip install gixy-next"):
        px290_gixy.gixy_command()


def test_a_gixy_that_writes_no_report_is_an_error_naming_its_exit(tmp_path):
    from proxygen.errors import ProxygenError

    with pytest.raises(ProxygenError, match=r"gixy failed \(exit 3\)"):
        px290_gixy.run_gixy({"nginx.conf": "events {}\n"}, ["sh", "-c", "echo boom >&2; exit 3", "gixy"])


def _gixy_installed() -> bool:
    try:
        px290_gixy.gixy_command()
    except UsageError:
        return False
    return True


@pytest.mark.skipif(not _gixy_installed(), reason="gixy-next is not installed (pip install gixy-next)")
def test_real_gixy_finds_the_splitting_proxygen_reports_too(tmp_path):
    root = materialize("PX212", "flag", tmp_path / "repo")
    report = lint(root, today=TODAY)
    px290_gixy.add_gixy_findings(report, root)
    gixy = [f for f in report.findings if f.code == "PX290"]
    assert any("http_splitting" in f.message and "$page" in f.message and f.field == "locations[1]"
               for f in gixy), "\n".join(str(f) for f in gixy)
    assert any(f.code == "PX212" and f.field == "locations[1].redirect.to" for f in report.findings)
    assert report.notes[-1].startswith("gixy: ")


def _cli(*args: str, env_path: str | None = None):
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    if env_path is not None:
        env["PATH"] = env_path
    return subprocess.run([sys.executable, "-m", "proxygen", *args], capture_output=True, text=True, env=env)


def test_cli_refuses_gixy_with_sarif_and_says_how_to_install_it(tmp_path):
    root = materialize("PX212", "ok", tmp_path / "repo")
    sarif = _cli("lint", "--root", str(root), "--gixy", "--format", "sarif")
    assert sarif.returncode == 2 and "--format text, json or github" in sarif.stderr
    if not _gixy_installed():
        missing = _cli("lint", "--root", str(root), "--gixy")
        assert missing.returncode == 2 and "pip install gixy-next" in missing.stderr
        assert "Traceback" not in missing.stderr
