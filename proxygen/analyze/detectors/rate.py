"""rate: one IP sending more weighted requests per minute than any person does.

Requests are weighed by route class (a search or a facet page costs ~10 product pages, a static file a
tenth), so 100 static files a minute from an office stays under the bar while 30 searches a minute do not.
Sustained (best 10-minute average) decides throttle or block; a short burst (one minute's peak) earns a
throttle.
An address with many browser user agents that also fetches static assets is a shared address (office or
carrier NAT): it is observed, never throttled on rate alone.
"""

from __future__ import annotations

from proxygen.analyze.context import Context, col, cost_expr, static_expr
from proxygen.analyze.findings import Hit, strength

NAME = "rate"
SUMMARY = "Peak and sustained weighted requests per minute per IP."
FLAGS: dict = {}


def detect(ctx: Context) -> list[Hit]:
    import polars as pl

    t = ctx.settings.thresholds.rate
    df = ctx.by_ip
    if df.height == 0:
        return []
    rows = (
        df.filter(pl.col("requests") >= t.min_requests)
        .with_columns(cost=cost_expr(df, ctx.settings), static=static_expr(df, ctx.settings))
        .with_columns(per_req=pl.col("cost") / pl.col("requests"))
        .with_columns(w_sustained=col(df, "sustained_rpm") * pl.col("per_req"),
                      w_peak=col(df, "peak_rpm") * pl.col("per_req"))
        .filter((pl.col("w_sustained") >= t.throttle_cost_per_min) | (pl.col("w_peak") >= t.peak_cost_per_min))
    )
    hits = []
    for r in rows.iter_rows(named=True):
        sustained, peak = r["w_sustained"], r["w_peak"]
        action = "block" if sustained >= t.block_cost_per_min else "throttle"
        numbers = {"sustained_rpm": r.get("sustained_rpm"), "peak_rpm": r.get("peak_rpm"),
                   "weighted_sustained_rpm": sustained, "weighted_peak_rpm": peak,
                   "cost_per_request": r["per_req"], "throttle_at": t.throttle_cost_per_min,
                   "block_at": t.block_cost_per_min, "peak_throttle_at": t.peak_cost_per_min}
        if sustained >= t.throttle_cost_per_min:
            why = (f"sustained {sustained:,.0f} weighted requests/min (peak {peak:,.0f}; "
                   f"{action} at {t.block_cost_per_min if action == 'block' else t.throttle_cost_per_min:g})")
        else:
            why = (f"a burst of {peak:,.0f} weighted requests in one minute (throttle at {t.peak_cost_per_min:g}; "
                   f"sustained {sustained:,.0f})")
        n_uas = r.get("n_uas") or 0
        static_share = (r["static"] or 0) / max(r["requests"], 1)
        if n_uas >= t.shared_address_uas and static_share >= 0.15:
            numbers.update(n_uas=n_uas, static_share=static_share)
            action = "observe"
            why += f", but {n_uas} browser user agents and {static_share:.0%} static files: a shared address (NAT)"
        s = max(strength(sustained, t.throttle_cost_per_min), strength(peak, t.peak_cost_per_min))
        hits.append(Hit(NAME, "ip", r["client_ip"], action, s, numbers, why))
    return hits
