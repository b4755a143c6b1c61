"""What every detector sees: the aggregated traffic tables, the settings and the good-bot verifier."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxygen.model.crawlers import CrawlerSettings
from proxygen.signals.good_bots import GoodBotVerifier


@dataclass
class Context:
    by_ip: Any                 # polars DataFrame, one row per client IP
    by_prefix: Any             # one row per network prefix (ips = distinct IPs)
    by_asn: Any                # one row per ASN (empty without an ASN database)
    by_ua: Any                 # one row per user-agent string
    total_requests: int
    settings: CrawlerSettings = field(default_factory=CrawlerSettings)
    verifier: GoodBotVerifier = field(default_factory=GoodBotVerifier)
    dns: Any = None            # proxygen.signals.dns.DnsVerifier when --verify-dns
    asn_lookup: Any = None     # ip -> ASN (int or None), when an ASN database is open

    def weights(self) -> dict[str, float]:
        return self.settings.weights()


def col(df, name: str, default=0):
    """A column of `df`, or a literal default when the aggregation did not produce it."""
    import polars as pl

    return pl.col(name) if name in df.columns else pl.lit(default)


def cost_expr(df, settings: CrawlerSettings):
    """Weighted cost of a row's requests: each route class counts `weight`, the rest `default_weight`."""
    import polars as pl

    classified = pl.lit(0)
    cost = pl.lit(0.0)
    for rc in settings.route_classes:
        c = col(df, f"rc_{rc.name}")
        classified = classified + c
        cost = cost + c * rc.weight
    rest = (pl.col("requests") - classified).clip(lower_bound=0)
    return cost + rest * settings.default_weight


def expensive_expr(df, settings: CrawlerSettings):
    """Requests on routes weighing more than an ordinary page (search, facets)."""
    import polars as pl

    out = pl.lit(0)
    for rc in settings.route_classes:
        if rc.weight > max(settings.default_weight, 1):
            out = out + col(df, f"rc_{rc.name}")
    return out


def static_expr(df, settings: CrawlerSettings):
    """Requests on routes weighing less than an ordinary page (static assets)."""
    import polars as pl

    out = pl.lit(0)
    for rc in settings.route_classes:
        if rc.weight < min(settings.default_weight, 1):
            out = out + col(df, f"rc_{rc.name}")
    return out
