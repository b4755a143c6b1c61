"""Editing blocklist files without disturbing what people wrote.

Hand-edited files (manual.yml) are changed as text: `add` inserts one entry block at the end of
the `entries:` list, `remove`/`prune` delete exactly the lines of one entry (with the comment lines
directly above it). Every other byte, comment and the order of entries survive. Each edit re-parses
the result and checks that it changed exactly the intended entry before anything is written, so a
layout the text editor does not understand is refused instead of mangled. The machine-owned
analyzer.yml is instead rewritten whole (atomically) by `dump_file`.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import yaml

from proxygen.blocklist.entry import Entry, ThrottleZone
from proxygen.blocklist.store import BlocklistFile, atomic_write, parse_file
from proxygen.errors import DeclarationError, ProxygenError

MANUAL_HEADER = """\
# Hand-maintained blocklist rules (see blocklists/README.md for the format).
# `proxygen blocklist add/remove/prune` edit this file in place and keep comments and order.
"""


class EditError(ProxygenError):
    """An edit could not be applied; nothing was written."""


# ----------------------------------------------------------------------------- serialization


# A value written plain must read back as the same string wherever the file is read: by
# yamlpos's line reader (PyYAML's implicit resolvers) and by libyaml's composer. The usual value
# (an address, a network, AS12345, a reason in words) is decided here with one regex and the
# resolver's own patterns; a value outside this set is quoted, except the rare one whose first
# character is an indicator (`-`, `?`, `:`, ...) or that holds a tab, which PyYAML decides.
# What YAML readers refuse raw or read as a line break (NEL and the Unicode separators fold).
_UNREADABLE = r"\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff"
_PLAIN_FAST = re.compile(rf"[^-?:,\[\]{{}}#&*!|>'\"%@`\s\t{_UNREADABLE}][^#\t{_UNREADABLE}]*")
_RAW_UNSAFE = re.compile(rf"[{_UNREADABLE}]")
# Characters a double-quoted scalar cannot hold as they are.
_ESCAPED = re.compile(rf"[\\\"\t{_UNREADABLE}]")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()
_CACHE_LIMIT = 200_000
_text_cache: dict[str, str] = {}
_date_cache: dict[datetime, str] = {}


def _escape(match: re.Match) -> str:
    ch = match.group()
    return _ESCAPES.get(ch) or f"\\u{ord(ch):04x}"


def quoted(text: str) -> str:
    """`text` as a YAML double-quoted scalar (JSON's escapes, plus what YAML treats as a line break
    or will not read raw)."""
    if _SURROGATE.search(text):
        raise EditError(f"{text!r} holds a lone surrogate: not Unicode text (bytes that were not UTF-8?); it cannot be written")
    return '"' + _ESCAPED.sub(_escape, text) + '"'


def plain_ok(text: str) -> bool:
    """Whether `text` written plain after `key: ` reads back as exactly `text`."""
    if _PLAIN_FAST.fullmatch(text):
        if text[-1].isspace() or text[0].isspace() or text[-1] == ":" or ": " in text or text.startswith("..."):
            return False
        return _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG
    if not text or "#" in text or ": " in text or text != text.strip() or _RAW_UNSAFE.search(text) \
            or text.startswith(("---", "...")):
        return False
    return _reads_back(text)


def _reads_back(text: str) -> bool:
    """The slow, rare case: both PyYAML and libyaml read `key: text` as `text`."""
    document = "key: " + text
    try:
        return (yaml.safe_load(text) == text and yaml.safe_load(document) == {"key": text}
                and yaml.load(document, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) == {"key": text})
    except yaml.YAMLError:
        return False


def _scalar(value) -> str:
    """One value as YAML that reads back as the same value (plain when that is safe, else quoted)."""
    if isinstance(value, str):
        hit = _text_cache.get(value)
        if hit is None:
            hit = value if plain_ok(value) else quoted(value)
            if len(_text_cache) < _CACHE_LIMIT:
                _text_cache[value] = hit
        return hit
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        hit = _date_cache.get(value)
        if hit is None:
            utc = value.astimezone(timezone.utc)
            if (utc.hour, utc.minute, utc.second, utc.microsecond) == (0, 0, 0, 0):
                hit = utc.date().isoformat()
            elif utc.microsecond:
                hit = f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond:06d}Z"
            else:
                hit = f"{utc:%Y-%m-%dT%H:%M:%S}Z"
            if len(_date_cache) < _CACHE_LIMIT:
                _date_cache[value] = hit
        return hit
    return _scalar(str(value))


def entry_fields(entry: Entry) -> list[tuple[str, object]]:
    """The entry as ordered (field, value) pairs, omitting defaults that add nothing."""
    key_value = f"AS{entry.key}" if entry.key_type == "asn" else entry.key
    pairs: list[tuple[str, object]] = [(entry.key_type, key_value)]
    if entry.key_type == "user_agent":
        pairs.append(("match", entry.match))
    pairs.append(("action", entry.action))
    if entry.action == "block":
        pairs.append(("status", entry.status or 403))
    if entry.action == "throttle":
        pairs.append(("zone", entry.zone))
    pairs.append(("reason", entry.reason))
    if entry.evidence is not None:
        pairs.append(("evidence", entry.evidence))
    pairs.append(("source", entry.source))
    if entry.created:
        pairs.append(("created", entry.created))
    if entry.expires:
        pairs.append(("expires", entry.expires))
    return pairs


def entry_block(entry: Entry, indent: int = 2) -> str:
    pad = " " * indent
    lines = []
    for i, (name, value) in enumerate(entry_fields(entry)):
        lead = f"{pad}- " if i == 0 else f"{pad}  "
        try:
            lines.append(f"{lead}{name}: {_scalar(value)}")
        except EditError as err:
            raise EditError(f"{entry.rule_id}: {name}: {err}") from None
    return "\n".join(lines) + "\n"


_FLOW_PLAIN = re.compile(r"[a-z0-9][a-z0-9_/]*")


def _flow(text: str) -> str:
    """A value inside `{...}`: plain only for the simple words zones use (`30r/m`, `client`)."""
    return text if _FLOW_PLAIN.fullmatch(text) and plain_ok(text) else quoted(text)


def zone_line(zone: ThrottleZone, indent: int = 2) -> str:
    # a zone may be named `on` or `null`: the key is written like any other value
    return (f"{' ' * indent}{_scalar(zone.name)}: {{rate: {_flow(zone.rate)}, burst: {zone.burst}, "
            f"nodelay: {_scalar(zone.nodelay)}, dry_run: {_scalar(zone.dry_run)}, per: {_flow(zone.per)}}}\n")


def dump_file(zones: dict[str, ThrottleZone], entries: list[Entry], header: str = "") -> str:
    """A whole blocklist file (used for the machine-owned analyzer.yml)."""
    parts = [header]
    if zones:
        parts.append("zones:\n")
        parts.extend(zone_line(zones[name]) for name in sorted(zones))
    parts.append("entries:\n" if entries else "entries: []\n")
    parts.extend(entry_block(e) for e in entries)
    return "".join(parts)


# ----------------------------------------------------------------------------- text edits


def _compose(text: str):
    """The node tree with line/column marks (libyaml's composer when present: ~10x PyYAML's)."""
    try:
        return yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as err:  # parse_file already reported this with a position
        raise EditError(f"cannot edit: {err}") from None


def _entries_node(root):
    if root is None or not isinstance(root, yaml.MappingNode):
        return None, None
    for key, value in root.value:
        if key.value == "entries":
            return key, value
    return None, None


def _zones_node(root):
    if root is None or not isinstance(root, yaml.MappingNode):
        return None, None
    for key, value in root.value:
        if key.value == "zones":
            return key, value
    return None, None


def _check(path: Path, new_text: str, expect_entries: list[Entry], expect_zones: dict | None = None) -> BlocklistFile:
    """Re-parse the edited text and make sure it holds exactly the intended entries."""
    try:
        parsed = parse_file(new_text, path)
    except DeclarationError as err:
        raise EditError(f"{path}: the edit would make the file invalid, nothing written:\n{err}") from None
    got = [e.identity for e in parsed.entries]
    want = [e.identity for e in expect_entries]
    if got != want or [e for e in parsed.entries] != expect_entries:
        raise EditError(f"{path}: could not edit this file's layout safely; edit it by hand (nothing written)")
    if expect_zones is not None and set(parsed.zones) != set(expect_zones):
        raise EditError(f"{path}: could not edit this file's zones safely; edit it by hand (nothing written)")
    return parsed


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def insert_entry_text(text: str, entry: Entry, zone: ThrottleZone | None = None,
                      parsed: BlocklistFile | None = None) -> str:
    """`text` with `entry` appended to its entries list (and `zone` to its zones if new).

    `parsed` (the text's parse_file result) lets a long file be edited by composing only its last
    entry instead of the whole file."""
    lines = _lines(text)
    if zone is None and parsed is not None and parsed.entries:
        first, last = parsed.entries[0].position, parsed.entries[-1].position
        dash_col = _item_dash(lines, first)
        end = _item_end(lines, last, len(lines)) if dash_col is not None else None
        if end is not None and _item_dash(lines, last) == dash_col:
            return "".join(lines[: end + 1]) + entry_block(entry, dash_col) + "".join(lines[end + 1:])
    if zone is not None:
        lines = _lines(_insert_zone(lines, zone))
    root = _compose("".join(lines))
    key, seq = _entries_node(root)
    if key is None:
        return "".join(lines) + "entries:\n" + entry_block(entry)
    if isinstance(seq, yaml.SequenceNode) and seq.value and not seq.flow_style:
        first = seq.value[0]
        dash_col = _dash_column(lines, first)
        last_line = _content_end_line(seq.value[-1])
        insert_at = last_line + 1
        return "".join(lines[:insert_at]) + entry_block(entry, dash_col) + "".join(lines[insert_at:])
    is_empty = (isinstance(seq, yaml.ScalarNode) and seq.value in ("", "~", "null")) or (
        isinstance(seq, yaml.SequenceNode) and not seq.value)
    if not is_empty:
        raise EditError("cannot add to `entries:` written in flow style [...]; edit the file by hand")
    line_no = key.start_mark.line
    if key.end_mark.line != seq.end_mark.line and not (isinstance(seq, yaml.ScalarNode) and seq.value == ""):
        raise EditError("cannot add to this `entries:` layout; edit the file by hand")
    indent = key.start_mark.column
    lines[line_no] = " " * indent + "entries:" + _trailing_comment(lines[line_no]) + "\n"
    return "".join(lines[: line_no + 1]) + entry_block(entry, indent + 2) + "".join(lines[line_no + 1:])


def _trailing_comment(line: str) -> str:
    stripped = line.rstrip("\n")
    idx = stripped.find(" #")
    return stripped[idx:] if idx >= 0 and stripped[idx + 1:].startswith("#") else ""


def _insert_zone(lines: list[str], zone: ThrottleZone) -> str:
    root = _compose("".join(lines))
    key, zones = _zones_node(root)
    if key is None:
        # Zones first, so the file reads top-down: zones, then the entries using them.
        return "".join(_prepend_after_comments(lines, zone))
    if isinstance(zones, yaml.MappingNode) and zones.value and not zones.flow_style:
        col = zones.value[0][0].start_mark.column
        end = max(_content_end_line(v) for _, v in zones.value) + 1
        return "".join(lines[:end]) + zone_line(zone, col) + "".join(lines[end:])
    if isinstance(zones, yaml.ScalarNode) and zones.value in ("", "~", "null") or (
            isinstance(zones, yaml.MappingNode) and not zones.value):
        line_no = key.start_mark.line
        lines[line_no] = " " * key.start_mark.column + "zones:" + _trailing_comment(lines[line_no]) + "\n"
        return "".join(lines[: line_no + 1]) + zone_line(zone, key.start_mark.column + 2) + "".join(lines[line_no + 1:])
    raise EditError("cannot add to `zones:` written in this layout; edit the file by hand")


def zones_block(zone: ThrottleZone) -> str:
    return "zones:\n" + zone_line(zone)


def _prepend_after_comments(lines: list[str], zone: ThrottleZone) -> list[str]:
    i = 0
    while i < len(lines) and (lines[i].lstrip().startswith("#") or not lines[i].strip()):
        i += 1
    return lines[:i] + [zones_block(zone)] + lines[i:]


def _item_dash(lines: list[str], position) -> int | None:
    """The column of the `- ` starting the entry at `position`, when the entry starts its line that way."""
    if position is None or not 0 < position.line <= len(lines):
        return None
    line = lines[position.line - 1]
    dash = len(line) - len(line.lstrip(" "))
    return dash if line.startswith("- ", dash) and position.column == dash + 3 else None


def _item_end(lines: list[str], position, stop: int) -> int | None:
    """The last line (0-based) holding the content of the entry starting at `position`, found by
    composing only lines[start:stop] (the entry up to the next one); None when that snippet does not
    read as exactly that one entry (the caller then composes the whole file)."""
    start = position.line - 1
    snippet = "entries:\n" + "".join(lines[start:stop])
    try:
        root = yaml.compose(snippet, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    _, seq = _entries_node(root)
    if not isinstance(seq, yaml.SequenceNode) or seq.flow_style or len(seq.value) != 1:
        return None
    item = seq.value[0]
    if not isinstance(item, yaml.MappingNode) or item.start_mark.line != 1:
        return None
    return _content_end_line(item) - 1 + start


def _dash_column(lines: list[str], item) -> int:
    line = lines[item.start_mark.line]
    col = line.find("-")
    return col if col >= 0 and not line[:col].strip() else max(item.start_mark.column - 2, 0)


def _content_end_line(node) -> int:
    """The last line holding this node's own content (block nodes' end marks run into what follows)."""
    if isinstance(node, yaml.ScalarNode):
        end = node.end_mark
        if end.column == 0 and end.line > node.start_mark.line:  # block scalars end at the next line
            return end.line - 1
        return end.line
    if isinstance(node, yaml.MappingNode):
        if node.flow_style or not node.value:
            return node.end_mark.line
        return max(_content_end_line(v) for _, v in node.value)
    if isinstance(node, yaml.SequenceNode):
        if node.flow_style or not node.value:
            return node.end_mark.line
        return max(_content_end_line(v) for v in node.value)
    return node.end_mark.line


def remove_entries_text(text: str, identities: set, parsed: BlocklistFile | None = None) -> str:
    """`text` without the entries whose identity is in `identities`, and their leading comments.

    `parsed` (the text's parse_file result) lets a long file be edited by composing only the removed
    entries instead of the whole file."""
    lines = _lines(text)
    if parsed is not None:
        drop = _drop_lines(lines, parsed.entries, identities)
        if drop is not None:
            return "".join(line for i, line in enumerate(lines) if i not in drop)
    parsed_entries = parse_file("".join(lines), Path("edit.yml")).entries
    root = _compose("".join(lines))
    _, seq = _entries_node(root)
    if not isinstance(seq, yaml.SequenceNode) or seq.flow_style:
        raise EditError("cannot remove from `entries:` in this layout; edit the file by hand")
    if len(seq.value) != len(parsed_entries):
        raise EditError("cannot match entries to lines; edit the file by hand")
    drop: set[int] = set()
    floor = 0
    for node, entry in zip(seq.value, parsed_entries):
        if entry.identity in identities:
            drop.update(range(_comments_above(lines, node.start_mark.line, floor), _content_end_line(node) + 1))
        floor = _content_end_line(node) + 1
    return "".join(line for i, line in enumerate(lines) if i not in drop)


def _comments_above(lines: list[str], start: int, floor: int) -> int:
    """The first of the comment lines directly above line `start`, not climbing into the previous
    entry (whose block scalar may hold lines starting with `#`), which ends before line `floor`."""
    while start > floor and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    return start


def _drop_lines(lines: list[str], entries: list[Entry], identities: set) -> set[int] | None:
    """The lines of the entries to remove (with the comment lines directly above each), or None when
    an entry's layout needs the whole file composed."""
    drop: set[int] = set()
    dash = _item_dash(lines, entries[0].position) if entries else None
    for i, entry in enumerate(entries):
        if entry.identity not in identities:
            continue
        stop = entries[i + 1].position.line - 1 if i + 1 < len(entries) and entries[i + 1].position else len(lines)
        same_layout = dash is not None and _item_dash(lines, entry.position) == dash
        end = _item_end(lines, entry.position, stop) if same_layout else None
        if end is None:
            return None
        start = entry.position.line - 1
        floor = 0
        if i > 0 and start > 0 and lines[start - 1].lstrip().startswith("#"):
            previous_end = _item_end(lines, entries[i - 1].position, start) if same_layout else None
            if previous_end is None:
                return None
            floor = previous_end + 1
        drop.update(range(_comments_above(lines, start, floor), end + 1))
    return drop


# ----------------------------------------------------------------------------- file operations


def add_to_file(path: Path, entry: Entry, zone: ThrottleZone | None = None) -> None:
    """Append `entry` (and define `zone` if given) in a hand-edited file, keeping everything else."""
    text = path.read_text(encoding="utf-8") if path.exists() else MANUAL_HEADER
    before = parse_file(text, path)
    if any(e.identity == entry.identity for e in before.entries):
        raise EditError(f"{path}: {entry.rule_id} is already listed; remove it first to change it")
    new_zone = zone if zone is not None and zone.name not in before.zones else None
    new_text = insert_entry_text(text, entry, new_zone, before)
    zones = dict(before.zones)
    if new_zone:
        zones[new_zone.name] = new_zone
    _check(path, new_text, [*before.entries, entry.with_(position=None)], zones)
    atomic_write(path, new_text)


def remove_from_file(path: Path, identities: set) -> list[Entry]:
    """Remove the entries with these identities; returns what was removed."""
    text = path.read_text(encoding="utf-8")
    before = parse_file(text, path)
    removed = [e for e in before.entries if e.identity in identities]
    if not removed:
        return []
    new_text = remove_entries_text(text, identities, before)
    kept = [e for e in before.entries if e.identity not in identities]
    _check(path, new_text, kept, before.zones)
    atomic_write(path, new_text)
    return removed


def rewrite_file(path: Path, zones: dict[str, ThrottleZone], entries: list[Entry], header: str,
                 text: str | None = None) -> None:
    """Replace a machine-owned file whole, after checking the text reads back as intended.

    `text`, when the caller already has it, must be `dump_file(zones, entries, header)`."""
    if text is None:
        text = dump_file(zones, entries, header)
    _check(path, text, entries, zones)  # positions do not take part in comparing entries
    atomic_write(path, text)

