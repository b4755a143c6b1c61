"""`proxygen lint` on the command line: formats, --fail-on, --explain, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.lint.fixtures import materialize


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "proxygen", *args], capture_output=True, text=True)


def test_findings_exit_1_and_fail_on_sets_the_threshold(tmp_path):
    root = materialize("PX000", "flag", tmp_path / "repo")  # two warnings, no error
    default = run("lint", "--root", str(root))
    assert default.returncode == 0, default.stdout + default.stderr
    assert default.stdout.count(": PX000 warning: ") == 2 and "2 warnings:" in default.stdout
    strict = run("lint", "--root", str(root), "--fail-on", "warning")
    assert strict.returncode == 1
    errors = run("lint", "--root", str(materialize("PX201", "flag", tmp_path / "bad")))
    assert errors.returncode == 1 and errors.stdout.count(": PX201 error: ") == 3


def test_machine_formats_print_only_the_document(tmp_path):
    root = materialize("PX201", "flag", tmp_path / "repo")
    for fmt in ("json", "sarif"):
        proc = run("lint", "--root", str(root), "--format", fmt)
        assert proc.returncode == 1
        json.loads(proc.stdout)  # nothing else on stdout
    gh = run("lint", "--root", str(root), "-f", "github")
    assert gh.stdout.splitlines()[0].startswith("::error file=proxygen.yml,line=11,")


def test_explain_prints_the_rule_and_how_to_suppress_it():
    proc = run("lint", "--explain", "px201")
    assert proc.returncode == 0
    assert proc.stdout.startswith("PX201 host-header-spoofing (error, lint rule)")
    assert "$host" in proc.stdout and "rule: PX201" in proc.stdout
    listing = run("lint", "--explain", "all")
    assert "PX101  error    server-name-clash:" in listing.stdout
    assert run("lint", "--explain", "PX998").returncode == 2


def test_bad_options_are_usage_errors(tmp_path):
    root = materialize("PX201", "ok", tmp_path / "repo")
    bad_format = run("lint", "--root", str(root), "--format", "xml")
    assert bad_format.returncode == 2 and "--format 'xml'" in bad_format.stderr
    assert run("lint", "--root", str(root), "--fail-on", "fatal").returncode == 2
