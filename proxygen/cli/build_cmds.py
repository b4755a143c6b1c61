"""`proxygen build`, `lint`, `diff`, `schema`: compile declarations into nginx config and check it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

ROOT_HELP = "Repository root (where proxygen.yml is)."


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.command("build")(build_cmd)
    app.command("lint")(lint_cmd)
    app.command("diff")(diff_cmd)
    app.command("schema")(schema_cmd)


def build_cmd(
    host: Optional[str] = typer.Option(None, "--host", help="Build only this host (default: every host)."),
    out: Path = typer.Option(Path("build"), "--out", help="Output directory; each host goes to OUT/<host>/."),
    root: Path = typer.Option(Path("."), "--root", help=ROOT_HELP),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every written or removed file."),
) -> None:
    """Compile sites/*.yml and proxygen.yml into OUT/<host>/nginx.conf and its includes.

    Everything is rendered and re-checked before anything is written; a failed build
    leaves the previous output untouched. Only files whose content changed are rewritten.
    """
    from proxygen.cli.output import info
    from proxygen.compile.build import build
    from proxygen.compile.output import write_build
    from proxygen.model import load_repository

    repo = load_repository(root)
    result = build(repo, host)
    report = write_build(result, out)
    for warning in dict.fromkeys(w for h in result.hosts.values() for w in h.warnings):
        info(f"warning: blocklists: {warning}", stderr=True)
    if verbose or report.changed <= 20:
        for path in report.written:
            info(f"wrote    {out}/{path}")
        for path in report.removed:
            info(f"removed  {out}/{path}")
    info(f"{len(result.hosts)} host(s), {result.site_count} site(s), {result.file_count} file(s): "
         f"{len(report.written)} written, {len(report.removed)} removed, {len(report.unchanged)} unchanged")


def lint_cmd(
    host: Optional[str] = typer.Option(None, "--host", help="Build and nginx-test only this host (rules still "
                                                              "see every site)."),
    nginx: bool = typer.Option(False, "--nginx", help="Also run the real `nginx -t` on each host, in a sandbox."),
    nginx_binary: Optional[str] = typer.Option(None, "--nginx-binary", help="nginx to run (default: from PATH)."),
    root: Path = typer.Option(Path("."), "--root", help=ROOT_HELP),
    fmt: str = typer.Option("text", "--format", "-f", help="text, json, sarif (GitHub code scanning) or github "
                                                            "(workflow annotations)."),
    fail_on: str = typer.Option("error", "--fail-on", help="Exit 1 when a finding is at least this severe: "
                                                           "error, warning or info."),
    base: Optional[str] = typer.Option(None, "--base", help="Report only findings that are new since this git "
                                                            "revision (e.g. origin/main); rules still see everything."),
    explain: Optional[str] = typer.Option(None, "--explain", help="Print what a rule checks and how to fix it "
                                                                  "(e.g. PX201), or `all` to list every rule."),
    gixy: bool = typer.Option(False, "--gixy", help="Also run gixy-next (pip install gixy-next) on the generated "
                                                    "config; its issues are PX290 findings on the declarations."),
) -> None:
    """Check declarations and the config they generate (the CI and pull-request entry point).

    Every finding has a rule code (`--explain CODE`), a severity and the file:line of the declaration
    that causes it. Exit 0 when nothing reaches --fail-on, 1 otherwise, 2 on a usage error.
    """
    from proxygen.cli.output import info
    from proxygen.errors import UsageError
    from proxygen.lint import CODES, RULES, lint
    from proxygen.lint.formats import FORMATS, render, summary
    from proxygen.lint.rule import SEVERITIES
    from proxygen.report.terminal_text import terminal_safe

    if explain is not None:
        typer.echo(_explain(explain, CODES, RULES))
        return
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fail_on not in SEVERITIES:
        raise UsageError(f"--fail-on {fail_on!r}: use one of error, warning, info")
    report = lint(root, host=host, nginx=nginx, nginx_binary=nginx_binary, base=base, gixy=gixy)
    output = render(report, fmt)
    if output:  # text quotes declarations: shown, never obeyed (the other formats escape for their readers)
        typer.echo(terminal_safe(output) if fmt == "text" else output)
    if fmt == "text":
        for note in report.notes:
            info(note)
        info(summary(report))
    if report.at_least(fail_on):
        raise typer.Exit(1)


def _explain(code: str, codes, rules) -> str:
    from proxygen.errors import UsageError

    if code.lower() == "all":
        return "\n".join(f"{r.code}  {r.severity:<7}  {r.name}: {r.summary}" for r in rules)
    r = codes.get(code.upper())
    if r is None:
        raise UsageError(f"--explain {code!r}: no such rule (`proxygen lint --explain all` lists them)")
    where = "enforced while loading declarations" if r.check is None and r.code not in ("PX000", "PX002", "PX003") \
        else "lint rule"
    import textwrap

    body = "\n\n".join(textwrap.fill(" ".join(p.split()), 100) for p in r.doc.split("\n\n"))
    return (f"{r.code} {r.name} ({r.severity}, {where})\n{r.summary}\n\n{body}\n\n"
            f"Accept a justified exception in the declaration:\n"
            f"  lint_ignore:\n    - rule: {r.code}\n      reason: why this is safe here")


def diff_cmd(
    host: Optional[str] = typer.Option(None, "--host", help="Compare only this host."),
    out: Path = typer.Option(Path("build"), "--out", help="The output directory to compare with."),
    base: Optional[str] = typer.Option(None, "--base", help="Compare with the config the declarations at this git "
                                                            "revision generate (e.g. origin/main) instead of OUT."),
    root: Path = typer.Option(Path("."), "--root", help=ROOT_HELP),
) -> None:
    """Show, per host, what would change in the generated nginx config, as a unified diff (exit 1 if any).

    Without --base: what `proxygen build` would change in OUT. With --base REV: what the change since REV
    does to production config, rendered by this proxygen on both sides (for pull-request review).
    """
    from proxygen.cli.output import info
    from proxygen.compile.diff import diff_against_base, diff_against_output

    lines = diff_against_base(root, base, host) if base is not None else diff_against_output(root, out, host)
    for line in lines:
        info(line)
    if lines:
        raise typer.Exit(1)
    info("no changes")


def schema_cmd(
    what: str = typer.Argument("site", help="site (a sites/*.yml file) or settings (proxygen.yml)."),
) -> None:
    """Print the JSON schema of a site declaration or of proxygen.yml (for editors and review)."""
    import json

    from proxygen.errors import UsageError

    if what == "site":
        from proxygen.model.site import Site as model
    elif what == "settings":
        from proxygen.model.settings import Settings as model
    else:
        raise UsageError(f"unknown schema {what!r}: use site or settings")
    typer.echo(json.dumps(model.model_json_schema(by_alias=True), indent=2, sort_keys=True))
