"""blocklists/ YAML for the simulate tests: a few throttled networks, built instead of written out each time."""

from __future__ import annotations


def throttle_blocklist(zones: dict[str, str], networks: dict[str, str], extra: str = "") -> str:
    """`zones`: name -> its flow mapping (`{rate: 30r/m, burst: 3}`); `networks`: CIDR -> the zone
    throttling it; `extra`: more entries, as YAML list items."""
    lines = ["zones:", *[f"  {name}: {spec}" for name, spec in zones.items()], "entries:"]
    for cidr, zone in networks.items():
        lines += [f"  - cidr: {cidr}", "    action: throttle", f"    zone: {zone}", "    reason: r"]
    return "\n".join(lines) + "\n" + extra
