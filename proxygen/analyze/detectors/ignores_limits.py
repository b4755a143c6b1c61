"""ignores_limits: clients that keep going after being told to slow down (429) or that the site is
protecting itself (503).

A person who sees an error page stops or waits; a script retries. An address whose requests are largely
answered 429/503 and that sent many requests after the first one is not reading the answers.
"""

from __future__ import annotations

from proxygen.analyze.context import Context, col
from proxygen.analyze.findings import Hit, strength

NAME = "ignores_limits"
SUMMARY = "Clients that keep sending after receiving 429/503."
FLAGS: dict = {}


def detect(ctx: Context) -> list[Hit]:
    import polars as pl

    df = ctx.by_ip
    if df is None or df.height == 0 or "limited" not in df.columns:
        return []
    t = ctx.settings.thresholds.limits
    rows = df.with_columns(after=col(df, "after_limited")).filter(
        (pl.col("limited") >= t.min_limited) & (pl.col("limited") >= t.min_limited_share * pl.col("requests"))
        & (pl.col("after") >= t.min_after_limited))
    hits = []
    for r in rows.iter_rows(named=True):
        share = r["limited"] / max(r["requests"], 1)
        why = (f"received {r['limited']:,} 429/503 answers ({share:.0%} of its requests) "
               f"and sent {r['after']:,} more requests after the first")
        hits.append(Hit(NAME, "ip", r["client_ip"], "block", strength(r["limited"], t.min_limited),
                        {"limited": r["limited"], "limited_share": share, "after_limited": r["after"],
                         "requests": r["requests"]}, why))
    return hits
