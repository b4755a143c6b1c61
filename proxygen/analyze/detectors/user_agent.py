"""user_agent: AI crawlers, SEO bots, scraping tools, old harvesters and UAs that name nothing.

Classified once per distinct user-agent string (lists in proxygen/data with their sources), then grouped
by the list entry that matched, so "GPTBot/1.1" and "GPTBot/1.2" make one finding keyed on the token
"GPTBot". Below `min_requests` a bad user agent is only observed.
"""

from __future__ import annotations

from proxygen.analyze.context import Context
from proxygen.analyze.findings import Hit, strength
from proxygen.signals import user_agents

NAME = "user_agent"
SUMMARY = "User agents of AI crawlers, SEO bots, scraping tools and empty/generic UAs."
FLAGS: dict = {}

LABELS = {"ai_crawler": "AI crawler", "seo_bot": "SEO bot", "scraping_tool": "scraping library or tool",
          "harvester": "e-mail harvester / spam bot", "empty": "empty or generic user agent"}


def detect(ctx: Context) -> list[Hit]:
    import polars as pl

    df = ctx.by_ua
    if df is None or df.height == 0:
        return []
    ua_col = "user_agent" if "user_agent" in df.columns else df.columns[0]
    rows = df.select(pl.col(ua_col).alias("ua"), pl.col("requests"),
                     (pl.col("ips").fill_null(0) if "ips" in df.columns else pl.lit(0)).alias("ips"))
    rows = rows.filter(pl.col("ua").is_not_null())  # a format without $http_user_agent: nothing to say
    if rows.height == 0:
        return []
    # classified all at once: a crawler giving each request its own user agent makes a million of them
    rows = pl.concat([rows, user_agents.classify_many(rows["ua"])], how="horizontal").with_row_index("_order")
    groups = (rows.filter(pl.col("ua_class").is_not_null())
              .group_by("ua_class", "token")
              .agg(pl.col("requests").sum(), pl.col("ips").sum(), pl.len().alias("n_uas"),
                   pl.col("match").sort_by("_order").first(), pl.col("detail").sort_by("_order").first(),
                   pl.col("ua").sort_by(["requests", "ua"], descending=[True, False]).head(5).alias("examples"),
                   pl.col("_order").min().alias("_first"))
              .sort("_first"))  # in the order of the busiest user agent of each group
    t = ctx.settings.thresholds.user_agent
    hits = []
    for g in groups.iter_rows(named=True):
        cls, token = g["ua_class"], g["token"]
        action = user_agents.action_for(cls) if g["requests"] >= t.min_requests else "observe"
        detail = f" ({g['detail']})" if g["detail"] else ""
        why = f"{LABELS[cls]}{detail}: {g['requests']:,} requests with user agent matching '{token or '(empty)'}'"
        numbers = {"class": cls, "token": token, "requests": g["requests"], "user_agents": g["n_uas"],
                   "examples": g["examples"]}
        hits.append(Hit(NAME, "ua", token, action, strength(g["requests"], t.min_requests) * 0.9 + 0.1,
                        numbers, why, ua_match=g["match"]))
    return hits
