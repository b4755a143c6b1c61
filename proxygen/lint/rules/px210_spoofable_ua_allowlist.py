"""PX210: a user-agent allowlist or limit exemption anyone can claim by sending that user agent."""

from __future__ import annotations

from proxygen.lint.rule import Hit, Rule
from proxygen.lint.rules._security import site_maps, variables

MIN_CONTAINS = 6
# What ordinary browsers send: a `contains` pattern found in these allowlists nearly everyone.
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile "
    "Safari/537.36",
)
_UA_VARIABLES = {"http_user_agent"}


def crawler_named(pattern: str, contains: bool = True) -> str | None:
    """The well-known crawler token a pattern names (or, for `contains`, is part of), if any."""
    from proxygen.signals.good_bots import registry

    low = pattern.lower()
    for bot in registry():
        for token in bot.tokens:
            t = token.lower()
            if t in low or (contains and len(low) >= 3 and low in t):
                return token
    return None


def _allowlist_problem(ua) -> str | None:
    contains = ua.match == "contains"
    if contains and len(ua.pattern) < MIN_CONTAINS:
        return (f"`contains` {ua.pattern!r} is {len(ua.pattern)} characters: it matches countless user agents, "
                f"and anyone can send it; use a longer, specific pattern and `networks:`")
    token = crawler_named(ua.pattern, contains)
    if token:
        return (f"{ua.pattern!r} lets anyone who sends {token!r} in their User-Agent skip every limit and "
                f"block; a real crawler is verified from its published ranges (allowlists.verified_good_bots), "
                f"or add `networks:` to this entry")
    if contains and any(ua.pattern.lower() in b.lower() for b in BROWSERS):
        return (f"`contains` {ua.pattern!r} is found in ordinary browsers' user agents: it allowlists nearly "
                f"everyone; use the application's own token and `networks:`")
    return None


def _feeding_zone_keys(ctx, maps) -> set[str]:
    """Map variables a rate-limit zone key is computed from, directly or through other maps."""
    todo = [v for zone in ctx.settings.rate_limit_zones.values() for v in variables(zone.key)]
    seen: set[str] = set()
    while todo:
        var = todo.pop()
        if var in seen or var not in maps:
            continue
        seen.add(var)
        for _, _, _, m in maps[var]:
            todo += variables(m.source)
    return seen


def check(ctx):
    for k, ua in enumerate(ctx.settings.allowlists.user_agents):
        if ua.networks:
            continue
        why = _allowlist_problem(ua)
        if why:
            yield Hit("proxygen.yml", ("allowlists", "user_agents", k, "pattern"), why)
    maps = site_maps(ctx)
    yield from _rewrite_escapes(ctx, maps)
    zone_keys = {v for zone in ctx.settings.rate_limit_zones.values() for v in variables(zone.key)}
    for var in sorted(_feeding_zone_keys(ctx, maps)):
        for source, _site, k, m in maps[var]:
            if not variables(m.source) or set(variables(m.source)) - _UA_VARIABLES:
                continue  # computed from more than the user agent
            for j, e in enumerate(m.entries):
                if e.value == m.default or not _exempts(var, e.value, m.default, maps, zone_keys):
                    continue
                key = "regex" if e.regex is not None else "exact"
                pattern = e.regex if e.regex is not None else e.exact
                token = crawler_named(pattern, contains=False)
                claim = f"{token!r} in their User-Agent" if token else f"a User-Agent matching {pattern!r}"
                yield Hit(source, ("maps", k, "entries", j, key),
                          f"{m.variable} decides a rate-limit exemption from the User-Agent alone: anyone "
                          f"sending {claim} escapes the limit; exempt by address (allowlists.networks, "
                          f"allowlists.verified_good_bots for crawlers) or add the address to the map's source")


def _zones(site, opts) -> set[str]:
    """Rate-limit zones in force in a block: its own limit_req lines, else the site's (nginx's rule)."""
    own = opts.rate_limits if opts is not None else []
    return {rl.zone for rl in (own or site.rate_limits)}


def _rewrite_escapes(ctx, maps):
    """`rules:` that rewrite on the User-Agent alone to a proxied location with fewer rate limits."""
    from proxygen.lint.rules._shared import select, site_locations

    ua_only = {"http_user_agent"} | {var for var, decls in maps.items()
                                      if all(variables(m.source) and not set(variables(m.source)) - _UA_VARIABLES
                                             for _, _, _, m in decls)}
    for source, site in ctx.sites():
        locations = site_locations(site, ctx.settings)
        everywhere = set().union(_zones(site, None), *(_zones(site, loc) for loc in site.locations))
        for prefix, opts in site.all_options():
            here = _zones(site, opts) if prefix else everywhere
            for j, cond in enumerate(opts.rules):
                if cond.rewrite is None or cond.variable.lstrip("$") not in ua_only:
                    continue
                target = select(locations, cond.rewrite)
                if target is None or target.index is None:
                    continue  # a generated page (error page, stop-crawling.txt): a penalty, not an escape
                dest = site.locations[target.index]
                missing = sorted(here - _zones(site, dest))
                if dest.proxy is not None and missing:
                    yield Hit(source, prefix + ("rules", j, "rewrite"),
                              f"a request is moved to {target.label} on its User-Agent alone "
                              f"({cond.variable}), where the rate limit(s) {', '.join(missing)} do not apply: "
                              f"anyone sending that User-Agent escapes them; give {target.label} the same limits")


def _exempts(var: str, value: str, default: str, maps, zone_keys: set[str]) -> bool:
    """Can this line of map `var` lead to an empty rate-limit key (nginx's "not limited")? Directly when
    the map is a zone key; through other maps when one reading `var` (or reading those) can be empty."""
    if var in zone_keys:
        return value == "" and default != ""
    seen, todo = set(), [var]
    while todo:
        current = todo.pop()
        for decls in maps.values():
            for _, _, _, m in decls:
                target = m.variable.lstrip("$")
                if current not in variables(m.source) or target in seen:
                    continue
                seen.add(target)
                if target in zone_keys and (m.default == "" or any(e.value == "" for e in m.entries)):
                    return True
                todo.append(target)
    return False


RULE = Rule(
    code="PX210", name="spoofable-ua-allowlist", severity="error",
    summary="An allowlisted user agent (or a UA-only limit exemption) that names a crawler or is too broad, "
            "without networks.",
    doc="""Allowlisted clients skip every rate limit and blocklist rule. The User-Agent header is whatever the
client sends: an entry `Googlebot` without `networks:` lets any scraper that claims to be Googlebot crawl
without limit (OFF's 2025 edge vhost allowlisted Googlebot, Bingbot and CCBot this way).
Also reported: `contains` patterns shorter than 6 characters or found in ordinary browsers' user agents,
site maps that decide a rate-limit exemption (an empty zone key) from `$http_user_agent` alone, and
`rules:` that rewrite on the User-Agent alone to a proxied location with fewer rate limits. Fix: real
crawlers are verified from their published address ranges (`allowlists.verified_good_bots`); for an
application or partner, add `networks:` to the entry, or exempt by address (`allowlists.networks`).
(gixy: no equivalent; OFF-specific)""",
    check=check,
)
