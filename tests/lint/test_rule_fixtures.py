"""Every registered rule has a must-flag and a must-not-flag fixture, and both behave."""

from __future__ import annotations

import pytest

from proxygen.lint import RULES, lint
from tests.lint.fixtures import FIXTURES, TODAY, expected, generated_edits, materialize, reported

NEEDS_NGINX = {"PX003"}
NEEDS_GIXY = {"PX290"}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.code}-{r.name}")
def test_must_flag_fixture(rule, tmp_path):
    adapt, from_generated = generated_edits(rule.code, "flag")
    want = expected(rule.code, "flag") | from_generated
    assert want, f"fixtures/{rule.code}/flag marks no `# expect: {rule.code}` line"
    assert any(code == rule.code for _, _, code in want)
    root = materialize(rule.code, "flag", tmp_path / "repo")
    report = lint(root, today=TODAY, nginx=rule.code in NEEDS_NGINX, adapt_build=adapt,
                  gixy=rule.code in NEEDS_GIXY)
    assert reported(report, root) == want, "\n".join(str(f) for f in report.findings)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.code}-{r.name}")
def test_must_not_flag_fixture(rule, tmp_path):
    assert (FIXTURES / rule.code / "ok").is_dir(), f"fixtures/{rule.code}/ok is missing"
    adapt, _ = generated_edits(rule.code, "ok")
    root = materialize(rule.code, "ok", tmp_path / "repo")
    report = lint(root, today=TODAY, nginx=rule.code in NEEDS_NGINX, adapt_build=adapt,
                  gixy=rule.code in NEEDS_GIXY)
    assert report.findings == [], "\n".join(str(f) for f in report.findings)


def test_base_fixture_is_clean_and_passes_nginx():
    report = lint(FIXTURES / "_base", today=TODAY, nginx=True)
    assert report.findings == [] and report.hosts == 1 and report.sites == 1
    assert "edge: nginx -t ok" in report.notes


def test_codes_are_unique_stable_and_documented():
    codes = [r.code for r in RULES]
    assert len(codes) == len(set(codes)) and codes == sorted(codes)
    for r in RULES:
        assert r.summary and len(r.doc) > 80, r.code
        assert r.name == r.name.lower() and " " not in r.name


def test_readme_lists_every_rule():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    missing = [r.code for r in RULES if f"| {r.code} |" not in readme and f"| {r.code}-" not in readme]
    assert missing == []
