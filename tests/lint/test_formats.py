"""Lint output formats: text, JSON, SARIF 2.1.0 and GitHub workflow annotations carry the same findings."""

from __future__ import annotations

import json

import pytest

from proxygen.lint import RULES, lint
from proxygen.lint.formats import FORMATS, render, summary
from tests.lint.fixtures import TODAY, materialize


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = materialize("PX201", "flag", tmp_path_factory.mktemp("repo"))
    return lint(root, today=TODAY)


def test_text_lists_each_finding_with_position_code_and_field(report):
    lines = render(report, "text").splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("proxygen.yml:11:") and ": PX201 error: header_sets.backend.Host: " in lines[0]
    assert summary(report).startswith("3 errors: 1 host(s), 1 site(s)")


def test_json_is_versioned_and_complete(report):
    doc = json.loads(render(report, "json"))
    assert doc["schema"] == "proxygen/lint/v1" and doc["ok"] is False
    assert doc["counts"] == {"error": 3, "warning": 0, "info": 0}
    first = doc["findings"][0]
    assert {k: first[k] for k in ("code", "rule", "severity", "file", "line", "field")} == {
        "code": "PX201", "rule": "host-header-spoofing", "severity": "error", "file": "proxygen.yml", "line": 11,
        "field": "header_sets.backend.Host"}
    assert len({f["fingerprint"] for f in doc["findings"]}) == 3


def test_sarif_has_every_rule_and_results_that_point_at_them(report):
    doc = json.loads(render(report, "sarif"))
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.code for r in RULES]
    assert len(run["results"]) == 3
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == "PX201"
        assert result["level"] == "error"
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert result["partialFingerprints"]["proxygenFinding/v1"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert uris == {"proxygen.yml", "sites/app.yml"}


def test_github_annotations_escape_properties_and_data(report):
    lines = render(report, "github").splitlines()
    assert len(lines) == 3 and all(line.startswith("::error file=") for line in lines)
    assert "title=PX201 host-header-spoofing::" in lines[0]
    assert ",line=11,col=" in lines[0]
    from proxygen.errors import Position
    from proxygen.lint.engine import LintReport
    from proxygen.lint.rule import Finding

    tricky = LintReport(findings=[Finding("PX003", "nginx-test-failed", "error", Position("a,b:c.yml", 2), "",
                                          "nginx -t failed:\n100% broken")])
    out = render(tricky, "github")
    assert out == "::error file=a%2Cb%3Ac.yml,line=2,title=PX003 nginx-test-failed::nginx -t failed:%0A100%25 broken"


def test_clean_report_renders_empty_documents(tmp_path):
    report = lint(materialize("PX201", "ok", tmp_path / "repo"), today=TODAY)
    assert report.findings == [] and report.ok
    assert render(report, "text") == "" and render(report, "github") == ""
    assert json.loads(render(report, "sarif"))["runs"][0]["results"] == []
    assert set(FORMATS) == {"text", "json", "sarif", "github"}
