"""PX290: gixy-next's findings on the generated config, opt-in (`proxygen lint --gixy`).

gixy-next is a separate tool (`pip install gixy-next`; a test dependency, not a runtime one): proxygen's
own PX2xx rules cover its classic security checks on the declarations. This layer writes each built host to a temporary
directory, runs gixy on its nginx.conf, and reports every issue on the declaration that generated the
line: a site's location, the site, or the host in proxygen.yml for nginx.conf itself.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from proxygen.errors import ProxygenError, UsageError
from proxygen.lint.rule import Hit, Rule

TIMEOUT_S = 300
# gixy's severity -> the finding's (the opt-in layer never fails a build on its own errors)
SEVERITY = {"HIGH": "warning", "MEDIUM": "warning", "LOW": "info", "UNSPECIFIED": "info"}

RULE = Rule(
    code="PX290", name="gixy", severity="warning",
    summary="An issue gixy-next reports on the generated config (only with `proxygen lint --gixy`).",
    doc="""`proxygen lint --gixy` also runs gixy-next (a static analyser of nginx configs, installed
separately with `pip install gixy-next`) on every host's generated config and reports its issues on the
declaration that produced the line. gixy's HIGH and MEDIUM issues are warnings, LOW ones are info. Many
of its checks duplicate PX201-PX212 (which see the declarations and know, for example, that a map of
`$host` cannot hold a line break); the others are advice on nginx tuning (worker_rlimit_nofile,
external resolvers, HTTP/2 misdirected requests). Read each one; fix the declaration, or accept it with
`lint_ignore` and a reason.""",
)


def gixy_command() -> list[str]:
    """How to run gixy-next: the module in this Python, else a `gixy-next`/`gixy` on PATH."""
    if importlib.util.find_spec("gixy") is not None:
        return [sys.executable, "-m", "gixy"]
    for name in ("gixy-next", "gixy"):
        found = shutil.which(name)
        if found:
            return [found]
    raise UsageError("--gixy needs gixy-next: install it with `pip install gixy-next`")


def run_gixy(files: dict[str, str], command: list[str] | None = None) -> list[dict]:
    """gixy's issues on one host's generated files (relative path -> text), with `rel` set to the
    generated file each issue is in."""
    command = command or gixy_command()
    with tempfile.TemporaryDirectory(prefix="proxygen-gixy-") as tmp:
        root = Path(tmp)
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        out = root / "gixy-report.json"
        try:
            proc = subprocess.run([*command, "-f", "json", "-o", str(out), str(root / "nginx.conf")],
                                  capture_output=True, text=True, timeout=TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise ProxygenError(f"gixy did not run: {err}") from None
        try:
            issues = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise ProxygenError(f"gixy failed (exit {proc.returncode}): {' / '.join(detail)}") from None
        resolved = root.resolve()
        for issue in issues:
            try:
                issue["rel"] = Path(issue.get("file", "")).resolve().relative_to(resolved).as_posix()
            except ValueError:
                issue["rel"] = "nginx.conf"
    return issues


def locate(ctx, host: str, rel: str, line: int | None) -> tuple[str, tuple]:
    """The declaration of a generated line: the site's location (or the site), or the host in proxygen.yml."""
    from proxygen.lint.context import walk

    if not (rel.startswith("sites/") and rel.endswith(".conf")):
        return "proxygen.yml", ("hosts", host)
    tree = next((t for h, r, t in ctx.generated() if h == host and r == rel), [])
    location = None
    for node, parents in walk(tree):
        if node.line == line:
            chain = (*parents, node)
            location = next((n for n in reversed(chain) if n.name == "location"), None)
            break
    return ctx.declaration_of(rel, location)


def hits_for(ctx, host: str, issues: list[dict]) -> list[Hit]:
    """gixy's issues on one host, as Hits on the declarations that generated their lines."""
    hits = []
    for issue in issues:
        rel, line = issue.get("rel", "nginx.conf"), issue.get("line")
        source, loc = locate(ctx, host, rel, line)
        severity = SEVERITY.get(str(issue.get("severity", "")).upper(), "info")
        reason = " ".join(str(issue.get("reason") or issue.get("summary") or "").split())
        hits.append(Hit(source, loc, f"gixy {issue.get('plugin', '?')}: {reason} (host {host}, generated {rel})",
                        severity=severity))
    return hits


def gixy_hits(ctx, command: list[str] | None = None):
    """gixy's issues on every built host (the engine runs this with lint(gixy=True))."""
    command = command or gixy_command()
    for host in sorted(ctx.build.hosts):
        yield from hits_for(ctx, host, run_gixy(ctx.build.hosts[host].files, command))
