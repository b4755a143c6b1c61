"""build / lint / diff / schema from the command line: exit codes and plain output when piped."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

from .conftest import FULL_SITE, SETTINGS, write_repo


def run(*args):
    return subprocess.run([sys.executable, "-m", "proxygen", *args], capture_output=True, text=True, timeout=120)


def test_build_then_rebuild_reports_changes(repo_dir, tmp_path):
    out = tmp_path / "out"
    first = run("build", "--root", str(repo_dir), "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "2 host(s), 1 site(s)" in first.stdout and "written" in first.stdout
    assert (out / "edge" / "nginx.conf").is_file() and (out / "edge" / "sites" / "full.conf").is_file()
    again = run("build", "--root", str(repo_dir), "--out", str(out), "--host", "edge")
    assert again.returncode == 0 and "0 written" in again.stdout
    assert "\x1b[" not in first.stdout  # plain text when piped


def test_build_into_an_unwritable_place_is_an_error_not_a_traceback(repo_dir, tmp_path):
    out = tmp_path / "out"
    assert run("build", "--root", str(repo_dir), "--out", str(out)).returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (repo_dir / "proxygen.yml").write_text((repo_dir / "proxygen.yml").read_text() + "\n# changed\n")
    blocker = out / "edge" / "sites"  # a directory the build needs, replaced by a file
    moved = tmp_path / "sites-aside"
    blocker.rename(moved)
    blocker.write_text("not a directory")
    result = run("build", "--root", str(repo_dir), "--out", str(out))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"error: {blocker}: cannot write the build output (File exists); nothing was changed" in result.stderr
    assert not [p for p in out.rglob("*.tmp")]  # no temporary left behind
    blocker.unlink()
    moved.rename(blocker)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    file_out = tmp_path / "a-file"
    file_out.write_text("x")
    result = run("build", "--root", str(repo_dir), "--out", str(file_out))
    assert result.returncode == 1 and "Traceback" not in result.stderr and "Not a directory" in result.stderr


def test_lint_exit_codes(repo_dir, tmp_path):
    assert run("lint", "--root", str(repo_dir)).returncode == 0
    assert run("lint", "--root", str(repo_dir), "--host", "nope").returncode == 2
    site = copy.deepcopy(FULL_SITE)
    site["locations"][0]["rate_limits"][0]["zone"] = "nope"
    write_repo(repo_dir, sites={"full": site})
    bad = run("lint", "--root", str(repo_dir))
    assert bad.returncode == 1
    assert bad.stdout.startswith("sites/full.yml:") and ": PX102 error: " in bad.stdout
    assert "unknown rate-limit zone 'nope'" in bad.stdout


def test_lint_with_nginx_says_which_version_it_rendered_for(repo_dir):
    proc = run("lint", "--root", str(repo_dir), "--nginx")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "edge: nginx -t ok" in proc.stdout
    assert "rendered for the installed nginx" in proc.stdout  # edge targets 1.27.4


def test_diff_shows_pending_changes(repo_dir, tmp_path):
    out = tmp_path / "out"
    pending = run("diff", "--root", str(repo_dir), "--out", str(out))
    assert pending.returncode == 1 and "+++ b/edge/sites/full.conf" in pending.stdout
    run("build", "--root", str(repo_dir), "--out", str(out))
    clean = run("diff", "--root", str(repo_dir), "--out", str(out))
    assert clean.returncode == 0 and "no changes" in clean.stdout


def test_schema_and_help():
    schema = json.loads(run("schema", "site").stdout)
    assert "server_names" in schema["properties"]
    for cmd in ("build", "lint", "diff", "schema"):
        assert run(cmd, "--help").returncode == 0


def test_diff_lists_files_a_build_would_remove(repo_dir, tmp_path):
    out = tmp_path / "out"
    run("build", "--root", str(repo_dir), "--out", str(out))
    settings = copy.deepcopy(SETTINGS)
    settings["hosts"]["edge"]["sites"] = []
    write_repo(repo_dir, settings=settings)
    proc = run("diff", "--root", str(repo_dir), "--out", str(out))
    assert proc.returncode == 1 and "--- a/edge/sites/full.conf\n+++ /dev/null" in proc.stdout
