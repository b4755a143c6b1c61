"""User-agent classes: AI crawlers, SEO bots, scraping tools, old harvesters, and UAs that name nothing.

The token lists are data files (proxygen/data/*.json, each with its source). Tokens are specific names
matched case-insensitively as substrings; generic words ("spider", "crawler") are not used because they
hit unrelated clients.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from proxygen.signals.datafiles import escape, load_json

if TYPE_CHECKING:
    import polars as pl

# Class -> (data file, action a finding of this class proposes). Ordered: the first class that matches
# a user agent is its class.
UA_CLASSES: dict[str, tuple[str, str]] = {
    "empty": ("generic_agents.json", "block"),
    "ai_crawler": ("ai_crawlers.json", "block"),
    "seo_bot": ("seo_bots.json", "block"),
    "harvester": ("harvester_agents.json", "block"),
    "scraping_tool": ("scraping_tools.json", "throttle"),
}
BAD_CLASSES = tuple(UA_CLASSES)


@dataclass(frozen=True)
class UaMatch:
    ua_class: str
    token: str          # the list entry that matched (or the exact value for `empty`)
    match: str          # "exact" or "contains": how a rule on this UA should match
    detail: str         # operator / tool, for the explanation


@dataclass(frozen=True)
class _ClassList:
    name: str
    regex: str                       # one alternation, for polars
    contains: tuple[tuple[str, str], ...]  # (lowercased token, detail)
    exact: tuple[tuple[str, str], ...]     # (value, detail)


@lru_cache(maxsize=None)
def _lists() -> tuple[_ClassList, ...]:
    out = []
    for name, (filename, _action) in UA_CLASSES.items():
        doc = load_json(filename)
        contains, exact = [], []
        for entry in doc["entries"]:
            detail = entry.get("operator") or entry.get("tool") or entry.get("function") or ""
            if "value" in entry or entry.get("match") == "exact":
                exact.append(((entry.get("value") if "value" in entry else entry["token"]).strip(), detail))
            else:
                contains.append((entry["token"].lower(), detail))
        parts = [escape(tok) for tok, _ in contains] + ["^" + escape(val) + "$" for val, _ in exact]
        regex = "(?i)(?:" + "|".join(parts) + ")" if parts else "(?!)"
        out.append(_ClassList(name, regex, tuple(contains), tuple(exact)))
    return tuple(out)


def classify(user_agent: str | None) -> UaMatch | None:
    """The bad-UA class of one user agent, or None for an ordinary client."""
    ua = (user_agent or "").strip()
    low = ua.lower()
    for lst in _lists():
        for value, detail in lst.exact:
            if low == value.lower():
                return UaMatch(lst.name, value, "exact", detail)
        for token, detail in lst.contains:
            if token in low:
                return UaMatch(lst.name, _original_token(lst.name, token), "contains", detail)
    return None


def classify_many(user_agents) -> "pl.DataFrame":
    """`classify` of every value of a Series at once, in polars: columns `ua_class`, `token`, `match`,
    `detail`, one row per value in order (nulls for an ordinary client).

    Per distinct user agent, `classify` costs ~15 us of Python; a crawler that gives every request a
    user agent of its own (a random suffix) makes that a million calls. Here each class is one exact
    lookup (a join on the lower-cased value) and one Aho-Corasick pass over what is left; the token is,
    as in `classify`, the first of the class's list that the user agent contains.
    """
    import polars as pl

    low = user_agents.cast(pl.Utf8).fill_null("").str.strip_chars().str.to_lowercase()
    left = pl.DataFrame({"_low": low}).with_row_index("_i")
    found = []
    for lst in _lists():
        if lst.exact:
            values = pl.DataFrame({"_low": [v.lower() for v, _ in lst.exact], "token": [v for v, _ in lst.exact],
                                   "detail": [d for _, d in lst.exact]}).unique("_low", keep="first",
                                                                               maintain_order=True)
            hit = left.join(values, on="_low").select("_i", "token", "detail", pl.lit("exact").alias("match"))
            found.append(hit.with_columns(pl.lit(lst.name).alias("ua_class")))
            left = left.join(hit.select("_i"), on="_i", how="anti")
        if lst.contains and left.height:
            tokens = [t for t, _ in lst.contains]
            order = pl.DataFrame({"_m": tokens, "_rank": range(len(tokens)),
                                  "token": [_original_token(lst.name, t) for t in tokens],
                                  "detail": [d for _, d in lst.contains]}).unique("_m", keep="first",
                                                                                  maintain_order=True)
            hit = (left.filter(pl.col("_low").str.contains_any(tokens))
                   .select("_i", pl.col("_low").str.extract_many(tokens, overlapping=True).alias("_m"))
                   .explode("_m").join(order, on="_m")
                   .sort("_rank").unique("_i", keep="first", maintain_order=True)  # the first token listed
                   .select("_i", "token", "detail", pl.lit("contains").alias("match")))
            found.append(hit.with_columns(pl.lit(lst.name).alias("ua_class")))
            left = left.join(hit.select("_i"), on="_i", how="anti")
    columns = ["_i", "ua_class", "token", "match", "detail"]
    matched = pl.concat([f.select(columns) for f in found]) if found else pl.DataFrame(
        schema={"_i": pl.UInt32, "ua_class": pl.Utf8, "token": pl.Utf8, "match": pl.Utf8, "detail": pl.Utf8})
    return (pl.DataFrame({"_i": pl.Series(range(len(low)), dtype=pl.UInt32)}).join(matched, on="_i", how="left")
            .sort("_i").drop("_i"))


@lru_cache(maxsize=None)
def _original_token(class_name: str, lowered: str) -> str:
    filename = UA_CLASSES[class_name][0]
    for entry in load_json(filename)["entries"]:
        if entry.get("token", "").lower() == lowered:
            return entry["token"]
    return lowered


def action_for(ua_class: str) -> str:
    return UA_CLASSES[ua_class][1]


def is_bad(user_agent: str | None) -> bool:
    """The per-request bad-bot signal."""
    return classify(user_agent) is not None


def flag_expressions(column: str = "user_agent") -> dict:
    """polars expressions, one per class: does this request's UA belong to the class."""
    import polars as pl

    ua = pl.col(column).fill_null("").str.strip_chars()
    return {f"ua_{lst.name}": ua.str.contains(lst.regex) for lst in _lists()}


BROWSER_RE = re.compile(r"^Mozilla/5\.0 \((Windows|Macintosh|X11|Linux|iPhone|iPad|Android)[^)]*\).*"
                        r"(Gecko|AppleWebKit|Chrome|Firefox|Safari)", re.I)


def looks_like_browser(user_agent: str | None) -> bool:
    """A UA shaped like a real browser's (spoofable; only used to soften, never to accuse)."""
    return bool(user_agent) and BROWSER_RE.match(user_agent) is not None and classify(user_agent) is None
