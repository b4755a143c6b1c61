"""The blocklist operations behind `proxygen blocklist list|add|remove|prune` (a Python API first).

Hand-edited files are edited as text (comments and order survive); analyzer.yml is rewritten whole.
Every operation validates the whole directory before and after, and writes nothing on error.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

from proxygen.blocklist.edit import EditError, add_to_file, remove_from_file, rewrite_file
from proxygen.blocklist.entry import Entry, EntryValueError, ThrottleZone, make_entry, make_zone
from proxygen.blocklist.lock import writer_lock
from proxygen.blocklist.merge import ANALYZER_HEADER, safety_problem
from proxygen.blocklist.store import (ANALYZER_FILE, MANUAL_FILE, Blocklist, BlocklistFile, check_references,
                                     load_blocklists)
from proxygen.errors import ProxygenError, UsageError


def parse_expiry(text: str | None, now: datetime) -> datetime | None:
    """`30d`, `12h`, `2w` from now, or a date/datetime; None/"never" for no expiry."""
    if text is None or text.strip().lower() in ("", "never"):
        return None
    m = re.fullmatch(r"(\d+)([hdw])", text.strip())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        if unit == "h":
            return (now + timedelta(hours=n)).replace(microsecond=0)
        days = n * (7 if unit == "w" else 1)  # whole days read better in the file: expires at 00:00 UTC
        return datetime.combine(now.date() + timedelta(days=days), time(0), tzinfo=timezone.utc)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--expires: {text!r} is not a duration (30d, 12h, 2w) or a date (2026-12-31)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def key_field(key: str) -> str:
    """Which entry field a command-line key fills: ip, cidr or asn (user agents use --ua)."""
    text = key.strip()
    if re.fullmatch(r"(?i)(AS)?\d+", text) and not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", text):
        return "asn"
    return "cidr" if "/" in text else "ip"


def add(directory, *, key: str | None = None, user_agent: str | None = None, match: str = "contains",
        action: str, reason: str, evidence: str | None = None, status: int | None = None,
        zone: str | None = None, rate: str | None = None, burst: int | None = None, per: str = "client",
        expires: datetime | None = None, file: str = MANUAL_FILE, allowlists=None, good_bots=None,
        now: datetime | None = None) -> Entry:
    """Add one entry to a hand-edited file (default manual.yml) after validating it."""
    now = now or datetime.now(timezone.utc)
    directory = Path(directory)
    if file == ANALYZER_FILE:
        raise UsageError("analyzer.yml is written by `crawlers analyze --emit`; add to manual.yml (the default)")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+\.yml", file):
        raise UsageError(f"--file: {file!r} must be a file name ending in .yml inside the blocklists directory")
    if (key is None) == (user_agent is None):
        raise UsageError("give either an IP/CIDR/ASN or --ua PATTERN")
    data: dict = {"action": action, "reason": reason, "source": "manual",
                  "created": datetime.combine(now.date(), time(0), tzinfo=timezone.utc)}
    if key is not None:
        data[key_field(key)] = key
    else:
        data["user_agent"] = user_agent
        data["match"] = match
    if evidence:
        data["evidence"] = evidence
    if status is not None:
        data["status"] = status
    if zone is not None:
        data["zone"] = zone
    if expires is not None:
        data["expires"] = expires
    try:
        entry = make_entry(data)
    except EntryValueError as err:
        raise UsageError(f"{err.field}: {err.message}") from None

    with writer_lock(directory):  # from the read to the write: a concurrent edit is never lost
        return _add_locked(directory, entry, action, zone, rate, burst, per, file, allowlists, good_bots)


def _add_locked(directory: Path, entry: Entry, action: str, zone: str | None, rate: str | None, burst: int | None,
                per: str, file: str, allowlists, good_bots) -> Entry:
    current = load_blocklists(directory)
    new_zone: ThrottleZone | None = None
    if action == "throttle":
        existing = current.zones.get(zone)
        if rate is not None:
            try:
                new_zone = make_zone(zone, {"rate": rate, "burst": 10 if burst is None else burst, "per": per})
            except EntryValueError as err:
                raise UsageError(f"zone {err.field}: {err.message}") from None
            if existing is not None and not existing.same_settings(new_zone):
                raise UsageError(f"zone {zone!r} already exists with other settings (at {existing.position}); "
                                 "omit --rate/--burst to use it, or pick another name")
        elif existing is None:
            raise UsageError(f"zone {zone!r} is not defined: give --rate (and --burst) to create it")
    problem = safety_problem(entry, allowlists, good_bots)
    if problem:
        raise UsageError(f"refusing {entry.rule_id}: {problem}")
    for f in current.files:
        for e in f.entries:
            if e.identity == entry.identity:
                raise UsageError(f"{entry.rule_id} is already listed at {e.position}")
    _check_directory_with(current, directory / file, entry, new_zone)
    try:
        add_to_file(directory / file, entry, new_zone)
    except EditError as err:
        raise ProxygenError(str(err)) from None
    return entry


def _check_directory_with(current: Blocklist, path: Path, entry: Entry, zone: ThrottleZone | None) -> None:
    """The directory as a whole must still validate with the new entry (zones agree across files),
    checked before anything is written."""
    files = []
    for f in current.files:
        if f.path.name == path.name:
            f = BlocklistFile(f.path, [*f.entries, entry], {**f.zones, **({zone.name: zone} if zone else {})})
        files.append(f)
    if not any(f.path.name == path.name for f in current.files):
        files.append(BlocklistFile(path, [entry], {zone.name: zone} if zone else {}))
    check_references(Blocklist(files))


def identity_for(key: str | None, user_agent: str | None, match: str) -> tuple:
    data = {"action": "block", "reason": "-"}
    if key is not None:
        data[key_field(key)] = key
    else:
        data["user_agent"] = user_agent
        data["match"] = match
    try:
        return make_entry(data).identity
    except EntryValueError as err:
        raise UsageError(f"{err.field}: {err.message}") from None


def remove(directory, *, key: str | None = None, user_agent: str | None = None, match: str = "contains") -> list[Entry]:
    """Remove the entry for this key from every file that lists it; returns the removed entries."""
    if (key is None) == (user_agent is None):
        raise UsageError("give either an IP/CIDR/ASN or --ua PATTERN")
    directory = Path(directory)
    identity = identity_for(key, user_agent, match)
    removed: list[Entry] = []
    if directory.is_dir():  # (locking would create a missing one)
        with writer_lock(directory):
            for f in load_blocklists(directory).files:
                if any(e.identity == identity for e in f.entries):
                    removed.extend(_remove_in(f, {identity}))
    if not removed:
        raise UsageError(f"{key or user_agent} is not in {directory}")
    return removed


def _remove_in(f, identities: set) -> list[Entry]:
    if f.path.name == ANALYZER_FILE:
        kept = [e for e in f.entries if e.identity not in identities]
        used = {e.zone for e in kept if e.action == "throttle"}
        rewrite_file(f.path, {n: z for n, z in f.zones.items() if n in used}, kept, ANALYZER_HEADER)
        return [e for e in f.entries if e.identity in identities]
    try:
        return remove_from_file(f.path, identities)
    except EditError as err:
        raise ProxygenError(str(err)) from None


def expired(blocklist: Blocklist, now: datetime) -> list[Entry]:
    return [e for e in blocklist.entries if e.expired(now)]


def prune(directory, *, now: datetime | None = None, dry_run: bool = False) -> list[Entry]:
    """Drop expired entries from every file (they are already never rendered)."""
    now = now or datetime.now(timezone.utc)
    if dry_run or not Path(directory).is_dir():
        return expired(load_blocklists(directory), now)
    with writer_lock(Path(directory)):
        current = load_blocklists(directory)
        removed: list[Entry] = []
        for f in current.files:
            ids = {e.identity for e in f.entries if e.expired(now)}
            if ids:
                removed.extend(_remove_in(f, ids))
    return removed
