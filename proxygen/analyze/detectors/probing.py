"""probing: bursts of 4xx on sensitive paths (wp-login.php, .env, phpMyAdmin, shells...), non-HTTP
request lines, or 404s on many distinct paths (random-URL scans).

Sensitive paths are a data file (proxygen/data/sensitive_paths.json). Only 4xx answers count: the same
path answered 200 is a real page of some site. A random-URL scan without sensitive paths is throttled,
not blocked: an app looking up unknown barcodes also collects 404s.
"""

from __future__ import annotations

from proxygen.analyze.context import Context, col
from proxygen.analyze.findings import Hit, strength
from proxygen.signals.paths import probe_expression

NAME = "probing"
SUMMARY = "4xx bursts on sensitive or non-existent paths."


def flags() -> dict:
    import polars as pl

    # 404/410 only: a 403 or 429 says "not you", not "no such page"
    return {"probe": probe_expression(), "not_found": pl.col("status").is_in([404, 410])}


def detect(ctx: Context) -> list[Hit]:
    import polars as pl

    df = ctx.by_ip
    if df is None or df.height == 0:
        return []
    t = ctx.settings.thresholds.probing
    rows = df.with_columns(probes=col(df, "flag_probe"), s4=col(df, "flag_not_found"),
                           paths=col(df, "distinct_paths")).filter(
        (pl.col("probes") >= t.min_probes)
        | ((pl.col("s4") >= t.min_not_found) & (pl.col("s4") >= t.min_not_found_share * pl.col("requests"))
           & (pl.col("paths") >= t.min_not_found)))
    hits = []
    for r in rows.iter_rows(named=True):
        if r["probes"] >= t.min_probes:
            why = f"{r['probes']:,} requests for sensitive paths answered 4xx (wp-login.php, .env, shells...)"
            hits.append(Hit(NAME, "ip", r["client_ip"], "block", strength(r["probes"], t.min_probes),
                            {"sensitive_4xx": r["probes"], "not_found": r["s4"], "distinct_paths": r["paths"],
                             "requests": r["requests"]}, why))
        else:
            share = r["s4"] / max(r["requests"], 1)
            why = f"{r['s4']:,} 404 answers ({share:.0%} of its requests) over {r['paths']:,} distinct paths"
            hits.append(Hit(NAME, "ip", r["client_ip"], "throttle", strength(r["s4"], t.min_not_found),
                            {"not_found": r["s4"], "not_found_share": share, "distinct_paths": r["paths"],
                             "requests": r["requests"]}, why))
    return hits
