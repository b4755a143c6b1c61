"""`proxygen crawlers analyze` and `proxygen crawlers update-ranges`.

Exit codes of `analyze`: 0 the analysis ran (with or without findings), 1 an input error (undetectable
log format, bad proxygen.yml, unwritable --html), 2 a usage error (bad option value, missing log file,
missing or unreadable --asn-db).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from proxygen.cli import options as opt

def _settings(config: Optional[Path]):
    """(CrawlerSettings, Allowlists, log formats, blocklists dir) from proxygen.yml, or defaults without one."""
    from proxygen.model.allowlists import Allowlists
    from proxygen.model.crawlers import CrawlerSettings

    from proxygen.cli.config import load_optional_settings

    settings, path = load_optional_settings(config)
    if settings is None:
        return CrawlerSettings(), Allowlists(), {}, Path("blocklists")
    formats = {name: lf.format for name, lf in settings.log_formats.items()}
    return settings.crawlers, settings.allowlists, formats, path.parent / settings.blocklists_dir


def analyze_cmd(
    logs: list[str] = opt.log_files(),
    fmt: Optional[str] = opt.log_format(),
    config: Optional[Path] = opt.config("crawlers thresholds, route classes, allowlists"),
    nginx_conf: Optional[str] = opt.nginx_conf(),
    since: Optional[str] = opt.since(),
    until: Optional[str] = opt.until(),
    asn_db: Optional[Path] = opt.asn_db("to group IPs by network"),
    json_out: bool = opt.json_output("the findings (documented schema)"),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write a self-contained HTML report here."),
    verify_dns: bool = typer.Option(False, "--verify-dns", help="Confirm good-bot claims missing from the "
                                    "published ranges by forward-confirmed reverse DNS (network)."),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Findings shown in the table (default 50)."),
    emit: bool = typer.Option(False, "--emit", help="Merge the proposed rules into blocklists/analyzer.yml "
                              "(idempotent; allowlisted clients and verified bots are refused)."),
    blocklists: Optional[Path] = opt.blocklists_dir(" for --emit"),
    max_entries: int = typer.Option(10000, "--max-entries", min=1, help="Cap on analyzer entries for --emit."),
) -> None:
    """Find abusive crawlers in access logs and explain each finding (exit 0 even with findings)."""
    from proxygen.analyze.run import analyze
    from proxygen.cli.output import console, info, is_terminal

    crawlers, allowlists, formats, blocklists_dir = _settings(config)
    with _progress(enabled=is_terminal(stderr=True)) as progress:
        analysis = analyze(logs, settings=crawlers, allowlists=allowlists, fmt=fmt, since=since, until=until,
                           nginx_conf=nginx_conf, formats=formats, asn_db=asn_db,
                           verify_dns=verify_dns or None, progress=progress)
    if html is not None:
        from proxygen.report.html import render as render_html

        _write_report(html, render_html(analysis))
    if json_out:
        from proxygen.report.json_report import render as render_json

        typer.echo(render_json(analysis), nl=False)
    else:
        from proxygen.report.table import render as render_table

        render_table(analysis, console(), top=top or crawlers.top)
        if html is not None:
            info(f"HTML report written to {html}")
    if emit:
        _emit(analysis, blocklists or blocklists_dir, allowlists, crawlers, max_entries, quiet=json_out)


def _emit(analysis, directory: Path, allowlists, crawlers, cap: int, quiet: bool) -> None:
    """Merge the analysis' proposed rules into the analyzer's own blocklist file and say what changed."""
    from proxygen.blocklist.merge import Proposal, merge_proposals
    from proxygen.cli.output import info
    from proxygen.signals.good_bots import GoodBotVerifier

    proposals = [Proposal(**p) for p in analysis.proposals()]
    summary = merge_proposals(directory, proposals, allowlists=allowlists,
                              good_bots=GoodBotVerifier(crawlers.ranges_dir), cap=cap)
    for line in summary.lines():
        info(line, stderr=quiet)


class _progress:
    """A progress bar on stderr while logs are read (only on a terminal: never in pipes or CI logs)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._bar = None
        self._task = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        from proxygen.cli.output import console

        self._bar = Progress("reading logs", BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                            console=console(stderr=True), transient=True)
        self._bar.start()
        self._task = self._bar.add_task("read", total=None)
        return self.update

    def update(self, done: int, total: int | None) -> None:
        self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()


def _write_report(path: Path, text: str) -> None:
    """Write atomically: a report is complete or absent, never half-written."""
    from proxygen.atomic import atomic_write
    from proxygen.errors import ProxygenError

    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ProxygenError(f"{path}: directory {parent} does not exist; nothing written")
    try:
        atomic_write(path, text)
    except OSError as err:
        raise ProxygenError(f"{path}: cannot write the report: {err.strerror or err}") from None


def update_ranges_cmd(
    dest: Optional[Path] = typer.Option(None, "--dest", help="Directory to write the range files to "
                                        "(default: crawlers.ranges_dir of proxygen.yml, else proxygen's own "
                                        "data directory)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="proxygen.yml (default: ./proxygen.yml "
                                          "if present)."),
    only: Optional[list[str]] = typer.Option(None, "--only", help="Refresh only this bot (repeatable), e.g. googlebot."),
    timeout: float = typer.Option(15.0, "--timeout", min=0.5, max=120, help="Seconds per download."),
) -> None:
    """Download the good bots' published IP ranges (Googlebot, Bingbot, GPTBot...); needs network."""
    from proxygen.cli.output import error, info
    from proxygen.signals.datafiles import data_path
    from proxygen.signals.ranges_update import update_ranges

    crawlers, _, _, _ = _settings(config)
    target = dest or crawlers.ranges_dir or data_path("good_bots")
    results = update_ranges(target, only=only, timeout=timeout)
    for r in results:
        (info if r.ok else error)(f"{r.bot}: {'updated' if r.ok else 'kept the previous file'}: {r.message}")
    if any(not r.ok for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `crawlers` sub-app."""
    app.command("analyze")(analyze_cmd)
    app.command("update-ranges")(update_ranges_cmd)
