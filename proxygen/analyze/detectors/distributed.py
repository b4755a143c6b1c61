"""distributed: a prefix or ASN whose many IPs each stay under per-IP limits but together crawl.

The signature of the scrapers that made OFF put facets behind a login: hundreds of addresses of one
network, few user agents between them, mostly expensive routes (search, facets, deep pagination) and
almost no static files. Browsers in the same network fetch static assets and send many user agents;
the mobile app's users hit cheap product API routes. When at most four prefixes hold most (80%) of an
ASN's crawl, the findings are those prefixes (narrower rules); otherwise the whole ASN.
"""

from __future__ import annotations

from proxygen.analyze.context import Context, col, expensive_expr, static_expr
from proxygen.analyze.findings import Hit, strength

NAME = "distributed"
SUMMARY = "Many IPs of one prefix or ASN crawling expensive routes together."

# Deep pagination (page >= 10 in the query, or a trailing /10../9999 page number: barcodes are longer)
# and facet combinations (two facets or more in one path): what a crawl walks and a person rarely does.
CRAWL_PATTERN_QUERY = r"(?:^|&)page=[1-9][0-9]"
CRAWL_PATTERN_PATH = r"/[1-9][0-9]{1,3}$|^/facets/[^/]+/[^/]+/[^/]+/[^/]+"


def flags() -> dict:
    import polars as pl

    return {"crawl_pattern": (pl.col("query").fill_null("").str.contains(CRAWL_PATTERN_QUERY)
                              | pl.col("path").fill_null("").str.contains(CRAWL_PATTERN_PATH))}
PREFIX_COVERS_ASN = 0.8
MAX_PREFIX_RULES = 4


def _candidates(ctx: Context, df, key: str):
    import polars as pl

    t = ctx.settings.thresholds.distributed
    min_share = t.min_prefix_share if key == "prefix" else t.min_total_share
    if df is None or df.height == 0 or key not in df.columns:
        return []
    total = max(ctx.total_requests, 1)
    rows = (
        df.filter(pl.col(key).is_not_null())
        .with_columns(expensive=expensive_expr(df, ctx.settings), static=static_expr(df, ctx.settings),
                      n_uas=col(df, "n_uas", 1), pattern=col(df, "flag_crawl_pattern"))
        .with_columns(expensive_share=pl.col("expensive") / pl.col("requests"),
                      pattern_share=pl.col("pattern") / pl.col("requests"),
                      static_share=pl.col("static") / pl.col("requests"),
                      share=pl.col("requests") / total,
                      uas_per_ip=pl.col("n_uas") / pl.col("ips"))
        .filter((pl.col("ips") >= t.min_ips) & (pl.col("requests") >= t.min_requests)
                & (pl.col("share") >= min_share)
                & ((pl.col("expensive_share") >= t.min_expensive_share)
                   | (pl.col("pattern_share") >= t.min_pattern_share))
                & (pl.col("static_share") <= t.max_static_share)
                & ((pl.col("uas_per_ip") <= t.max_uas_per_ip)
                   | (pl.col("expensive_share") >= t.expensive_share_any_ua)))
    )
    return rows.to_dicts()


def _hit(ctx: Context, r: dict, key_type: str, key: str) -> Hit:
    t = ctx.settings.thresholds.distributed
    per_ip = r["requests"] / max(r["ips"], 1)
    numbers = {"ips": r["ips"], "requests": r["requests"], "requests_per_ip": per_ip,
               "expensive_share": r["expensive_share"], "static_share": r["static_share"],
               "crawl_pattern_share": r["pattern_share"],
               "user_agents": r["n_uas"], "top_ua": r.get("top_ua"), "share": r["share"]}
    pattern = (f", {r['pattern_share']:.0%} deep pagination or facet combinations"
               if r["pattern_share"] >= 0.05 else "")
    why = (f"{r['ips']:,} IPs sent {r['requests']:,} requests ({r['share']:.1%} of all), "
           f"{r['expensive_share']:.0%} on expensive routes{pattern}, {r['n_uas']} user agent(s), "
           f"~{per_ip:.0f} requests per IP")
    s = max(strength(r["ips"], t.min_ips), strength(r["share"], t.min_total_share))  # ASN-level share
    return Hit(NAME, key_type, key, "block", s, numbers, why)


def detect(ctx: Context) -> list[Hit]:
    prefixes = _candidates(ctx, ctx.by_prefix, "prefix")
    asns = _candidates(ctx, ctx.by_asn, "asn")
    prefix_asn = _prefix_to_asn(ctx)
    hits: list[Hit] = []
    used_prefixes: set[str] = set()
    for a in asns:
        inside = [p for p in prefixes if prefix_asn.get(p["prefix"]) == a["asn"]]
        if (inside and len(inside) <= MAX_PREFIX_RULES
                and sum(p["requests"] for p in inside) >= PREFIX_COVERS_ASN * a["requests"]):
            continue  # a few prefixes hold the crawl: they are the narrower rules
        used_prefixes.update(p["prefix"] for p in inside)
        hits.append(_hit(ctx, a, "asn", str(a["asn"])))
    for p in prefixes:
        if p["prefix"] not in used_prefixes:
            hits.append(_hit(ctx, p, "cidr", p["prefix"]))
    return hits


def _prefix_to_asn(ctx: Context) -> dict:
    df = ctx.by_ip
    if df is None or "prefix" not in df.columns or "asn" not in df.columns:
        return {}
    pairs = df.select("prefix", "asn").drop_nulls().unique(subset="prefix", keep="first")
    return dict(pairs.iter_rows())
