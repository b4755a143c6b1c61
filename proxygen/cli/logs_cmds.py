"""`proxygen logs check`: read logs, say which format was used, and count what parses.

Exit codes: 0 the logs were read (malformed lines, if any, are counted and shown); 1 an input
error (no such file, undetectable format, unreadable proxygen.yml) or no line parsed at all;
2 a usage error (bad option value).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from proxygen.cli import options as opt


def _formats(config: Optional[Path]) -> dict[str, str]:
    """log_formats from proxygen.yml (the given one, else ./proxygen.yml if present)."""
    from proxygen.cli.config import load_optional_settings

    settings, _ = load_optional_settings(config)
    if settings is None:
        return {}
    return {name: lf.format for name, lf in settings.log_formats.items()}


def progress_bar(quiet: bool):
    """(callback, stop) showing a rich progress bar on stderr when it is a terminal and not --quiet."""
    from proxygen.cli.output import is_terminal

    if quiet or not is_terminal(stderr=True):
        return None, lambda: None
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from proxygen.cli.output import console

    bar = Progress(TextColumn("reading"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                   console=console(stderr=True), transient=True)
    task = bar.add_task("read", total=None)
    started = False

    def update(done: int, total: int | None) -> None:
        nonlocal started
        if not started:
            bar.start()
            started = True
        bar.update(task, completed=done, total=total)

    def stop() -> None:
        if started:
            bar.stop()

    return update, stop


def check_cmd(
    logs: list[str] = opt.log_files(),
    fmt: Optional[str] = opt.log_format(),
    nginx_conf: Optional[str] = opt.nginx_conf(),
    config: Optional[Path] = opt.config("log_formats"),
    since: Optional[str] = opt.since(),
    until: Optional[str] = opt.until(),
    json_out: bool = opt.json_output("the result as one object"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Read logs and report the format used, lines read/parsed/malformed (with samples) and the time range."""
    from proxygen.cli.output import info
    from proxygen.errors import ProxygenError
    from proxygen.logs import open_logs

    callback, stop = progress_bar(quiet or json_out)
    try:
        source = open_logs(list(logs), fmt, since=since, until=until, nginx_conf=nginx_conf,
                           formats=_formats(config), progress=callback)
        for _ in source.batches(columns={"time"}):
            pass
    finally:
        stop()
    stats = source.stats
    result = {
        "format": {"name": source.format.name, "string": source.format.format,
                   "chosen": "detected" if source.detected else "given",
                   "detection": {k: round(v, 3) for k, v in source.detection_scores.items()}},
        "files": stats.files,
        "lines_read": stats.lines_read, "parsed": stats.parsed, "malformed": stats.malformed,
        "filtered_out": stats.filtered_out, "non_utf8_lines": stats.non_utf8_lines,
        "first_time": stats.first_time.isoformat() if stats.first_time else None,
        "last_time": stats.last_time.isoformat() if stats.last_time else None,
        "malformed_samples": [{"file": s.file, "line": s.line, "text": s.text} for s in stats.malformed_samples],
        "messages": stats.messages,
    }
    if json_out:
        typer.echo(json.dumps(result, indent=2))
    else:
        how = ("given" if not source.detected else "detected from the first lines" if source.detection_scores
               else "no line to detect it from; assumed")
        info(f"format: {source.format.name} ({how})")
        info(f"  {source.format.format}")
        info(f"files: {', '.join(stats.files)}")
        info(f"lines read: {stats.lines_read:,}  parsed: {stats.parsed:,}  malformed: {stats.malformed:,}"
             + (f"  outside --since/--until: {stats.filtered_out:,}" if stats.filtered_out else ""))
        if stats.first_time:
            info(f"time range: {result['first_time']} .. {result['last_time']} (UTC)")
        if stats.malformed_samples:
            info("malformed lines (first few):")
            for sample in stats.malformed_samples:
                info(f"  {sample}")
        if stats.messages:
            info("messages:")
            for message in stats.messages[:20]:
                info(f"  {message}")
            if len(stats.messages) > 20:
                info(f"  ... and {len(stats.messages) - 20} more")
    if stats.lines_read == 0:
        raise ProxygenError(f"nothing to read: {', '.join(stats.files)} holds no log line")
    if stats.parsed == 0 and stats.filtered_out == 0:
        raise ProxygenError(f"no line of {', '.join(stats.files)} could be parsed as format {source.format.name}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the given app."""
    app.command("check")(check_cmd)
