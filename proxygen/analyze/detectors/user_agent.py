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
    df = ctx.by_ua
    if df is None or df.height == 0:
        return []
    ua_col = "user_agent" if "user_agent" in df.columns else df.columns[0]
    groups: dict[tuple[str, str], dict] = {}
    for r in df.iter_rows(named=True):
        if r[ua_col] is None:  # the log format has no $http_user_agent: nothing to say about UAs
            continue
        m = user_agents.classify(r[ua_col])
        if m is None:
            continue
        g = groups.setdefault((m.ua_class, m.token), {"match": m, "requests": 0, "ips": 0, "uas": []})
        g["requests"] += r["requests"]
        g["ips"] += r.get("ips") or 0
        g["uas"].append((r["requests"], r[ua_col]))
    t = ctx.settings.thresholds.user_agent
    hits = []
    for (cls, token), g in groups.items():
        m = g["match"]
        action = user_agents.action_for(cls) if g["requests"] >= t.min_requests else "observe"
        top = [ua for _, ua in sorted(g["uas"], key=lambda x: (-x[0], x[1] or ""))[:5]]
        detail = f" ({m.detail})" if m.detail else ""
        why = f"{LABELS[cls]}{detail}: {g['requests']:,} requests with user agent matching '{token or '(empty)'}'"
        numbers = {"class": cls, "token": token, "requests": g["requests"], "user_agents": len(g["uas"]),
                   "examples": top}
        hits.append(Hit(NAME, "ua", token, action, strength(g["requests"], t.min_requests) * 0.9 + 0.1,
                        numbers, why, ua_match=m.match))
    return hits
