"""The shipped repository (sites/, proxygen.yml, blocklists/) lints clean with every rule."""

from __future__ import annotations

from pathlib import Path

from proxygen.lint import RULES, lint

REPO = Path(__file__).resolve().parents[2]


def test_shipped_repository_has_no_findings():
    report = lint(REPO)
    assert report.hosts == 6 and report.sites >= 75
    assert [str(f) for f in report.findings] == []
    assert sum(1 for r in RULES if r.check is not None) >= 1
