"""Allowlists: clients that proxygen must never block or throttle.

Declared once in `proxygen.yml` under `allowlists:` and shared by the compiler
(rendered into `geo`/`map` exemptions), the analyzer (findings on these clients
are reported, never turned into rules) and the blocklist store (refuses entries
that would match them).
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AllowedNetwork(_Strict):
    """An address range we own or trust (internal networks, partners, monitoring)."""

    cidr: IPvAnyNetwork
    reason: str = Field(min_length=1, description="Why this range is trusted; shown in reports.")


class AllowedUserAgent(_Strict):
    """A user agent we trust. UAs are spoofable: prefer networks, and pair a UA with `networks` when possible."""

    pattern: str = Field(min_length=1)
    match: Literal["exact", "contains"] = "contains"
    reason: str = Field(min_length=1)
    networks: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="If set, the UA is trusted only from these ranges (a spoofed UA elsewhere is not).",
    )

    def matches(self, user_agent: str | None, ip: str | None = None) -> bool:
        if not user_agent:
            return False
        hit = user_agent == self.pattern if self.match == "exact" else self.pattern in user_agent
        if not hit or not self.networks:
            return hit
        if ip is None:
            return False
        addr = ipaddress.ip_address(ip)
        return any(addr in net for net in self.networks)


class Allowlists(_Strict):
    networks: list[AllowedNetwork] = Field(default_factory=list)
    user_agents: list[AllowedUserAgent] = Field(default_factory=list)
    verified_good_bots: bool = Field(
        True, description="Never block a search-engine bot whose address is in its operator's published ranges."
    )

    def network_for(self, ip: str) -> AllowedNetwork | None:
        """The allowlisted range containing `ip`, if any."""
        addr = ipaddress.ip_address(ip)
        for net in self.networks:
            if addr.version == net.cidr.version and addr in net.cidr:
                return net
        return None

    def overlapping(self, network: str) -> AllowedNetwork | None:
        """The allowlisted range that overlaps `network` (an IP or CIDR), if any."""
        net = ipaddress.ip_network(network, strict=False)
        for allowed in self.networks:
            if allowed.cidr.version == net.version and allowed.cidr.overlaps(net):
                return allowed
        return None

    def user_agent_for(self, user_agent: str | None, ip: str | None = None) -> AllowedUserAgent | None:
        for ua in self.user_agents:
            if ua.matches(user_agent, ip):
                return ua
        return None
