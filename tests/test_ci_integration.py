"""The shipped GitHub workflow and pre-commit hook run proxygen commands that work on this repository.

Each `run:` step of .github/workflows/proxygen-lint.yml (except the install step) is executed
with bash as GitHub runs it, in a git copy of the repository whose target branch is its own
HEAD; the pre-commit hook's entry is run the same way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SKIP = {".git", ".venv", "build", ".pytest_cache", ".hypothesis", "proxygen.egg-info", "__pycache__"}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkout") / "repo"
    shutil.copytree(REPO, root, ignore=lambda d, names: [n for n in names if n in SKIP])
    git = ["git", "-C", str(root), "-c", "user.name=ci", "-c", "user.email=ci@example.org"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "snapshot"], check=True)
    subprocess.run([*git, "update-ref", "refs/remotes/origin/main", "HEAD"], check=True)
    return root


def _env(tmp_path: Path) -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # the venv's `proxygen`
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary.md")
    return env


def test_workflow_steps_run_clean_on_the_shipped_repository(checkout, tmp_path):
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "proxygen-lint.yml").read_text())
    steps = workflow["jobs"]["lint"]["steps"]
    runs = [s for s in steps if "run" in s and not s.get("name", "").startswith("Install")]
    assert len(runs) >= 4 and all("proxygen " in s["run"] for s in runs)
    env = _env(tmp_path)
    for step in runs:
        script = step["run"].replace("${{ github.base_ref }}", "main")
        assert "${{" not in script, script
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=checkout,
                              env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"{step['name']}: {proc.stdout}{proc.stderr}"
    sarif = (checkout / "proxygen-lint.sarif").read_text()
    assert '"version": "2.1.0"' in sarif
    summary = (tmp_path / "summary.md").read_text()
    assert "```diff" in summary and "no changes" in summary


def test_workflow_annotates_a_new_problem(checkout, tmp_path):
    site = checkout / "sites" / "forum.yml"
    original = site.read_text()
    try:
        site.write_text(original + "proxy_headers: {X-Host: $http_host}\n")
        proc = subprocess.run(["bash", "-c", 'proxygen lint --base "origin/main" --format github --fail-on error'],
                              cwd=checkout, env=_env(tmp_path), capture_output=True, text=True)
        assert proc.returncode == 1
        assert proc.stdout.startswith("::error file=sites/forum.yml,line=")
        assert "title=PX201 host-header-spoofing" in proc.stdout
    finally:
        site.write_text(original)


def test_pre_commit_hook_definitions_run_proxygen_lint(checkout, tmp_path):
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    local = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    for hook in [*hooks, *local]:
        assert hook["id"] == "proxygen-lint" and hook["pass_filenames"] is False
        import re

        assert re.search(hook["files"], "sites/forum.yml") and re.search(hook["files"], "proxygen.yml")
        assert not re.search(hook["files"], "README.md")
        proc = subprocess.run(hook["entry"].split(), cwd=checkout, env=_env(tmp_path), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
