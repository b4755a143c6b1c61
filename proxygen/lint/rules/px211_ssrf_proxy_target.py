"""PX211: a proxy target whose host the client chooses (server-side request forgery)."""

from __future__ import annotations

import re

from proxygen.lint.rule import Hit, Rule
from proxygen.lint.rules._security import capture_names, client_controlled, tainted_variables, variables, wildcard_names

_SCHEME = re.compile(r"^[a-z]+://")


def host_part(url: str) -> tuple[str, bool]:
    """(scheme-less authority of a proxy URL, whether a path follows it)."""
    rest = _SCHEME.sub("", url)
    cut = rest.find("/")
    return (rest, False) if cut < 0 else (rest[:cut], True)


def check(ctx):
    mapped = tainted_variables(ctx, client_controlled)
    for source, site in ctx.sites():
        for i, loc in enumerate(site.locations):
            if loc.proxy is None or loc.proxy.url is None:
                continue
            captures = capture_names(loc.path) if loc.match in ("regex", "regex_i") else set()

            def controlled(name: str) -> str | None:
                if name.isdigit() or name in captures:
                    return f"${name} (a capture of the request path)"
                if client_controlled(name):
                    return f"${name} (sent by the client)"
                if name in mapped:
                    return f"${name} (a map of client input)"
                if name == "host" and wildcard_names(site):
                    return "$host (any name under this site's wildcard server names)"
                return None

            host, has_path = host_part(loc.proxy.url)
            where = ("locations", i, "proxy", "url")
            found = [c for c in map(controlled, variables(host)) if c]
            if not has_path and loc.proxy.uri and loc.proxy.uri.startswith("$"):
                lead = variables(loc.proxy.uri)[:1]
                extra = [c for c in map(controlled, lead) if c]
                if extra:
                    found += [f"{extra[0]} in proxy.uri, glued to the host (the URL has no path)"]
                    where = ("locations", i, "proxy", "uri")
            if found:
                yield Hit(source, where, f"the proxied host is decided by {', '.join(found)}: a client can send "
                                         f"this proxy anywhere, internal services included; proxy to an "
                                         f"upstream, or choose among fixed hosts with a map")


RULE = Rule(
    code="PX211", name="ssrf-proxy-target", severity="error",
    summary="proxy.url whose host contains a request-controlled variable (SSRF).",
    doc="""`proxy: {url: "http://$arg_backend/"}` lets the client choose where the proxy connects: internal
services, cloud metadata endpoints (169.254.169.254), other sites' backends, all with the proxy's
network position and headers. Reported when the host part of `proxy.url` (or a `proxy.uri` glued to a
URL without a path) contains `$arg_*`, `$http_*`, `$cookie_*`, `$request_uri`, `$uri`, `$args`, a regex
capture of the location, a map computed from those, or `$host` on a site with wildcard server names.
Fix: proxy to a declared upstream; when the target must vary, map the input to a fixed list of hosts
(`maps:` entries with literal values). (gixy: ssrf)""",
    check=check,
)
