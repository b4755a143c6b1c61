"""`proxygen blocklist list|add|remove|prune`: inspect and edit blocklists/ from the command line.

Exit codes: 0 done, 1 a file in blocklists/ or proxygen.yml is invalid (nothing written), 2 a usage
error (bad value, refused entry, unknown key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from proxygen.cli import options as opt

_DIR = opt.blocklists_dir()
_CONFIG = opt.config("allowlists and blocklists_dir")


def _context(directory: Optional[Path], config: Optional[Path]):
    """(blocklists directory, Allowlists or None) from the options and proxygen.yml."""
    from proxygen.cli.config import load_optional_settings

    settings, path = load_optional_settings(config)
    allowlists, blocklists_dir = None, Path("blocklists")
    if settings is not None:
        allowlists = settings.allowlists
        blocklists_dir = path.parent / settings.blocklists_dir
    return (directory or blocklists_dir), allowlists


def _good_bots():
    from proxygen.signals.good_bots import GoodBotVerifier

    return GoodBotVerifier()


def _describe(entry) -> str:
    what = entry.action
    if entry.action == "block":
        what += f" {entry.status}"
    elif entry.action == "throttle":
        what += f" {entry.zone}"
    return what


def entries_table(entries, now):
    """Blocklist entries as a rich table. Every cell is plain text: reasons quote user agents from
    logs, which must be shown, never read as rich markup or terminal control."""
    from rich.table import Table
    from rich.text import Text

    from proxygen.report.terminal_text import terminal_safe

    table = Table("rule", "action", "source", "expires", "reason", "where")
    for e in entries:
        exp = f"{e.expires:%Y-%m-%d}" + (" (expired)" if e.expired(now) else "") if e.expires else "never"
        table.add_row(*(Text(terminal_safe(str(cell))) for cell in (e.rule_id, _describe(e), e.source, exp,
                                                                     e.reason, e.position)))
    return table


def list_cmd(
    directory: Optional[Path] = _DIR,
    config: Optional[Path] = _CONFIG,
    show_all: bool = typer.Option(False, "--all", help="Include expired entries (never rendered)."),
    json_out: bool = typer.Option(False, "--json", help="Print entries as JSON."),
) -> None:
    """List the entries of blocklists/ (active ones unless --all)."""
    import json
    from datetime import datetime, timezone

    from proxygen.blocklist.store import load_blocklists
    from proxygen.cli.output import console, info, is_terminal

    directory, _ = _context(directory, config)
    now = datetime.now(timezone.utc)
    bl = load_blocklists(directory)
    entries = bl.entries if show_all else bl.active(now)
    if json_out:
        rows = [{"rule": e.rule_id, "key_type": e.key_type, "key": e.key, "match": e.match, "action": e.action,
                 "status": e.status, "zone": e.zone, "reason": e.reason, "evidence": e.evidence, "source": e.source,
                 "created": e.created.isoformat() if e.created else None,
                 "expires": e.expires.isoformat() if e.expires else None, "expired": e.expired(now),
                 "where": str(e.position) if e.position else None} for e in entries]
        zones = {z.name: {"rate": z.rate, "burst": z.burst, "nodelay": z.nodelay, "dry_run": z.dry_run, "per": z.per}
                 for z in bl.zones.values()}
        typer.echo(json.dumps({"entries": rows, "zones": zones}, indent=2))
        return
    if not entries:
        info(f"{directory}: no {'' if show_all else 'active '}entries")
        return
    if is_terminal():
        console().print(entries_table(entries, now))
    else:
        for e in entries:
            exp = f"{e.expires:%Y-%m-%d}" if e.expires else "never"
            info(f"{e.rule_id}\t{_describe(e)}\t{e.source}\t{exp}{' expired' if e.expired(now) else ''}\t"
                 f"{e.reason}\t{e.position}")
    expired_count = len(bl.entries) - len(bl.active(now))
    if expired_count and not show_all:
        info(f"({expired_count} expired entries hidden; `proxygen blocklist prune` removes them)")


def add_cmd(
    key: Optional[str] = typer.Argument(None, help="An IP, a CIDR or an ASN (AS12345); or use --ua."),
    action: str = typer.Option(..., "--action", "-a", help="block, throttle or tarpit."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why (shown to whoever reads this at 3 a.m.)."),
    user_agent: Optional[str] = typer.Option(None, "--ua", help="A user-agent pattern instead of an address."),
    match: str = typer.Option("contains", "--match", help="For --ua: exact, contains or regex."),
    status: Optional[int] = typer.Option(None, "--status", help="For block: 403 (default) or 444."),
    zone: Optional[str] = typer.Option(None, "--zone", help="For throttle: the zone name. Over its burst nginx "
                                       "answers with the location's limit_req_status: 429, or e.g. 503 where "
                                       "the site's location sets its own."),
    rate: Optional[str] = typer.Option(None, "--rate", help="For throttle: create the zone with this rate "
                                       "(30r/m, 5r/s)."),
    burst: Optional[int] = typer.Option(None, "--burst", help="For throttle with --rate: burst (default 10)."),
    per: str = typer.Option("client", "--per", help="For throttle with --rate: client (a bucket per address) or "
                            "rule (one bucket shared by every client the rule matches)."),
    evidence: Optional[str] = typer.Option(None, "--evidence", help="A short evidence summary."),
    expires: Optional[str] = typer.Option("30d", "--expires", help="30d, 12h, 2w, a date, or never."),
    file: str = typer.Option("manual.yml", "--file", help="The hand-edited file to add to."),
    directory: Optional[Path] = _DIR,
    config: Optional[Path] = _CONFIG,
) -> None:
    """Add an entry (validated, refused if it would hit an allowlisted client or a verified good bot)."""
    from datetime import datetime, timezone

    from proxygen.blocklist import ops
    from proxygen.cli.output import info

    directory, allowlists = _context(directory, config)
    now = datetime.now(timezone.utc)
    entry = ops.add(directory, key=key, user_agent=user_agent, match=match, action=action, reason=reason,
                    evidence=evidence, status=status, zone=zone, rate=rate, burst=burst, per=per,
                    expires=ops.parse_expiry(expires, now), file=file, allowlists=allowlists,
                    good_bots=_good_bots(), now=now)
    info(f"added {entry.rule_id}: {_describe(entry)} to {directory / file}")


def remove_cmd(
    key: Optional[str] = typer.Argument(None, help="The IP, CIDR or ASN to remove; or use --ua."),
    user_agent: Optional[str] = typer.Option(None, "--ua", help="A user-agent pattern to remove."),
    match: str = typer.Option("contains", "--match", help="For --ua: exact, contains or regex."),
    directory: Optional[Path] = _DIR,
    config: Optional[Path] = _CONFIG,
) -> None:
    """Remove an entry from every file listing it (comments and order of hand-edited files are kept)."""
    from proxygen.blocklist import ops
    from proxygen.cli.output import info

    directory, _ = _context(directory, config)
    for entry in ops.remove(directory, key=key, user_agent=user_agent, match=match):
        info(f"removed {entry.rule_id} from {entry.position.file if entry.position else directory}")


def prune_cmd(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed."),
    directory: Optional[Path] = _DIR,
    config: Optional[Path] = _CONFIG,
) -> None:
    """Drop expired entries (they are never rendered, even before pruning)."""
    from proxygen.blocklist import ops
    from proxygen.cli.output import info

    directory, _ = _context(directory, config)
    removed = ops.prune(directory, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for entry in removed:
        info(f"{verb} {entry.rule_id} (expired {entry.expires:%Y-%m-%d}) from {entry.position.file}")
    noun = "entry" if len(removed) == 1 else "entries"
    info(f"{len(removed)} expired {noun} {'would be removed' if dry_run else 'removed'}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `blocklist` sub-app."""
    app.command("list")(list_cmd)
    app.command("add")(add_cmd)
    app.command("remove")(remove_cmd)
    app.command("prune")(prune_cmd)
