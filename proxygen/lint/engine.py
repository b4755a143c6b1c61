"""Run every rule over a repository and return findings; the CLI only chooses the output format.

Order of work: load and cross-check declarations (problems there carry their rule code,
PX001 when they are plain validation errors); build every host in memory (a failure is
PX002); run the registry's rules; optionally `nginx -t` (PX003); apply `lint_ignore`
suppressions (an unused one is PX000); with `base`, drop findings that already existed at
that revision.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from proxygen.errors import DeclarationError, Position, ProxygenError, UsageError
from proxygen.lint.rule import Finding, Hit, Rule, severity_rank

if TYPE_CHECKING:
    from proxygen.compile.build import BuildResult


@dataclass
class LintReport:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hosts: int = 0
    sites: int = 0
    files: int = 0
    suppressed: int = 0
    preexisting: int = 0      # with base: findings already present at the base revision (not shown)
    base: str | None = None

    def at_least(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if severity_rank(f.severity) >= severity_rank(severity)]

    @property
    def ok(self) -> bool:
        """No error-level finding."""
        return not self.at_least("error")

    @property
    def problems(self) -> list[str]:
        return [str(f) for f in self.at_least("error")]


def lint(root: str | Path = ".", *, host: str | None = None, nginx: bool = False, nginx_binary: str | None = None,
         base: str | None = None, today: datetime.date | None = None,
         adapt_build: Callable[[BuildResult], None] | None = None, gixy: bool = False) -> LintReport:
    """Lint the repository at `root`. With `base` (a git revision), report only what is new since it.

    `adapt_build` may edit the in-memory build before the rules read it: tests use it to re-create
    generated config that no declaration can produce, for the rules that guard the compiler.
    `gixy` also runs gixy-next on every built host (PX290; it must be installed).
    """
    report = LintReport(base=base)
    report.findings, repo, result = _run(Path(root), host, today, report, adapt_build, gixy)
    if repo is not None and result is not None and nginx:
        report.findings += _nginx_test(repo, host, nginx_binary, report)
    if base is not None:
        from proxygen.model.revision import repository_at

        with repository_at(Path(root), base) as old_root:
            old, _, _ = _run(old_root, host, today, LintReport(), None, gixy)
        known = {f.fingerprint for f in old}
        fresh = [f for f in report.findings if f.fingerprint not in known]
        report.preexisting = len(report.findings) - len(fresh)
        report.findings = fresh
    report.findings.sort(key=lambda f: (f.position, f.code, f.message))
    return report


def _run(root: Path, host: str | None, today, report: LintReport, adapt_build=None, gixy: bool = False):
    from proxygen.compile.build import build
    from proxygen.lint.context import LintContext
    from proxygen.lint.registry import RULES, rule
    from proxygen.model import load_repository

    try:
        repo = load_repository(root)
    except DeclarationError as err:
        return [_from_problem(p) for p in err.problems], None, None
    try:
        result = build(repo, host)
    except UsageError:
        raise
    except DeclarationError as err:  # blocklists/ entries: already positioned
        return [_from_problem(p, default="PX002") for p in err.problems], repo, None
    except ProxygenError as err:
        return [_build_failure(repo, rule("PX002"), str(err))], repo, None
    report.hosts, report.sites, report.files = len(result.hosts), result.site_count, result.file_count
    if adapt_build is not None:
        adapt_build(result)
    served = {s for h in repo.settings.hosts.values() for s in h.sites}
    for name in sorted(set(repo.sites) - served):
        report.notes.append(f"{repo.site_file(name)}: validated, but no host in proxygen.yml serves it")
    ctx = LintContext(repo, result, today or datetime.date.today())
    findings: list[Finding] = []
    for r in RULES:
        if r.check is not None:
            findings.extend(_finding(ctx, r, hit) for hit in r.check(ctx))
    if gixy:
        from proxygen.lint.rules.px290_gixy import gixy_hits

        hits = list(gixy_hits(ctx))
        findings.extend(_finding(ctx, rule("PX290"), hit) for hit in hits)
        report.notes.append(f"gixy: {len(hits)} issue(s) on {len(result.hosts)} host(s)")
    findings = _dedupe(findings)
    from proxygen.lint.suppress import apply_suppressions

    kept, suppressed, unused = apply_suppressions(ctx, findings, frozenset() if gixy else frozenset({"PX290"}))
    report.suppressed += suppressed
    return kept + [_finding(ctx, rule("PX000"), hit) for hit in unused], repo, result


def _finding(ctx, r: Rule, hit: Hit) -> Finding:
    from proxygen.model.yamlpos import format_loc

    position = hit.position or ctx.position(hit.source, hit.loc)
    return Finding(r.code, r.name, hit.severity or r.severity, position, format_loc(hit.loc), hit.message,
                   hit.source, hit.loc)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in findings:
        key = (f.code, f.position, f.field, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _from_problem(problem, default: str = "PX001") -> Finding:
    from proxygen.lint.registry import rule

    r = rule(problem.code or default)
    return Finding(r.code, r.name, r.severity, problem.position, problem.field, problem.message,
                   problem.position.file)


_LEADING_POSITION = re.compile(r"^([\w./-]+\.(?:yml|conf|yaml))(?::(\d+))?(?::(\d+))?: ")
_LEADING_FIELD = re.compile(r"^([A-Za-z_][\w.\[\]]*): ")


def _build_failure(repo, r: Rule, message: str) -> Finding:
    """A build error names its file (and often a line, or a field of a declaration) first: that is the position."""
    first, *rest = message.splitlines() or [""]
    m = _LEADING_POSITION.match(first)
    field = ""
    if m:
        position = Position(m.group(1), int(m.group(2)) if m.group(2) else None,
                            int(m.group(3)) if m.group(3) else None)
        first = first[m.end():]
        f = _LEADING_FIELD.match(first)
        if position.line is None and f and m.group(1) in repo.documents:
            field, first = f.group(1), first[f.end():]
            position = repo.position(m.group(1), _parse_loc(field))
    else:
        position = Position("proxygen.yml")
    return Finding(r.code, r.name, r.severity, position, field, "\n".join([first, *rest]), position.file)


def _parse_loc(text: str) -> tuple:
    """`locations[2].proxy` -> ("locations", 2, "proxy"), the inverse of yamlpos.format_loc."""
    loc: list = []
    for part in text.split("."):
        name, *indexes = part.split("[")
        if name:
            loc.append(name)
        loc.extend(int(i.rstrip("]")) for i in indexes if i.rstrip("]").isdigit())
    return tuple(loc)


def _nginx_test(repo, host, binary, report: LintReport) -> list[Finding]:
    from proxygen.lint.registry import rule
    from proxygen.nginx import check_hosts

    r = rule("PX003")
    out = []
    for check in check_hosts(repo, host, binary):
        if check.version_note:
            report.notes.append(f"{check.host}: {check.version_note}")
        if check.stand_ins:
            shown = ", ".join(check.stand_ins[:5]) + (", ..." if len(check.stand_ins) > 5 else "")
            report.notes.append(f"{check.host}: {len(check.stand_ins)} certificate(s) missing here, "
                                f"throwaway stand-ins used: {shown}")
        if check.ok:
            report.notes.append(f"{check.host}: nginx -t ok")
        else:
            position = repo.position("proxygen.yml", ("hosts", check.host))
            out.append(Finding(r.code, r.name, r.severity, position, f"hosts.{check.host}",
                               "nginx -t failed:\n" + check.output.strip(), "proxygen.yml"))
    return out
