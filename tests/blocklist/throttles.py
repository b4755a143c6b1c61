"""Test data the simulate tests share: blocklists/ YAML (a few throttled networks, built instead of written
out each time) and the proxygen.yml of a one-host repository."""

from __future__ import annotations


def throttle_blocklist(zones: dict[str, str], networks: dict[str, str], extra: str = "") -> str:
    """`zones`: name -> its flow mapping (`{rate: 30r/m, burst: 3}`); `networks`: CIDR -> the zone
    throttling it; `extra`: more entries, as YAML list items."""
    lines = ["zones:", *[f"  {name}: {spec}" for name, spec in zones.items()], "entries:"]
    for cidr, zone in networks.items():
        lines += [f"  - cidr: {cidr}", "    action: throttle", f"    zone: {zone}", "    reason: r"]
    return "\n".join(lines) + "\n" + extra


def scraper_bot_and_range(crawl_zone: str) -> str:
    """The simulate CLI tests' blocklist: 203.0.113.7 blocked, `EvilBot` blocked with 444, 192.0.2.0/24
    throttled in zone `crawl`, whose flow mapping is `crawl_zone` (`{rate: 1r/m, burst: 1}`)."""
    return f"""\
zones:
  crawl: {crawl_zone}
entries:
  - ip: 203.0.113.7
    action: block
    reason: scraper
  - user_agent: EvilBot
    action: block
    status: 444
    reason: bad bot
  - cidr: 192.0.2.0/24
    action: throttle
    zone: crawl
    reason: hosting range
"""


def edge_settings(per_ip_rate: str) -> dict:
    """proxygen.yml of one host `edge` (nginx 1.22.1) serving site `shop`, with a `per-ip` zone at
    `per_ip_rate`, the stop-crawling page and a short `main` log format."""
    return {
        "hosts": {"edge": {"nginx_version": "1.22.1", "sites": ["shop"]}},
        "rate_limit_zones": {"per-ip": {"key": "$binary_remote_addr", "rate": per_ip_rate}},
        "pages": ["stop-crawling.txt"],
        "log_formats": {"main": '$remote_addr "$request" $status'},
    }
