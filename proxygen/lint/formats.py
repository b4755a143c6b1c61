"""Lint output formats: text for people, JSON for scripts, SARIF for code scanning, GitHub annotations.

Each function takes a LintReport and returns the whole output as a string, so the CLI
only prints, and tests compare formats without a terminal.
"""

from __future__ import annotations

import json

from proxygen.lint.engine import LintReport
from proxygen.lint.rule import Finding

FORMATS = ("text", "json", "sarif", "github")
JSON_SCHEMA = "proxygen/lint/v1"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def text(report: LintReport) -> str:
    lines = []
    for f in report.findings:
        head, *rest = str(f).splitlines()
        lines.append(head)
        lines.extend(f"    {line}" for line in rest)
    return "\n".join(lines)


def summary(report: LintReport) -> str:
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in ("error", "warning", "info")}
    parts = [f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items() if n]
    checked = f"{report.hosts} host(s), {report.sites} site(s), {report.files} file(s) checked"
    extra = []
    if report.suppressed:
        extra.append(f"{report.suppressed} suppressed by lint_ignore")
    if report.base is not None:
        extra.append(f"{report.preexisting} already present at {report.base} not shown")
    tail = f" ({'; '.join(extra)})" if extra else ""
    return f"{', '.join(parts) if parts else 'ok'}: {checked}{tail}"


def _finding_dict(f: Finding) -> dict:
    return {"code": f.code, "rule": f.name, "severity": f.severity, "file": f.position.file,
            "line": f.position.line, "column": f.position.column, "field": f.field, "message": f.message,
            "fingerprint": f.fingerprint}


def as_json(report: LintReport) -> str:
    return json.dumps({
        "schema": JSON_SCHEMA,
        "ok": report.ok,
        "base": report.base,
        "counts": {s: sum(1 for f in report.findings if f.severity == s) for s in ("error", "warning", "info")},
        "suppressed": report.suppressed,
        "preexisting": report.preexisting,
        "checked": {"hosts": report.hosts, "sites": report.sites, "files": report.files},
        "findings": [_finding_dict(f) for f in report.findings],
        "notes": report.notes,
    }, indent=2)


def sarif(report: LintReport) -> str:
    """SARIF 2.1.0, as GitHub code scanning reads it (one run, rules with help text, relative URIs)."""
    from proxygen import __version__
    from proxygen.lint.registry import RULES

    index = {r.code: i for i, r in enumerate(RULES)}
    rules = [{
        "id": r.code, "name": r.name,
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": r.doc},
        "help": {"text": f"{r.summary}\n\n{r.doc}\n\nproxygen lint --explain {r.code}"},
        "defaultConfiguration": {"level": _SARIF_LEVEL[r.severity]},
    } for r in RULES]
    results = []
    for f in report.findings:
        region = {}
        if f.position.line is not None:
            region["startLine"] = f.position.line
            if f.position.column is not None:
                region["startColumn"] = f.position.column
        location = {"physicalLocation": {"artifactLocation": {"uri": f.position.file, "uriBaseId": "%SRCROOT%"}}}
        if region:
            location["physicalLocation"]["region"] = region
        text = f"{f.field}: {f.message}" if f.field else f.message
        results.append({"ruleId": f.code, "ruleIndex": index[f.code], "level": _SARIF_LEVEL[f.severity],
                        "message": {"text": text}, "locations": [location],
                        "partialFingerprints": {"proxygenFinding/v1": f.fingerprint}})
    return json.dumps({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "proxygen", "version": __version__,
                                      "informationUri": "https://github.com/openfoodfacts/proxygen",
                                      "rules": rules}},
                  "results": results}],
    }, indent=2)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(report: LintReport) -> str:
    """GitHub Actions workflow commands: each finding becomes an annotation on the file and line."""
    command = {"error": "error", "warning": "warning", "info": "notice"}
    lines = []
    for f in report.findings:
        props = [f"file={_escape_property(f.position.file)}"]
        if f.position.line is not None:
            props.append(f"line={f.position.line}")
            if f.position.column is not None:
                props.append(f"col={f.position.column}")
        props.append(f"title={_escape_property(f'{f.code} {f.name}')}")
        text = f"{f.field}: {f.message}" if f.field else f.message
        lines.append(f"::{command[f.severity]} {','.join(props)}::{_escape_data(text)}")
    return "\n".join(lines)


def render(report: LintReport, fmt: str) -> str:
    return {"text": text, "json": as_json, "sarif": sarif, "github": github}[fmt](report)
