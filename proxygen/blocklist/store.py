"""Loading blocklists/: every `*.yml` file, validated, with file:line:col errors.

`manual.yml` (and any other hand-written file) belongs to people; `analyzer.yml` belongs to
`proxygen crawlers analyze --emit`. Loading never writes anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from proxygen.atomic import atomic_write  # noqa: F401  (re-exported: blocklist.edit writes through it)
from proxygen.blocklist import yamlpos
from proxygen.blocklist.entry import Entry, EntryValueError, ThrottleZone, make_entry, make_zone
from proxygen.errors import DeclarationError, Position, Problem

ANALYZER_FILE = "analyzer.yml"
MANUAL_FILE = "manual.yml"
TOP_LEVEL = ("zones", "entries")


@dataclass
class BlocklistFile:
    path: Path
    entries: list[Entry] = field(default_factory=list)
    zones: dict[str, ThrottleZone] = field(default_factory=dict)


@dataclass
class Blocklist:
    """Every entry and zone of a blocklists/ directory, in file order (analyzer.yml last)."""

    files: list[BlocklistFile] = field(default_factory=list)

    @property
    def entries(self) -> list[Entry]:
        return [e for f in self.files for e in f.entries]

    @property
    def zones(self) -> dict[str, ThrottleZone]:
        out: dict[str, ThrottleZone] = {}
        for f in self.files:
            out.update(f.zones)
        return out

    def active(self, now: datetime) -> list[Entry]:
        """Entries not expired at `now`: the only ones ever rendered or simulated."""
        return [e for e in self.entries if not e.expired(now)]

    def file(self, name: str) -> BlocklistFile | None:
        return next((f for f in self.files if f.path.name == name), None)


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def parse_file(text: str, path: Path) -> BlocklistFile:
    """Validate one blocklist file's text; all problems are reported together."""
    display = _display(path)
    root = yamlpos.load(text, display)
    result = BlocklistFile(path=path)
    if root is None:
        return result
    if not isinstance(root.value, dict):
        raise DeclarationError([Problem(root.position, "", "a blocklist file is a mapping with `zones:` and `entries:`")])
    problems: list[Problem] = []
    for key, node in root.value.items():
        if key not in TOP_LEVEL:
            problems.append(Problem(node.position, key, "unknown top-level key (expected zones, entries)"))
    default_source = "analyzer" if path.name == ANALYZER_FILE else "manual"

    zones_node = root.value.get("zones")
    if zones_node is not None and zones_node.value is not None:
        if not isinstance(zones_node.value, dict):
            problems.append(Problem(zones_node.position, "zones", "must be a mapping of zone name to settings"))
        else:
            for name, znode in zones_node.value.items():
                if not isinstance(znode.value, dict):
                    problems.append(Problem(znode.position, f"zones.{name}", "must be a mapping (rate, burst, ...)"))
                    continue
                try:
                    zone = make_zone(name, znode.plain())
                except EntryValueError as err:
                    where = znode.value.get(err.field, znode).position
                    problems.append(Problem(where, f"zones.{name}.{err.field}", err.message))
                    continue
                result.zones[name] = ThrottleZone(**{**zone.__dict__, "position": znode.position})

    entries_node = root.value.get("entries")
    seen: dict[tuple, Position] = {}
    if entries_node is not None and entries_node.value is not None:
        if not isinstance(entries_node.value, list):
            problems.append(Problem(entries_node.position, "entries", "must be a list of entries"))
        else:
            for index, enode in enumerate(entries_node.value):
                label = f"entries[{index}]"
                if not isinstance(enode.value, dict):
                    problems.append(Problem(enode.position, label, "must be a mapping (ip/cidr/asn/user_agent, action, reason, ...)"))
                    continue
                try:
                    entry = make_entry(enode.plain(), default_source, enode.position)
                except EntryValueError as err:
                    where = enode.value.get(err.field, enode).position
                    problems.append(Problem(where, f"{label}.{err.field}", err.message))
                    continue
                if entry.identity in seen:
                    problems.append(Problem(enode.position, label, f"duplicate of the entry at line {seen[entry.identity].line}"))
                    continue
                seen[entry.identity] = enode.position
                result.entries.append(entry)
    if problems:
        raise DeclarationError(problems)
    return result


def check_references(blocklist: Blocklist) -> None:
    """Zones defined twice must agree, and every throttle entry must name a defined zone."""
    problems: list[Problem] = []
    defined: dict[str, ThrottleZone] = {}
    for f in blocklist.files:
        for name, zone in f.zones.items():
            other = defined.get(name)
            if other is not None and not other.same_settings(zone):
                problems.append(Problem(zone.position or Position(_display(f.path)), f"zones.{name}",
                                        f"defined differently at {other.position}"))
            defined.setdefault(name, zone)
    for entry in blocklist.entries:
        if entry.action == "throttle" and entry.zone not in defined:
            known = ", ".join(sorted(defined)) or "none defined"
            problems.append(Problem(entry.position, "zone", f"zone {entry.zone!r} is not defined under `zones:` ({known})"))
    if problems:
        raise DeclarationError(problems)


def load_blocklists(directory: str | os.PathLike) -> Blocklist:
    """Load and validate every `*.yml` in `directory` (a missing directory is an empty blocklist)."""
    directory = Path(directory)
    blocklist = Blocklist()
    if not directory.is_dir():
        return blocklist
    paths = sorted(directory.glob("*.yml"), key=lambda p: (p.name == ANALYZER_FILE, p.name))
    problems: list[Problem] = []
    for path in paths:
        try:
            blocklist.files.append(parse_file(path.read_text(encoding="utf-8"), path))
        except DeclarationError as err:
            problems.extend(err.problems)
        except UnicodeDecodeError as err:
            problems.append(Problem(Position(_display(path)), "", f"not UTF-8 text: {err.reason}"))
    if problems:
        raise DeclarationError(problems)
    check_references(blocklist)
    return blocklist
