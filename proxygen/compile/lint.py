"""`proxygen lint`: validate every declaration, build every host in memory, re-check, optionally `nginx -t`.

Returns problems instead of printing them; the CLI decides the output and the exit code
(0 clean, 1 problems found).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from proxygen.errors import ProxygenError, UsageError


@dataclass
class LintReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hosts: int = 0
    sites: int = 0
    files: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def lint(root: str | Path = ".", *, host: str | None = None, nginx: bool = False,
         nginx_binary: str | None = None) -> LintReport:
    from proxygen.compile.build import build
    from proxygen.model import load_repository

    report = LintReport()
    try:
        repo = load_repository(root)
        result = build(repo, host)
    except UsageError:
        raise
    except ProxygenError as err:
        report.problems.extend(str(err).splitlines())
        return report
    report.hosts, report.sites, report.files = len(result.hosts), result.site_count, result.file_count
    served = {s for h in repo.settings.hosts.values() for s in h.sites}
    for name in sorted(set(repo.sites) - served):
        report.notes.append(f"{repo.site_file(name)}: validated, but no host in proxygen.yml serves it")
    if nginx:
        from proxygen.nginx import check_hosts

        for check in check_hosts(repo, host, nginx_binary):
            if check.version_note:
                report.notes.append(f"{check.host}: {check.version_note}")
            if check.stand_ins:
                shown = ", ".join(check.stand_ins[:5]) + (", ..." if len(check.stand_ins) > 5 else "")
                report.notes.append(f"{check.host}: {len(check.stand_ins)} certificate(s) missing here, "
                                    f"throwaway stand-ins used: {shown}")
            if not check.ok:
                report.problems.append(f"{check.host}: nginx -t failed:")
                report.problems.extend(f"  {line}" for line in check.output.splitlines())
            else:
                report.notes.append(f"{check.host}: nginx -t ok")
    return report
