"""lint_ignore scoping, changed-only mode (--base) and diff --base against a real git repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from proxygen.lint import lint
from tests.lint.fixtures import FIXTURES, TODAY, materialize

SPOOF = "    proxy_headers: {X-Orig: $http_host}\n"


def _site(extra_location: str = "", site_extra: str = "") -> str:
    text = (FIXTURES / "_base" / "sites" / "app.yml").read_text()
    return text + site_extra + extra_location


def test_a_location_suppression_covers_only_its_location(tmp_path):
    root = materialize("PX201", "ok", tmp_path / "repo")
    (root / "sites" / "app.yml").write_text(_site(
        "  - path: /a/\n" + SPOOF + "    lint_ignore: [{rule: PX201, reason: header only logged by the backend}]\n"
        "    proxy: {upstream: app}\n"
        "  - path: /b/\n" + SPOOF + "    proxy: {upstream: app}\n"))
    report = lint(root, today=TODAY)
    assert [(f.code, f.field) for f in report.findings] == [("PX201", "locations[2].proxy_headers.X-Orig")]
    assert report.suppressed == 1


def test_a_site_suppression_covers_the_whole_site_and_an_unused_one_is_reported(tmp_path):
    root = materialize("PX201", "ok", tmp_path / "repo")
    ignore = "lint_ignore:\n  - {rule: PX201, reason: legacy backend logs the header only}\n"
    (root / "sites" / "app.yml").write_text(_site("  - path: /a/\n" + SPOOF + "    proxy: {upstream: app}\n",
                                                  site_extra="").replace("locations:\n", ignore + "locations:\n"))
    report = lint(root, today=TODAY)
    assert report.findings == [] and report.suppressed == 1
    (root / "sites" / "app.yml").write_text(_site().replace("locations:\n", ignore + "locations:\n"))
    report = lint(root, today=TODAY)
    assert [(f.code, f.field) for f in report.findings] == [("PX000", "lint_ignore[0]")]


def test_a_suppression_needs_a_reason(tmp_path):
    root = materialize("PX201", "ok", tmp_path / "repo")
    (root / "sites" / "app.yml").write_text(_site().replace("locations:\n", "lint_ignore: [{rule: PX201}]\nlocations:\n"))
    report = lint(root, today=TODAY)
    assert [(f.code, f.field) for f in report.findings] == [("PX001", "lint_ignore[0].reason")]


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def git_repo(tmp_path):
    if shutil.which("git") is None:
        pytest.fail("git is needed for --base (installed by scripts/bootstrap.sh)")
    root = materialize("PX201", "ok", tmp_path / "repo")
    # one pre-existing problem at the base revision
    (root / "sites" / "app.yml").write_text(_site("  - path: /old/\n" + SPOOF + "    proxy: {upstream: app}\n"))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "base")
    return root


def test_base_reports_only_new_findings_even_when_old_ones_moved(git_repo):
    # the change adds lines above the old problem (so its line moves) and adds one new problem
    text = (git_repo / "sites" / "app.yml").read_text()
    text = text.replace("locations:\n", "client_max_body_size: 20M\nlocations:\n")
    text += "  - path: /new/\n" + SPOOF + "    proxy: {upstream: app}\n"
    (git_repo / "sites" / "app.yml").write_text(text)
    full = lint(git_repo, today=TODAY)
    assert len(full.findings) == 2
    changed = lint(git_repo, today=TODAY, base="main")
    assert [f.field for f in changed.findings] == ["locations[2].proxy_headers.X-Orig"]
    assert changed.findings[0].position.line == text.splitlines().index("  - path: /new/") + 2
    assert changed.preexisting == 1 and changed.base == "main"


def test_base_of_an_unknown_revision_is_a_usage_error(git_repo):
    from proxygen.errors import UsageError

    with pytest.raises(UsageError, match="nope"):
        lint(git_repo, base="nope")


def test_diff_base_shows_the_change_in_nginx_terms(git_repo):
    text = (git_repo / "sites" / "app.yml").read_text().replace("locations:\n", "client_max_body_size: 20M\nlocations:\n")
    (git_repo / "sites" / "app.yml").write_text(text)
    proc = subprocess.run([sys.executable, "-m", "proxygen", "diff", "--root", str(git_repo), "--base", "main"],
                          capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert "--- a/edge/sites/app.conf" in proc.stdout and "+    client_max_body_size 20M;" in proc.stdout
    changes = [line for line in proc.stdout.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changes == ["+    client_max_body_size 20M;"]
    same = subprocess.run([sys.executable, "-m", "proxygen", "diff", "--root", str(git_repo), "--base", "HEAD"],
                          capture_output=True, text=True)
    assert same.returncode == 1  # the working tree still differs from HEAD
    _git(git_repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qam", "body size")
    clean = subprocess.run([sys.executable, "-m", "proxygen", "diff", "--root", str(git_repo), "--base", "HEAD"],
                           capture_output=True, text=True)
    assert clean.returncode == 0 and "no changes" in clean.stdout


def test_at_narrows_a_suppression_to_one_field(tmp_path):
    root = materialize("PX201", "ok", tmp_path / "repo")
    two = ("  - path: /a/\n    proxy_headers: {X-Orig: $http_host, X-Other: $http_host}\n"
           "    lint_ignore: [{rule: PX201, at: \"locations[1].proxy_headers.X-Orig\", reason: only logged upstream}]\n"
           "    proxy: {upstream: app}\n")
    (root / "sites" / "app.yml").write_text(_site(two))
    report = lint(root, today=TODAY)
    assert [(f.code, f.field) for f in report.findings] == [("PX201", "locations[1].proxy_headers.X-Other")]
    assert report.suppressed == 1


def test_a_suppression_of_the_opt_in_gixy_layer_is_used_only_when_gixy_runs(tmp_path):
    root = materialize("PX290", "flag", tmp_path / "repo")
    site = root / "sites" / "app.yml"
    site.write_text(site.read_text().replace(
        "    buffering: false\n",
        "    buffering: false\n    lint_ignore: [{rule: PX290, reason: server-sent events must not be buffered}]\n"))
    assert lint(root, today=TODAY).findings == []  # gixy did not run: the suppression is not "unused"
    with_gixy = lint(root, today=TODAY, gixy=True)
    assert with_gixy.findings == [] and with_gixy.suppressed == 1
