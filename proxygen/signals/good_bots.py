"""Good bots: which user agents claim to be a search engine or AI operator's crawler, and whether the
address is really theirs.

A claim is verified by the operator's published prefix list (shipped as files with their creation time,
refreshed by `proxygen crawlers update-ranges`), by an ASN that only the operator's own machines use, or
optionally by forward-confirmed reverse DNS (see proxygen.signals.dns). A user agent alone proves nothing:
anyone can send "Googlebot".
"""

from __future__ import annotations

import bisect
import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from proxygen.errors import ProxygenError
from proxygen.signals.datafiles import data_path, load_json, read_json


@dataclass(frozen=True)
class GoodBot:
    name: str
    operator: str
    kind: str                      # "search" or "ai"
    tokens: tuple[str, ...]
    ranges_file: str | None
    url: str | None
    trusted_asns: frozenset[int]
    rdns_suffixes: tuple[str, ...]
    operator_asns: frozenset[int] = frozenset()


@dataclass
class Ranges:
    """The published prefixes of one bot, as sorted integer intervals per IP version."""

    creation_time: str | None = None
    source: str | None = None
    seed: bool = False
    networks: list = field(default_factory=list)
    _starts: dict = field(default_factory=dict)
    _ends: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Merge nested or adjacent prefixes into disjoint sorted intervals, so one bisect answers.
        for version in (4, 6):
            merged: list[list[int]] = []
            for net in sorted((n for n in self.networks if n.version == version),
                              key=lambda n: int(n.network_address)):
                lo, hi = int(net.network_address), int(net.broadcast_address)
                if merged and lo <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], hi)
                else:
                    merged.append([lo, hi])
            self._starts[version] = [lo for lo, _ in merged]
            self._ends[version] = [hi for _, hi in merged]

    def __contains__(self, ip) -> bool:
        addr = _parse_ip(ip) if isinstance(ip, str) else ip
        if addr is None:
            return False
        value = int(addr)
        i = bisect.bisect_right(self._starts[addr.version], value) - 1
        return i >= 0 and self._ends[addr.version][i] >= value


def _parse_ip(text: str):
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if addr.version == 6 and addr.ipv4_mapped:
        return addr.ipv4_mapped
    return addr


@lru_cache(maxsize=None)
def registry() -> tuple[GoodBot, ...]:
    """Every known good bot (proxygen/data/good_bots.json)."""
    bots = []
    for b in load_json("good_bots.json")["bots"]:
        bots.append(GoodBot(
            name=b["name"], operator=b["operator"], kind=b["kind"], tokens=tuple(b["tokens"]),
            ranges_file=b.get("ranges"), url=b.get("url"), trusted_asns=frozenset(b.get("trusted_asns", [])),
            rdns_suffixes=tuple(b.get("rdns_suffixes", [])),
            operator_asns=frozenset(b.get("operator_asns", [])) | frozenset(b.get("trusted_asns", [])),
        ))
    return tuple(bots)


def claim_expression(column: str = "user_agent"):
    """polars expression: does this request's UA claim to be a good bot (Aho-Corasick over the tokens,
    ASCII case-insensitive: the same answer as `claimed_bot`, faster than a regex alternation)."""
    import polars as pl

    tokens = [t for bot in registry() for t in bot.tokens]
    return pl.col(column).fill_null("").str.contains_any(tokens, ascii_case_insensitive=True)


def claimed_bot(user_agent: str | None) -> GoodBot | None:
    """The good bot a user agent claims to be, if any."""
    if not user_agent:
        return None
    low = user_agent.lower()
    for bot in registry():
        if any(tok.lower() in low for tok in bot.tokens):
            return bot
    return None


def parse_ranges(doc: dict, where: str) -> Ranges:
    """Validate a published prefix file ({"creationTime", "prefixes": [{"ipv4Prefix"|"ipv6Prefix"}]})."""
    if not isinstance(doc, dict) or not isinstance(doc.get("prefixes"), list):
        raise ProxygenError(f"{where}: expected an object with a 'prefixes' list")
    nets = []
    for i, entry in enumerate(doc["prefixes"]):
        text = (entry or {}).get("ipv4Prefix") or (entry or {}).get("ipv6Prefix") if isinstance(entry, dict) else None
        if not text:
            raise ProxygenError(f"{where}: prefixes[{i}]: expected ipv4Prefix or ipv6Prefix")
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError as err:
            raise ProxygenError(f"{where}: prefixes[{i}]: {err}") from None
    return Ranges(creation_time=doc.get("creationTime"), source=doc.get("source"), seed=bool(doc.get("seed")),
                  networks=nets)


class GoodBotVerifier:
    """Checks claims against published ranges (from `ranges_dir`, else the shipped files) and trusted ASNs."""

    def __init__(self, ranges_dir: Path | None = None):
        self.ranges_dir = Path(ranges_dir) if ranges_dir else None
        self.ranges: dict[str, Ranges] = {}
        for bot in registry():
            if bot.ranges_file:
                self.ranges[bot.name] = self._load(bot)

    def _load(self, bot: GoodBot) -> Ranges:
        path = None
        if self.ranges_dir is not None and (self.ranges_dir / bot.ranges_file).exists():
            path = self.ranges_dir / bot.ranges_file
        if path is None:
            path = data_path("good_bots") / bot.ranges_file
        return parse_ranges(read_json(path), str(path))

    def verify(self, bot: GoodBot, ip: str, asn: int | None = None) -> str | None:
        """How the claim of `ip` to be `bot` is verified ("published ranges", "AS15169"), or None."""
        ranges = self.ranges.get(bot.name)
        if ranges is not None and ip in ranges:
            return f"{bot.operator}'s published {bot.name} ranges"
        if asn is not None and asn in bot.trusted_asns:
            return f"{bot.operator}'s AS{asn}"
        return None

    def verifiable(self, bot: GoodBot, asn: int | None = None) -> bool:
        """False when nothing could verify the claim (no ranges shipped, and no trusted ASN or no ASN known)."""
        ranges = self.ranges.get(bot.name)
        return bool((ranges and ranges.networks) or (bot.trusted_asns and asn is not None))

    def near_miss(self, bot: GoodBot, ip: str, asn: int | None = None) -> str | None:
        """Why an unverified claim may still be genuine: the address is in the operator's own ASN, or in the
        same /16 (IPv4) or /32 (IPv6) as a published range, so the shipped list may simply be stale."""
        if asn is not None and asn in bot.operator_asns:
            return f"it is in {bot.operator}'s AS{asn}"
        addr = _parse_ip(ip)
        ranges = self.ranges.get(bot.name)
        if addr is None or not ranges:
            return None
        wide = ipaddress.ip_network(f"{addr}/{16 if addr.version == 4 else 32}", strict=False)
        if any(n.version == addr.version and n.overlaps(wide) for n in ranges.networks):
            return f"it is next to {bot.operator}'s published ranges (in {wide})"
        return None

    def in_any_search_range(self, network: str) -> GoodBot | None:
        """The verified search bot whose published ranges overlap `network` (a CIDR), if any."""
        net = ipaddress.ip_network(network, strict=False)
        for bot in registry():
            ranges = self.ranges.get(bot.name)
            if bot.kind == "search" and ranges and any(
                    n.version == net.version and n.overlaps(net) for n in ranges.networks):
                return bot
        return None

    def search_asn(self, asn: int | None) -> GoodBot | None:
        """The search bot that crawls from `asn` (blocking that ASN would block it)."""
        if asn is None:
            return None
        for bot in registry():
            if bot.kind == "search" and asn in bot.trusted_asns:
                return bot
        return None

    def unverified_claim(self, ip: str, user_agent: str | None, asn: int | None = None) -> GoodBot | None:
        """The per-request fake-bot signal: the bot claimed from an address that is not its operator's."""
        bot = claimed_bot(user_agent)
        if bot is None or not self.verifiable(bot, asn):
            return None
        return None if self.verify(bot, ip, asn) else bot

