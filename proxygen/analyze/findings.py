"""Findings: one client (an IP, a CIDR, an ASN or a user agent) with the evidence against it.

A detector returns `Hit`s; hits on the same key merge into one `Finding`, which carries the traffic
numbers of that key, the proposed action and one plain-language sentence of why. A finding on an
allowlisted client keeps its evidence but its action is `observe` and `allowlisted` says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ACTIONS = ("observe", "throttle", "block")  # ascending severity
KEY_TYPES = ("ip", "cidr", "asn", "ua")


def stronger(a: str, b: str) -> str:
    return a if ACTIONS.index(a) >= ACTIONS.index(b) else b


def strength(value: float, threshold: float) -> float:
    """How far past its threshold a number is: 0.5 at the threshold, 1.0 at 8 times it."""
    if threshold <= 0 or value <= 0:
        return 0.5
    return max(0.0, min(1.0, 0.5 + math.log2(max(value / threshold, 1e-9)) / 6))


@dataclass
class Hit:
    """What one detector found on one key."""

    detector: str
    key_type: str
    key: str
    action: str
    strength: float
    numbers: dict[str, Any]
    why: str                      # a clause: "made 420 weighted requests/min (throttle at 60)"
    ua_match: str | None = None   # for ua keys: "contains" or "exact"


@dataclass
class Finding:
    key_type: str
    key: str
    action: str
    score: int
    detectors: list[Hit]
    requests: int = 0
    share: float = 0.0
    ips: int = 0
    asn: int | None = None
    asn_org: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    samples: list[str] = field(default_factory=list)
    why: str = ""
    proposed_action: str = "observe"  # before allowlists were applied
    allowlisted: str | None = None    # why this client may not be blocked, when it may not
    ua_match: str | None = None
    user_agents: list[str] = field(default_factory=list)

    def to_proposal(self) -> dict | None:
        """The rule this finding proposes, or None for observe: the fields of
        proxygen.blocklist.merge.Proposal (key_type, key, action, reason, evidence[, ua_match])."""
        if self.action == "observe":
            return None
        when = f"{iso(self.first_seen)}..{iso(self.last_seen)}" if self.first_seen else "-"
        asn = f", AS{self.asn}" if self.asn is not None else ""
        detectors = "; ".join(f"{h.detector}: {h.why}" for h in self.detectors)
        evidence = (f"score {self.score}; {self.requests:,} requests ({self.share:.1%}), {self.ips:,} IPs{asn}, "
                    f"{when}; {detectors}")
        proposal = {"key_type": self.key_type, "key": self.key, "action": self.action, "reason": self.why,
                    "evidence": evidence}
        if self.key_type == "ua":
            proposal["ua_match"] = self.ua_match or "contains"
        return proposal

    def to_json(self) -> dict:
        """The finding in the documented --json schema (see proxygen.report.json_report)."""
        return {
            "key_type": self.key_type,
            "key": self.key,
            "action": self.action,
            "proposed_action": self.proposed_action,
            "allowlisted": self.allowlisted,
            "score": self.score,
            "why": self.why,
            "detectors": [{"name": h.detector, "action": h.action, "strength": round(h.strength, 3),
                           "numbers": _plain(h.numbers), "why": h.why} for h in self.detectors],
            "requests": self.requests,
            "share": round(self.share, 6),
            "ips": self.ips,
            "asn": self.asn,
            "asn_org": self.asn_org,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "ua_match": self.ua_match,
            "user_agents": self.user_agents,
            "samples": self.samples,
        }


def iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def _plain(numbers: dict) -> dict:
    out = {}
    for k, v in numbers.items():
        if isinstance(v, float):
            v = round(v, 3)
        elif isinstance(v, datetime):
            v = iso(v)
        out[k] = v
    return out


def score(hits: list[Hit], share: float) -> int:
    """0-100: detectors combine like independent odds; a larger share of traffic ranks higher.

    score = 100 x (1 - prod(1 - strength_i)) x (0.5 + 0.5 x min(1, share / 5%))
    """
    miss = 1.0
    for h in hits:
        miss *= 1.0 - min(h.strength, 0.999)
    return round(100 * (1 - miss) * (0.5 + 0.5 * min(1.0, share / 0.05)))


def rank(findings: list[Finding]) -> list[Finding]:
    """Rules first (block, throttle), then by score, then by requests."""
    return sorted(findings, key=lambda f: (-ACTIONS.index(f.action), -f.score, -f.requests, f.key_type, f.key))
