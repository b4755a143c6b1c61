"""What the build renders from blocklists/: plain data for the templates, and its exact meaning.

The contract (the compiler's templates and `proxygen crawlers simulate` both follow it):

* `geo $<ip var>` over the client address, longest prefix wins (nginx's radix tree). Values:
  `""` (no rule), `allow` (allowlisted network or a verified good bot's published range; nothing
  applies to the request), `block403`, `block444`, `tarpit`, `t:<zone>` or `t:<zone>:<network>`
  (throttle; the latter for `per: rule` zones, whose bucket is shared by the whole network).
* `map $http_user_agent $<ua var>`: exact entries in the hash (nginx compares them
  case-insensitively), then regexes in list order, first match wins. Same values (`allow` only for
  allowlisted user agents that are not tied to networks; `t:<zone>:ua<n>` for per-rule zones).
* The request's action: nothing if either value is `allow`; otherwise the more severe of the two
  (block444 > block403 > tarpit > throttle). Blocks return their status and tarpits rewrite to the
  stop-crawling page at server level, before limit_req runs.
* Throttle zone Z has `limit_req_zone <key var> zone=Z rate=...`, key = the client address
  (`per: client`) or the matched value (`per: rule`) when the IP value, else the UA value, names Z;
  empty otherwise (also when the request is allowlisted, blocked or tarpitted: the tarpit page must
  not be throttled), and nginx never limits an empty key. `limit_req zone=Z burst=B [nodelay]`,
  `limit_req_status 429`.
* Placement (nginx rules the simulator assumes): a location with any `limit_req` of its own inherits
  none from the server, so the blocklist's `limit_req` lines go into every such location, before the
  site's own; a location answering with `return` never reaches limit_req; `limit_req_dry_run` applies
  to every limit of a block, so `dry_run: true` zones are only rendered where every limit is dry-run:
  at server level when all zones are dry-run (`server_zones`), and in locations whose own limits are
  dry-run (`location_zones`). Enforced zones in a dry-run location run dry there. `placement` gives
  both, per block, to the templates and to simulate.

Entries are dropped from the output (and listed in `skipped`) when expired, when inside an allowlisted
network, when inside a broader entry with the same value or a more severe one, or when an exact UA would
match an allowlisted UA. Adjacent and nested networks with the same value are aggregated.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from proxygen.blocklist.entry import SEVERITY, Entry, ThrottleZone
from proxygen.blocklist.store import Blocklist
from proxygen.errors import ProxygenError

ALLOW = "allow"
NGINX_MAP_KEYWORDS = {"default", "hostnames", "include", "volatile"}


@dataclass(frozen=True)
class GeoEntry:
    network: str
    value: str
    rules: tuple[str, ...]          # rule ids (or "allowlist: reason"), for a comment and for reports


@dataclass(frozen=True)
class UaEntry:
    pattern: str                    # exact: the UA (hash key); regex: a PCRE/Python-compatible pattern
    kind: str                       # "exact" or "regex"
    value: str
    rules: tuple[str, ...]


@dataclass(frozen=True)
class ZoneData:
    name: str
    rate: str                       # as written, e.g. "30r/m"
    rate_milli: int                 # nginx's internal rate (milli-requests per second)
    burst: int
    nodelay: bool
    dry_run: bool
    per: str                        # "client" or "rule"
    key_variable: str               # e.g. "proxygen_throttle_crawlers" (no `$`)


@dataclass
class AsnDatabaseInfo:
    path: str
    build_date: str                 # ISO date from the database metadata, recorded in a comment
    database_type: str = ""         # e.g. "GeoLite2-ASN"
    expanded: list[tuple[str, int]] = field(default_factory=list)  # (ASN rule id, networks found)


@dataclass
class RenderData:
    geo: list[GeoEntry] = field(default_factory=list)
    ua_exact: list[UaEntry] = field(default_factory=list)
    ua_regex: list[UaEntry] = field(default_factory=list)
    zones: list[ZoneData] = field(default_factory=list)
    asn_database: AsnDatabaseInfo | None = None
    map_hash_max_size: int = 2048
    map_hash_bucket_size: int = 128
    skipped: list[str] = field(default_factory=list)   # human-readable: what was not rendered and why
    rules: dict[str, Entry] = field(default_factory=dict)  # rule id -> entry (for reports)
    # The server block's limit_req_dry_run: on only when every zone is dry-run and no site of the host
    # has limits of its own at server level (the build decides per host; see server_zones).
    server_dry_run: bool = False

    @property
    def geo_count(self) -> int:
        return len(self.geo)

    @property
    def all_dry_run(self) -> bool:
        return bool(self.zones) and all(z.dry_run for z in self.zones)

    def server_zones(self) -> list[ZoneData]:
        """Zones limited in the server block (inherited by every location without limit_req of its own).

        nginx has one limit_req_dry_run per block, covering every limit_req in it: the server block
        takes the enforced zones, or, when `server_dry_run`, the dry-run ones (then there are no others).
        """
        return [z for z in self.zones if z.dry_run == self.server_dry_run]

    def location_zones(self, dry_run: bool) -> list[ZoneData]:
        """Zones repeated in a location with limit_req of its own, whose limit_req_dry_run is `dry_run`.

        Enforced zones always go in (in a dry-run location they run dry, like the site's own limits);
        a dry-run zone only where the whole location is dry-run, since anywhere else it would reject.
        """
        return [z for z in self.zones if dry_run or not z.dry_run]

    def placement(self, own_limits: bool, dry_run: bool | None) -> "Placement":
        """The blocklist's limits in one block of a crawler-defence site, and that block's dry-run.

        `own_limits`: the location has limit_req of its own (False: the server block itself, or a
        location inheriting it); `dry_run`: the location's rate_limit_dry_run, else the site's
        server-level one, None when neither is set. The templates render this and simulate replays it.
        """
        if not own_limits:
            return Placement(tuple(self.server_zones()), self.server_dry_run if dry_run is None else dry_run)
        return Placement(tuple(self.location_zones(dry_run is True)), bool(dry_run),
                         dry_run_off=dry_run is None and self.server_dry_run)


@dataclass(frozen=True)
class Placement:
    zones: tuple[ZoneData, ...]     # the blocklist's limit_req lines in the block, in order
    dry_run: bool                   # the block's limit_req_dry_run, covering every limit in it
    dry_run_off: bool = False       # the location must say `limit_req_dry_run off` (the server's is on)


def server_dry_run(data: RenderData, sites) -> bool:
    """Whether the crawler-defence server block is dry-run on a host serving `sites`: only when every
    zone is dry-run and no crawler-defence site has limits of its own at server level (one
    limit_req_dry_run covers the whole block: they would stop rejecting)."""
    return data.all_dry_run and not any(s.crawler_defence and (s.rate_limits or s.rate_limit_dry_run is not None)
                                        for s in sites)


def _severity(value: str) -> int:
    if value == ALLOW:
        return 100
    if value.startswith("t:"):
        return SEVERITY["throttle"]
    return SEVERITY.get(value, 0)


def asn_networks(asn_db, asn: int) -> list:
    """Every network of `asn` in a maxminddb Reader (or a {asn: [networks]} mapping in tests)."""
    if isinstance(asn_db, dict):
        return [ipaddress.ip_network(n) for n in asn_db.get(asn, [])]
    nets = []
    for network, record in asn_db:
        if record and record.get("autonomous_system_number") == asn:
            nets.append(network)
    return nets


def _asn_index(asn_db, wanted: set[int]) -> dict[int, list]:
    """One pass over the database for all wanted ASNs."""
    if isinstance(asn_db, dict):
        return {a: [ipaddress.ip_network(n) for n in asn_db.get(a, [])] for a in wanted}
    out: dict[int, list] = {a: [] for a in wanted}
    for network, record in asn_db:
        asn = record.get("autonomous_system_number") if record else None
        if asn in out:
            # IPv4 networks appear in an IPv6 tree as ::ffff:a.b.c.d/96+n or ::a.b.c.d; map them back.
            if network.version == 6 and network.prefixlen >= 96:
                v4 = _v4_from_v6(network)
                if v4 is not None:
                    network = v4
            out[asn].append(network)
    return out


def _v4_from_v6(network):
    addr = network.network_address
    if addr.ipv4_mapped is not None:
        return ipaddress.ip_network(f"{addr.ipv4_mapped}/{network.prefixlen - 96}")
    if int(addr) >> 32 == 0:
        return ipaddress.ip_network(f"{ipaddress.IPv4Address(int(addr))}/{network.prefixlen - 96}")
    return None


def _asn_info(asn_db, path: str | None = None) -> AsnDatabaseInfo | None:
    if asn_db is None or isinstance(asn_db, dict):
        return None
    meta = asn_db.metadata()
    built = datetime.fromtimestamp(meta.build_epoch, tz=timezone.utc).date().isoformat()
    kind = str(meta.database_type or "")
    return AsnDatabaseInfo(path=path or getattr(asn_db, "_filename", "") or kind, build_date=built,
                           database_type=kind)


def net_key(net) -> tuple[int, int, int]:
    """(version, first address as int, prefix length) of a network or of a canonical CIDR/IP string,
    without building ipaddress objects for plain IPv4 (100,000-entry blocklists stay fast)."""
    if isinstance(net, tuple):
        return net
    if not isinstance(net, str):
        return (net.version, int(net.network_address), net.prefixlen)
    text, _, plen = net.partition("/")
    parts = text.split(".")
    if len(parts) == 4 and ":" not in text:
        value = (int(parts[0]) << 24) | (int(parts[1]) << 16) | (int(parts[2]) << 8) | int(parts[3])
        return (4, value, int(plen) if plen else 32)
    n = ipaddress.ip_network(net, strict=False)
    return (6 if n.version == 6 else 4, int(n.network_address), n.prefixlen)


def key_text(key: tuple[int, int, int]) -> str:
    version, value, plen = key
    addr = ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)
    return f"{addr}/{plen}"


def _summarize(lo: int, hi: int, bits: int) -> list[tuple[int, int]]:
    """The fewest aligned (start, prefix length) blocks covering [lo, hi]."""
    out = []
    while lo <= hi:
        size = (lo & -lo) if lo else 1 << bits
        while size > hi - lo + 1:
            size >>= 1
        out.append((lo, bits - size.bit_length() + 1))
        lo += size
    return out


def _collapse(items: list[tuple], value: str) -> list[GeoEntry]:
    """Aggregate networks carrying the same value; each result keeps the rule ids it absorbed.
    items: (network key or network, rule)."""
    out: list[GeoEntry] = []
    keyed = sorted(((net_key(n), r) for n, r in items), key=lambda t: t[0])
    for version in (4, 6):
        bits = 32 if version == 4 else 128
        members = [(k, r) for k, r in keyed if k[0] == version]
        if not members:
            continue
        ranges: list[list[int]] = []
        for (_, start, plen), _ in members:
            end = start + (1 << (bits - plen)) - 1
            if ranges and start <= ranges[-1][1] + 1:
                ranges[-1][1] = max(ranges[-1][1], end)
            else:
                ranges.append([start, end])
        blocks = [b for lo, hi in ranges for b in _summarize(lo, hi, bits)]
        starts = [b[0] for b in blocks]
        rules: list[set] = [set() for _ in blocks]
        for (_, start, _), rule in members:
            rules[bisect.bisect_right(starts, start) - 1].add(rule)
        out.extend(GeoEntry(key_text((version, b[0], b[1])), value, tuple(sorted(r))) for b, r in zip(blocks, rules))
    return out


def _nearest(table: dict, net_key: tuple[int, int, int], lengths: list[int]):
    """The value of the most specific network in `table` strictly containing `net_key` (geo's answer
    for this network were it absent), or None."""
    version, addr, plen = net_key
    bits = 32 if version == 4 else 128
    for length in reversed(lengths):
        if length >= plen:
            continue
        hit = table.get((version, (addr >> (bits - length)) << (bits - length), length))
        if hit is not None:
            return hit
    return None


def _good_bot_networks(good_bots) -> list[tuple]:
    """(network, label) of verified search bots: blocking them would drop the site from search."""
    if good_bots is None:
        return []
    if isinstance(good_bots, (list, tuple)):
        return [(ipaddress.ip_network(n), "verified good bot") for n in good_bots]
    from proxygen.signals.good_bots import registry

    out = []
    for bot in registry():
        ranges = good_bots.ranges.get(bot.name)
        if bot.kind == "search" and ranges:
            out.extend((n, f"verified {bot.name}") for n in ranges.networks)
    return out


def allowed_networks(allowlists, good_bots=None) -> list[tuple]:
    """Every (network, label) no rule may touch."""
    nets = []
    if allowlists is not None:
        nets.extend((n.cidr, f"allowlist: {n.reason}") for n in allowlists.networks)
        for ua in allowlists.user_agents:
            nets.extend((n, f"allowlist: {ua.reason} ({ua.pattern} from this network)") for n in ua.networks)
        if allowlists.verified_good_bots:
            nets.extend(_good_bot_networks(good_bots))
    else:
        nets.extend(_good_bot_networks(good_bots))
    return nets


def render_geo(items: list[tuple], allowed: list[tuple], skipped: list[str]) -> list[GeoEntry]:
    """items: (network, value, rule_id). Returns aggregated, precedence-pruned geo entries."""
    by_value: dict[str, list] = {}
    for net, value, rule in items:
        by_value.setdefault(value, []).append((net, rule))
    entries: list[GeoEntry] = []
    for value in sorted(by_value):
        entries.extend(_collapse(by_value[value], value))

    allow_entries = _collapse([(n, label) for n, label in allowed], ALLOW) if allowed else []
    # One value per network: equal networks keep the most severe value (allow beats everything).
    chosen: dict[tuple, GeoEntry] = {}
    for entry in [*entries, *allow_entries]:
        key = net_key(entry.network)
        old = chosen.get(key)
        if old is None or _severity(entry.value) > _severity(old.value):
            if old is not None and old.value != ALLOW:
                skipped.append(f"{', '.join(old.rules)}: {old.network} also listed as {entry.value}; kept {entry.value}")
            chosen[key] = entry
        elif entry.value != ALLOW:
            skipped.append(f"{', '.join(entry.rules)}: {entry.network} also listed as {old.value}; kept {old.value}")
    allow_table = {k: e.value for k, e in chosen.items() if e.value == ALLOW}
    allow_lengths = {v: sorted({k[2] for k in allow_table if k[0] == v}) for v in (4, 6)}
    # Broadest first, so each network is compared with what geo would answer without it.
    kept: dict[tuple, str] = {}
    kept_lengths: dict[int, set] = {4: set(), 6: set()}
    out: list[GeoEntry] = []
    for key in sorted(chosen, key=lambda k: (k[2], k[0], k[1])):
        entry = chosen[key]
        if entry.value == ALLOW:
            continue
        if _nearest(allow_table, key, allow_lengths[key[0]]) is not None:
            skipped.append(f"{', '.join(entry.rules)}: {entry.network} is inside an allowlisted network; not rendered")
            continue
        outer = _nearest(kept, key, sorted(kept_lengths[key[0]]))
        if outer is not None and (outer == entry.value or _severity(outer) > _severity(entry.value)):
            skipped.append(f"{', '.join(entry.rules)}: {entry.network} is inside a broader {outer} rule; not rendered")
            continue
        kept[key] = entry.value
        kept_lengths[key[0]].add(key[2])
        out.append(entry)
    # Every allowed network is rendered (cheap in a radix tree), not only those inside a rule, so the
    # rendered geo states the exemption explicitly.
    out.extend(e for e in chosen.values() if e.value == ALLOW)
    out.sort(key=lambda e: net_key(e.network))
    return out


def _exact_conflicts_with_allowlist(ua: str, allowlists) -> str | None:
    if allowlists is None:
        return None
    low = ua.lower()
    for allowed in allowlists.user_agents:
        pat = allowed.pattern.lower()
        if (allowed.match == "exact" and pat == low) or (allowed.match == "contains" and pat in low):
            return allowed.reason
    return None


def _needs_regex(ua: str) -> bool:
    """Exact keys nginx's map would misread (a leading ~ or \\, or a keyword) are rendered as regexes."""
    return ua[:1] in ("~", "\\") or ua.lower() in NGINX_MAP_KEYWORDS


def render_user_agents(entries: list[Entry], allowlists, zones: dict[str, ThrottleZone],
                       skipped: list[str]) -> tuple[list[UaEntry], list[UaEntry]]:
    exact: dict[str, UaEntry] = {}
    regexes: list[tuple[int, str, UaEntry]] = []
    allow_regex: list[UaEntry] = []
    if allowlists is not None:
        for allowed in allowlists.user_agents:
            if allowed.networks:
                continue  # trusted only from its networks: those are in the geo as `allow`
            label = (f"allowlist: {allowed.reason}",)
            if allowed.match == "exact" and not _needs_regex(allowed.pattern):
                exact[allowed.pattern.lower()] = UaEntry(allowed.pattern, "exact", ALLOW, label)
            elif allowed.match == "exact":
                allow_regex.append(UaEntry(f"^{re.escape(allowed.pattern)}$", "regex", ALLOW, label))
            else:
                allow_regex.append(UaEntry(re.escape(allowed.pattern), "regex", ALLOW, label))
    for n, entry in enumerate(entries):
        value = entry.code
        zone = zones.get(entry.zone) if entry.action == "throttle" else None
        if zone is not None and zone.per == "rule":
            value = f"{value}:ua{n}"
        if entry.match == "exact" and not _needs_regex(entry.key):
            reason = _exact_conflicts_with_allowlist(entry.key, allowlists)
            if reason:
                skipped.append(f"{entry.rule_id}: matches allowlisted user agent ({reason}); not rendered")
                continue
            low = entry.key.lower()
            old = exact.get(low)
            if old is not None and _severity(old.value) >= _severity(value):
                skipped.append(f"{entry.rule_id}: same user agent as {', '.join(old.rules)}; kept {old.value}")
                continue
            exact[low] = UaEntry(entry.key, "exact", value, (entry.rule_id,))
            continue
        if entry.match == "exact":
            pattern = f"^{re.escape(entry.key)}$"
        elif entry.match == "contains":
            pattern = re.escape(entry.key)
        else:
            pattern = entry.key
        regexes.append((-_severity(value), pattern, UaEntry(pattern, "regex", value, (entry.rule_id,))))
    regexes.sort(key=lambda t: (t[0], t[1]))
    ordered = allow_regex + [u for _, _, u in regexes]
    return sorted(exact.values(), key=lambda u: u.pattern.lower()), ordered


def _next_pow2(n: int) -> int:
    p = 1
    while p < n:
        p <<= 1
    return p


def map_hash_sizes(exact: list[UaEntry]) -> tuple[int, int]:
    """map_hash_max_size and map_hash_bucket_size that let nginx build the exact-UA hash.

    An element takes sizeof(void*) + align(len + 2, sizeof(void*)) bytes and a bucket ends with a
    sizeof(void*) terminator; the longest key must fit one bucket, and max_size >= 2 x entries leaves
    nginx's size search plenty of room.
    """
    longest = max((len(u.pattern.encode()) for u in exact), default=0)
    element = 8 + ((longest + 2 + 7) // 8) * 8
    bucket = max(128, _next_pow2(element + 8))
    max_size = max(2048, _next_pow2(2 * len(exact)))
    return max_size, bucket


def render_data(blocklist: Blocklist, asn_db=None, now: datetime | None = None, *, allowlists=None,
                good_bots=None, asn_db_path: str | None = None) -> RenderData:
    """The geo/map/zone data the build renders for `blocklist` at time `now` (expired entries excluded).

    `asn_db` is an open maxminddb Reader (or {asn: [cidr, ...]} in tests), `asn_db_path` its path as
    configured (recorded with its build date); `allowlists` the settings' Allowlists; `good_bots` a
    GoodBotVerifier (or a list of networks) whose search-bot ranges are never touched.
    """
    now = now or datetime.now(timezone.utc)
    data = RenderData(asn_database=_asn_info(asn_db, asn_db_path))
    zones = blocklist.zones
    active = []
    for entry in blocklist.entries:
        if entry.expired(now):
            data.skipped.append(f"{entry.rule_id}: expired {entry.expires:%Y-%m-%d}; not rendered")
        else:
            active.append(entry)
            data.rules.setdefault(entry.rule_id, entry)

    items: list[tuple] = []
    asn_entries = [e for e in active if e.key_type == "asn"]
    if asn_entries and asn_db is None:
        raise ProxygenError("blocklists: ASN entries need the ASN database (crawlers.asn_database in proxygen.yml): "
                            + ", ".join(e.rule_id for e in asn_entries[:5]))
    index = _asn_index(asn_db, {int(e.key) for e in asn_entries}) if asn_entries else {}
    for entry in active:
        if entry.key_type in ("ip", "cidr"):
            nets = [net_key(entry.key)]
        elif entry.key_type == "asn":
            nets = index.get(int(entry.key), [])
            if data.asn_database is not None:
                data.asn_database.expanded.append((entry.rule_id, len(nets)))
            if not nets:
                data.skipped.append(f"{entry.rule_id}: no networks in the ASN database; not rendered")
        else:
            continue
        zone = zones.get(entry.zone) if entry.action == "throttle" else None
        # per-rule throttles aggregate under a placeholder, then each network becomes one shared bucket
        value = entry.code if zone is None or zone.per == "client" else f"{entry.code}:rule"
        items.extend((net, value, entry.rule_id) for net in nets)

    geo = render_geo(items, allowed_networks(allowlists, good_bots), data.skipped)
    data.geo = [GeoEntry(g.network, f"{g.value[:-5]}:{g.network}", g.rules) if g.value.endswith(":rule") else g
                for g in geo]
    ua_entries = [e for e in active if e.key_type == "user_agent"]
    data.ua_exact, data.ua_regex = render_user_agents(ua_entries, allowlists, zones, data.skipped)
    data.map_hash_max_size, data.map_hash_bucket_size = map_hash_sizes(data.ua_exact)

    used = {e.zone for e in active if e.action == "throttle"}
    data.zones = [ZoneData(name=z.name, rate=z.rate, rate_milli=z.rate_milli, burst=z.burst, nodelay=z.nodelay,
                           dry_run=z.dry_run, per=z.per, key_variable=f"proxygen_throttle_{z.name}")
                  for name, z in sorted(zones.items()) if name in used]
    data.server_dry_run = server_dry_run(data, ())   # no site known yet: the build decides per host
    return data
