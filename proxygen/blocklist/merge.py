"""Merging the analyzer's proposals into blocklists/analyzer.yml, safely and idempotently.

Rules: an allowlisted network or user agent, or a verified good bot, is never blocked (the proposal
is refused with the reason); an entry already present or covered by a broader entry with the same
action is unchanged (running twice adds nothing; a later run only extends `expires`); adjacent
networks with the same action are aggregated; the number of analyzer entries is capped. Only
analyzer.yml is ever written (atomically, and only when its content changes); hand-edited files
are read to avoid duplicates, never rewritten.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

from proxygen.blocklist.edit import dump_file, rewrite_file
from proxygen.blocklist.entry import Entry, EntryValueError, ThrottleZone, make_entry, parse_rate
from proxygen.blocklist.lock import writer_lock
from proxygen.blocklist.store import ANALYZER_FILE, Blocklist, BlocklistFile, check_references, load_blocklists

ANALYZER_HEADER = """\
# Written by `proxygen crawlers analyze --emit`: do not edit by hand (it is rewritten whole).
# To keep, change or overrule a rule, copy it to manual.yml; `proxygen blocklist prune` drops expired ones.
"""
KEY_TYPES = {"ip": "ip", "cidr": "cidr", "asn": "asn", "ua": "user_agent", "user_agent": "user_agent"}


@dataclass(frozen=True)
class Proposal:
    """One rule the analyzer suggests. `key_type`: ip | cidr | asn | ua; `action`: block | throttle |
    tarpit | observe (observe is reported, never written)."""

    key_type: str
    key: str
    action: str
    reason: str
    evidence: str = ""
    status: int = 403                 # block: 403 or 444
    rate: str | None = None           # throttle: e.g. "30r/m"
    burst: int = 10                   # throttle
    per: str = "client"               # throttle: client (per address) or rule (one shared bucket)
    ua_match: str = "contains"        # ua: exact | contains | regex
    ttl_days: int | None = None       # None: the merge's default

    @property
    def label(self) -> str:
        return f"{self.key_type} {self.key}"


@dataclass
class MergeSummary:
    path: Path
    added: list[Entry] = field(default_factory=list)
    extended: list[Entry] = field(default_factory=list)
    unchanged: list[tuple[Proposal, str]] = field(default_factory=list)
    refused: list[tuple[Proposal, str]] = field(default_factory=list)
    observed: list[Proposal] = field(default_factory=list)
    aggregated: list[str] = field(default_factory=list)
    expired: list[Entry] = field(default_factory=list)
    written: bool = False

    def lines(self) -> list[str]:
        out = [f"{self.path}: {len(self.added)} added, {len(self.extended)} extended, "
               f"{len(self.unchanged)} unchanged, {len(self.refused)} refused"
               + (f", {len(self.expired)} expired dropped" if self.expired else "")
               + ("" if self.written else " (file not changed)")]
        out += [f"  added     {e.rule_id}: {e.action}{'' if e.action != 'throttle' else ' ' + e.zone} ({e.reason})"
                for e in self.added]
        out += [f"  extended  {e.rule_id}: until {e.expires:%Y-%m-%d}" for e in self.extended]
        out += [f"  aggregated {a}" for a in self.aggregated]
        out += [f"  unchanged {p.label}: {why}" for p, why in self.unchanged]
        out += [f"  refused   {p.label}: {why}" for p, why in self.refused]
        return out


def zone_for(rate: str, burst: int, per: str) -> ThrottleZone:
    """The analyzer's zone for a rate/burst/per combination, named after them (stable across runs)."""
    m = re.match(r"^(\d+)r/([sm])$", rate or "")
    if not m:
        parse_rate(rate or "")  # raises with a readable message
    name = f"analyzer_{m.group(1)}r{m.group(2)}_b{burst}" + ("_shared" if per == "rule" else "")
    return ThrottleZone(name=name, rate=rate, burst=burst, nodelay=True, dry_run=False, per=per)


def _day(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(timezone.utc).date(), time(0), tzinfo=timezone.utc)


def _entry_from(p: Proposal, zone: ThrottleZone | None, created: datetime, expires: datetime) -> Entry:
    key_type = KEY_TYPES.get(p.key_type)
    if key_type is None:
        raise EntryValueError("key_type", f"{p.key_type!r} must be ip, cidr, asn or ua")
    data = {key_type: p.key, "action": p.action, "reason": p.reason, "source": "analyzer",
            "created": created, "expires": expires}
    if p.evidence:
        data["evidence"] = p.evidence
    if key_type == "user_agent":
        data["match"] = p.ua_match
    if p.action == "block":
        data["status"] = p.status
    if p.action == "throttle":
        data["zone"] = zone.name
    if key_type == "cidr":
        net = ipaddress.ip_network(str(p.key).strip(), strict=False)
        if net.prefixlen == net.max_prefixlen:
            data = {("ip" if k == "cidr" else k): (str(net.network_address) if k == "cidr" else v) for k, v in data.items()}
    return make_entry(data, "analyzer")


def safety_problem(entry: Entry, allowlists, good_bots) -> str | None:
    """Why `entry` would hit an allowlisted client or a verified good bot, or None."""
    if entry.key_type in ("ip", "cidr"):
        if allowlists is not None:
            hit = allowlists.overlapping(entry.key)
            if hit is not None:
                return f"overlaps allowlisted network {hit.cidr} ({hit.reason})"
            for ua in allowlists.user_agents:
                for net in ua.networks:
                    if net.version == entry.network().version and net.overlaps(entry.network()):
                        return f"overlaps {net}, trusted for {ua.pattern!r} ({ua.reason})"
        if good_bots is not None and (allowlists is None or allowlists.verified_good_bots):
            bot = _good_bot_overlap(good_bots, entry.key)
            if bot:
                return f"overlaps the published ranges of {bot} (a verified good bot)"
    elif entry.key_type == "asn":
        if good_bots is not None and hasattr(good_bots, "search_asn"):
            bot = good_bots.search_asn(int(entry.key))
            if bot is not None:
                return f"AS{entry.key} is where {bot.name} crawls from (a verified good bot)"
    else:
        pattern = _ua_matcher(entry)
        if allowlists is not None:
            for ua in allowlists.user_agents:
                if pattern(ua.pattern):
                    return f"would match allowlisted user agent {ua.pattern!r} ({ua.reason})"
        if good_bots is not None:
            from proxygen.signals.good_bots import registry

            for bot in registry():
                if bot.kind == "search" and any(pattern(t) for t in bot.tokens):
                    return f"would match {bot.name}'s user agent (a verified good bot)"
    return None


def _good_bot_overlap(good_bots, network: str) -> str | None:
    if isinstance(good_bots, (list, tuple)):
        net = ipaddress.ip_network(network)
        for n in good_bots:
            n = ipaddress.ip_network(n)
            if n.version == net.version and n.overlaps(net):
                return str(n)
        return None
    bot = good_bots.in_any_search_range(network)
    return bot.name if bot else None


def _ua_matcher(entry: Entry):
    """Does this UA rule match a given user-agent string (as nginx would, case rules included)."""
    if entry.match == "exact":
        low = entry.key.lower()
        return lambda ua: ua.lower() == low
    if entry.match == "contains":
        return lambda ua: entry.key in ua
    rx = re.compile(entry.key)
    return lambda ua: rx.search(ua) is not None


def _net(e: Entry) -> tuple[int, int, int]:
    """(IP version, network address as an integer, prefix length) of an ip/cidr entry.

    Keys are canonical (validated on load), so the address bytes parse directly; ipaddress objects
    cost ~10x more, which a 100,000-entry merge pays several times per entry."""
    hit = _NETS.get(e.key)
    if hit is None:
        address, _, prefix = e.key.partition("/")
        version, family = (6, socket.AF_INET6) if ":" in address else (4, socket.AF_INET)
        hit = (version, int.from_bytes(socket.inet_pton(family, address), "big"),
               int(prefix) if prefix else (128 if version == 6 else 32))
        if len(_NETS) > 1_000_000:
            _NETS.clear()
        _NETS[e.key] = hit
    return hit


_NETS: dict[str, tuple[int, int, int]] = {}


class _Cover:
    """Which entries' networks contain a given network with the same effect (supernet lookups)."""

    def __init__(self, entries: list[Entry]):
        self.table: dict[tuple, Entry] = {}
        self.lengths: dict[int, list[int]] = {4: [], 6: []}
        for e in entries:
            self.add(e)

    def add(self, e: Entry) -> None:
        if e.key_type in ("ip", "cidr"):
            version, addr, length = _net(e)
            self.table[(e.code, version, addr, length)] = e
            if length not in self.lengths[version]:
                self.lengths[version] = sorted([*self.lengths[version], length])

    def covering(self, entry: Entry) -> Entry | None:
        if entry.key_type not in ("ip", "cidr"):
            return None
        version, addr, prefix = _net(entry)
        bits = 128 if version == 6 else 32
        for length in self.lengths[version]:
            if length >= prefix:
                break
            hit = self.table.get((entry.code, version, (addr >> (bits - length)) << (bits - length), length))
            if hit is not None:
                return hit
        return None


def _collapse(nets: list[tuple[int, int]], bits: int) -> list[tuple[int, int]]:
    """The fewest (address, prefix) networks covering exactly the union of `nets`, sorted by address
    (what ipaddress.collapse_addresses gives, on integers)."""
    out: list[tuple[int, int]] = []
    end = -1
    for addr, length in sorted(nets):
        if addr <= end:                      # inside the previous network (sorted: supernets first)
            continue
        end = addr + (1 << (bits - length)) - 1
        out.append((addr, length))
        while len(out) >= 2:                 # merge sibling halves into their parent, cascading
            (a1, l1), (a2, l2) = out[-2], out[-1]
            size = 1 << (bits - l1)
            if l1 != l2 or l1 == 0 or a1 & ((size << 1) - 1) or a2 != a1 + size:
                break
            out[-2:] = [(a1, l1 - 1)]
    return out


def _aggregate(entries: list[Entry], summary: MergeSummary) -> list[Entry]:
    """Merge analyzer networks with the same effect into the fewest CIDRs."""
    groups: dict[tuple[str, int], list[Entry]] = {}  # IPv4 and IPv6 networks never merge
    out: list[Entry] = []
    for e in entries:
        if e.key_type in ("ip", "cidr"):
            groups.setdefault((e.code, _net(e)[0]), []).append(e)
        else:
            out.append(e)
    for (_, version), members in groups.items():
        bits = 128 if version == 6 else 32
        members.sort(key=lambda m: _net(m)[1:])
        nets = _collapse([_net(m)[1:] for m in members], bits)
        i = 0
        for addr, length in nets:  # disjoint and sorted like members: one sweep assigns each member
            last = addr + (1 << (bits - length)) - 1
            inside = []
            while i < len(members) and _net(members[i])[1] <= last:
                inside.append(members[i])
                i += 1
            if len(inside) == 1 and _net(inside[0])[1:] == (addr, length):
                out.append(inside[0])
                continue
            cls = ipaddress.IPv6Network if version == 6 else ipaddress.IPv4Network
            out.append(_merged(cls((addr, length)), inside, summary))
    return out


def _without_redundant(entries: list[Entry], summary: MergeSummary) -> list[Entry]:
    """The rules whatever order proposals came in: one key keeps its strongest action (aggregating
    two throttled /21s can produce the /20 that is blocked), and a network inside a broader one with
    an equal or stronger action is dropped (in the geo the narrower one would win and weaken it)."""
    best: dict[tuple, Entry] = {}
    for e in entries:
        other = best.get(e.identity)
        if other is None or e.severity > other.severity:
            best[e.identity] = e
    table: dict[tuple[int, int], dict[int, Entry]] = {}
    for e in best.values():
        if e.key_type in ("ip", "cidr"):
            version, addr, length = _net(e)
            table.setdefault((version, length), {})[addr] = e
    kept = []
    for e in best.values():
        cover = None
        if e.key_type in ("ip", "cidr"):
            version, addr, length = _net(e)
            bits = 128 if version == 6 else 32
            for (v, shorter), nets in table.items():
                if v == version and shorter < length:
                    broader = nets.get((addr >> (bits - shorter)) << (bits - shorter))
                    if broader is not None and broader.severity >= e.severity:
                        cover = broader
                        break
        if cover is None:
            kept.append(e)
        else:
            summary.aggregated.append(f"{e.rule_id} dropped: inside {cover.rule_id} ({cover.code})")
    return kept


def _merged(net, inside: list[Entry], summary: MergeSummary) -> Entry:
    """One entry for an aggregate: the oldest created, the latest expiry, every reason."""
    reasons = list(dict.fromkeys(m.reason for m in inside))
    evidence = list(dict.fromkeys(m.evidence for m in inside if m.evidence))
    created = min((m.created for m in inside if m.created), default=None)
    expires = None if any(m.expires is None for m in inside) else max(m.expires for m in inside)
    reason = "; ".join(reasons)
    if len(reason) > 500:
        reason = reason[:497] + "..."
    host = net.prefixlen == net.max_prefixlen
    merged = inside[0].with_(key_type="ip" if host else "cidr", key=str(net.network_address) if host else str(net),
                             reason=reason, evidence="; ".join(evidence)[:1000] or None,
                             created=created, expires=expires, position=None)
    summary.aggregated.append(f"{' + '.join(m.rule_id for m in inside)} -> {merged.rule_id}")
    return merged


def _sort_key(e: Entry):
    order = {"ip": 0, "cidr": 0, "asn": 1, "user_agent": 2}[e.key_type]
    if e.key_type in ("ip", "cidr"):
        return (order, *_net(e), "")
    return (order, 0, int(e.key) if e.key_type == "asn" else 0, 0, e.key)


def merge_proposals(blocklists_dir, proposals: list[Proposal], *, allowlists=None, good_bots=None,
                    cap: int = 10000, now: datetime | None = None, ttl_days: int = 30,
                    throttle_rate: str = "30r/m", throttle_burst: int = 10) -> MergeSummary:
    """Merge `proposals` into `<blocklists_dir>/analyzer.yml`; returns what happened to each.

    A throttle proposal without its own rate uses `throttle_rate`/`throttle_burst` (zone
    `analyzer_30rm_b10` by default). Holds the directory's writer lock from reading to writing."""
    with writer_lock(Path(blocklists_dir)):
        return _merge(Path(blocklists_dir), proposals, allowlists=allowlists, good_bots=good_bots, cap=cap,
                      now=now, ttl_days=ttl_days, throttle_rate=throttle_rate, throttle_burst=throttle_burst)


def _merge(directory: Path, proposals: list[Proposal], *, allowlists, good_bots, cap: int, now: datetime | None,
           ttl_days: int, throttle_rate: str, throttle_burst: int) -> MergeSummary:
    path = directory / ANALYZER_FILE
    now = now or datetime.now(timezone.utc)
    today = _day(now)
    summary = MergeSummary(path=path)
    current = load_blocklists(directory)
    analyzer = current.file(ANALYZER_FILE) or BlocklistFile(path=path)
    others = [f for f in current.files if f.path.name != ANALYZER_FILE]
    human = [e for f in others for e in f.entries if not e.expired(now)]
    human_ids = {e.identity: e for e in human}
    zones = dict(analyzer.zones)

    entries: list[Entry] = []
    for e in analyzer.entries:
        (summary.expired if e.expired(now) else entries).append(e.with_(position=None))
    by_id = {e.identity: i for i, e in enumerate(entries)}
    human_cover, analyzer_cover = _Cover(human), _Cover(entries)
    for p in proposals:
        if p.action == "observe":
            summary.observed.append(p)
            continue
        zone = None
        try:
            if p.action == "throttle":
                zone = zone_for(p.rate or throttle_rate, p.burst if p.rate else throttle_burst, p.per)
            expires = today + timedelta(days=p.ttl_days if p.ttl_days is not None else ttl_days)
            entry = _entry_from(p, zone, today, expires)
        except EntryValueError as err:
            summary.refused.append((p, f"{err.field}: {err.message}"))
            continue
        problem = safety_problem(entry, allowlists, good_bots)
        if problem:
            summary.refused.append((p, problem))
            continue
        if entry.identity in human_ids:
            h = human_ids[entry.identity]
            summary.unchanged.append((p, f"already in {h.position.file}:{h.position.line}" if h.position else "manual entry"))
            continue
        cover = human_cover.covering(entry) or analyzer_cover.covering(entry)
        if cover is not None:
            summary.unchanged.append((p, f"covered by {cover.rule_id}"))
            continue
        if entry.identity in by_id:
            i = by_id[entry.identity]
            old = entries[i]
            if old.code != entry.code and entry.severity > old.severity:
                entries[i] = entry.with_(created=old.created)
                if zone is not None:
                    zones.setdefault(zone.name, zone)
                summary.extended.append(entries[i])
            elif old.code != entry.code and entry.severity <= old.severity:
                summary.unchanged.append((p, f"already listed with the stronger action {old.code}"))
            elif old.expires is not None and entry.expires > old.expires:
                entries[i] = old.with_(expires=entry.expires, evidence=entry.evidence or old.evidence)
                summary.extended.append(entries[i])
            else:
                summary.unchanged.append((p, "already proposed"))
            continue
        if len(entries) >= cap:
            summary.refused.append((p, f"the cap of {cap} analyzer entries is reached"))
            continue
        if zone is not None:
            zones.setdefault(zone.name, zone)
        by_id[entry.identity] = len(entries)
        entries.append(entry)
        analyzer_cover.add(entry)
        summary.added.append(entry)

    entries = sorted(_without_redundant(_aggregate(entries, summary), summary), key=_sort_key)
    used = {e.zone for e in entries if e.action == "throttle"}
    zones = {name: z for name, z in zones.items() if name in used}
    check_references(Blocklist(files=[*others, BlocklistFile(path=path, entries=entries, zones=zones)]))
    text = dump_file(zones, entries, ANALYZER_HEADER)
    old_text = path.read_text(encoding="utf-8") if path.exists() else None
    if text != old_text:
        rewrite_file(path, zones, entries, ANALYZER_HEADER, text)
        summary.written = True
    return summary
