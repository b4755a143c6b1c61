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
    from proxygen.cli.output import console, info
    from proxygen.compile.build import build
    from proxygen.compile.output import write_build
    from proxygen.model import load_repository

    repo = load_repository(root)
    result = build(repo, host)
    report = write_build(result, out)
    for warning in dict.fromkeys(w for h in result.hosts.values() for w in h.warnings):
        console(stderr=True).print(f"warning: blocklists: {warning}", markup=False)
    if verbose or report.changed <= 20:
        for path in report.written:
            info(f"wrote    {out}/{path}")
        for path in report.removed:
            info(f"removed  {out}/{path}")
    info(f"{len(result.hosts)} host(s), {result.site_count} site(s), {result.file_count} file(s): "
         f"{len(report.written)} written, {len(report.removed)} removed, {len(report.unchanged)} unchanged")


def lint_cmd(
    host: Optional[str] = typer.Option(None, "--host", help="Check only this host."),
    nginx: bool = typer.Option(False, "--nginx", help="Also run the real `nginx -t` on each host, in a sandbox."),
    nginx_binary: Optional[str] = typer.Option(None, "--nginx-binary", help="nginx to run (default: from PATH)."),
    root: Path = typer.Option(Path("."), "--root", help=ROOT_HELP),
) -> None:
    """Validate every declaration, build in memory and re-check (the CI entry point).

    Exit 0 when clean, 1 when problems were found, 2 on a usage error. With --nginx the
    config is rendered for the installed nginx's version and checked with `nginx -t`.
    """
    from proxygen.cli.output import error, info
    from proxygen.compile.lint import lint

    report = lint(root, host=host, nginx=nginx, nginx_binary=nginx_binary)
    for note in report.notes:
        info(note)
    if not report.ok:
        for problem in report.problems:
            error(problem)
        raise typer.Exit(1)
    info(f"ok: {report.hosts} host(s), {report.sites} site(s), {report.files} file(s) checked")


def diff_cmd(
    host: Optional[str] = typer.Option(None, "--host", help="Compare only this host."),
    out: Path = typer.Option(Path("build"), "--out", help="The output directory to compare with."),
    root: Path = typer.Option(Path("."), "--root", help=ROOT_HELP),
) -> None:
    """Show what `proxygen build` would change in OUT, as a unified diff (exit 1 if anything differs)."""
    import difflib

    from proxygen.cli.output import info
    from proxygen.compile.build import build
    from proxygen.model import load_repository

    from proxygen.compile.output import read_manifest

    result = build(load_repository(root), host)
    changed = 0
    for host_name, host_out in sorted(result.hosts.items()):
        for rel in sorted(read_manifest(out / host_name) - set(host_out.files)):
            if (out / host_name / rel).is_file():
                changed += 1
                info(f"removed: {host_name}/{rel}")
        for rel, text in sorted(host_out.files.items()):
            target = out / host_name / rel
            old = target.read_text(encoding="utf-8") if target.is_file() else ""
            if old != text:
                changed += 1
                for line in difflib.unified_diff(old.splitlines(), text.splitlines(), f"a/{host_name}/{rel}",
                                                 f"b/{host_name}/{rel}", lineterm=""):
                    info(line)
    if changed:
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
