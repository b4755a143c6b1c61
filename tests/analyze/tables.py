"""Hand-built aggregation tables (the columns proxygen.logs.aggregate produces) for detector tests."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import polars as pl

T0 = datetime(2025, 1, 31, 12, 0, tzinfo=timezone.utc)
T1 = datetime(2025, 1, 31, 13, 0, tzinfo=timezone.utc)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"

_COUNTS = dict(requests=0, distinct_paths=1, s2xx=0, s3xx=0, s4xx=0, s5xx=0, limited=0, after_limited=0, bytes=0,
               rc_static=0, rc_search=0, rc_facets=0, rc_api=0, rc_product=0, peak_rpm=0.0, sustained_rpm=0.0,
               n_uas=1, flag_probe=0, flag_claims_bot=0, flag_not_found=0)


def ip(client_ip: str, requests: int, *, asn=64500, asn_org="Example Net", prefix=None, top_ua=BROWSER, **kw) -> dict:
    row = dict(_COUNTS, client_ip=client_ip, requests=requests, s2xx=requests, first_seen=T0, last_seen=T1,
               top_ua=top_ua, asn=asn, asn_org=asn_org,
               prefix=prefix or ".".join(client_ip.split(".")[:3]) + ".0/24")
    row.update(kw)
    return row


def group(key: str, value, requests: int, ips: int, **kw) -> dict:
    row = dict(_COUNTS, requests=requests, ips=ips, s2xx=requests, first_seen=T0, last_seen=T1, top_ua=BROWSER)
    row[key] = value
    row.update(kw)
    return row


def ua(user_agent: str, requests: int, ips: int = 1) -> dict:
    return dict(user_agent=user_agent, requests=requests, ips=ips, first_seen=T0, last_seen=T1)


def traffic(ips=(), prefixes=(), asns=(), uas=()) -> SimpleNamespace:
    by_ip = pl.DataFrame(list(ips)) if ips else pl.DataFrame(schema={"client_ip": pl.Utf8, "requests": pl.Int64})
    by_prefix = pl.DataFrame(list(prefixes)) if prefixes else pl.DataFrame(schema={"prefix": pl.Utf8, "requests": pl.Int64, "ips": pl.Int64})
    by_asn = pl.DataFrame(list(asns)) if asns else pl.DataFrame(schema={"asn": pl.Int64, "requests": pl.Int64, "ips": pl.Int64})
    by_ua = pl.DataFrame(list(uas)) if uas else pl.DataFrame(schema={"user_agent": pl.Utf8, "requests": pl.Int64, "ips": pl.Int64})
    total = int(by_ip["requests"].sum()) if by_ip.height else 0
    return SimpleNamespace(by_ip=by_ip, by_prefix=by_prefix, by_asn=by_asn, by_ua=by_ua, totals={"requests": total})


def context(t, settings=None, dns=None):
    from proxygen.analyze.context import Context
    from proxygen.model.crawlers import CrawlerSettings

    return Context(by_ip=t.by_ip, by_prefix=t.by_prefix, by_asn=t.by_asn, by_ua=t.by_ua,
                   total_requests=t.totals["requests"], settings=settings or CrawlerSettings(), dns=dns)
