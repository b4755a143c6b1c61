"""What the rendered blocklist does to one request: the geo and map lookups, then the action.

Follows the contract in proxygen.blocklist.render, so simulate predicts what nginx does with the
rendered config (the e2e test compares the two request for request).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from proxygen.blocklist.entry import SEVERITY
from proxygen.blocklist.render import ALLOW, RenderData

ALLOWED = "allowed"           # no blocklist rule applies (throttles are handled by limit_req)
EXEMPT = "exempt"             # an allowlisted network / user agent: no blocklist rule may apply


@dataclass(frozen=True)
class Decision:
    action: str                           # "", "allow", "block403", "block444", "tarpit", "throttle"
    rule: str | None                      # the rule id (or allowlist label) that decided
    throttles: tuple = ()                 # (zone name, key, rule id) for each throttle zone that applies


NO_RULE = Decision("", None)


def _severity(value: str) -> int:
    if value.startswith("t:"):
        return SEVERITY["throttle"]
    return SEVERITY.get(value, 0)


class BlocklistRules:
    """Answers `decide(ip, user_agent)` with nginx's geo (longest prefix) and map (hash, then regex) semantics."""

    def __init__(self, data: RenderData):
        self.data = data
        self.zones = {z.name: z for z in data.zones}
        self._by_len: dict[int, list[tuple[int, dict]]] = {4: [], 6: []}
        tables: dict[tuple[int, int], dict] = {}
        networks = [ipaddress.ip_network(entry.network) for entry in data.geo]
        for entry, net in zip(data.geo, networks):
            tables.setdefault((net.version, net.prefixlen), {})[int(net.network_address)] = (entry.value, entry.rules)
        for (version, plen), table in sorted(tables.items(), key=lambda t: -t[0][1]):
            self._by_len[version].append((plen, table))
        self._exact = {u.pattern.lower(): (u.value, u.rules) for u in data.ua_exact}
        self._regex = [(re.compile(u.pattern), u.value, u.rules) for u in data.ua_regex]
        from proxygen.simulate.iptable import PrefixTable

        self.geo_table = PrefixTable(networks)
        self.geo_values = [(g.value, g.rules) for g in data.geo]
        self._ip_cache: dict[str, tuple] = {}
        self._ua_cache: dict[str, tuple] = {}
        self._cache: dict[tuple[str, str], Decision] = {}

    @property
    def empty(self) -> bool:
        return not self.data.geo and not self.data.ua_exact and not self.data.ua_regex

    def ip_value(self, ip: str) -> tuple[str, tuple]:
        hit = self._ip_cache.get(ip)
        if hit is not None:
            return hit
        result = ("", ())
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            addr = None
        if addr is not None:
            if addr.version == 6 and addr.ipv4_mapped is not None:
                addr = addr.ipv4_mapped
            bits = 32 if addr.version == 4 else 128
            value = int(addr)
            for plen, table in self._by_len[addr.version]:
                found = table.get((value >> (bits - plen)) << (bits - plen) if plen else 0)
                if found is not None:
                    result = found
                    break
        if len(self._ip_cache) < 2_000_000:
            self._ip_cache[ip] = result
        return result

    def ua_value(self, user_agent: str | None) -> tuple[str, tuple]:
        ua = user_agent or ""
        hit = self._ua_cache.get(ua)
        if hit is not None:
            return hit
        result = self._exact.get(ua.lower())
        if result is None:
            result = ("", ())
            for pattern, value, rules in self._regex:
                if pattern.search(ua):
                    result = (value, rules)
                    break
        if len(self._ua_cache) < 500_000:
            self._ua_cache[ua] = result
        return result

    def decide(self, ip: str, user_agent: str | None) -> Decision:
        key = (ip, user_agent or "")
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        decision = self._decide(ip, user_agent)
        if len(self._cache) < 2_000_000:
            self._cache[key] = decision
        return decision

    def _decide(self, ip: str, user_agent: str | None) -> Decision:
        return self.combine(self.ip_value(ip), self.ua_value(user_agent), ip)

    def combine(self, ip_result: tuple, ua_result: tuple, ip: str = "\x00ip") -> Decision:
        """The request's decision from its geo and map values. Without `ip`, per-client throttle keys
        are the marker "\x00ip" (the batch replay substitutes each row's address)."""
        (ip_val, ip_rules), (ua_val, ua_rules) = ip_result, ua_result
        if ip_val == ALLOW:
            return Decision(ALLOW, ip_rules[0] if ip_rules else None)
        if ua_val == ALLOW:
            return Decision(ALLOW, ua_rules[0] if ua_rules else None)
        if not ip_val and not ua_val:
            return NO_RULE
        best_val, best_rules = max(((ip_val, ip_rules), (ua_val, ua_rules)), key=lambda t: _severity(t[0]))
        if not best_val.startswith("t:"):
            return Decision(best_val, best_rules[0] if best_rules else None)
        throttles = []
        for zone in self.zones.values():
            for val, rules in ((ip_val, ip_rules), (ua_val, ua_rules)):
                if val == f"t:{zone.name}" or val.startswith(f"t:{zone.name}:"):
                    key = ip if zone.per == "client" else val
                    throttles.append((zone.name, key, rules[0] if rules else None))
                    break
        return Decision("throttle", throttles[0][2] if throttles else None, tuple(throttles))
