"""PX201: `$http_host` passed on or echoed back, where the client controls it."""

from __future__ import annotations

import re

from proxygen.lint.rule import Hit, Rule

_HTTP_HOST = re.compile(r"\$(\{http_host\}|http_host\b)")


def _values(site):
    """(key path, value) of every field of a site that reaches the backend or the client."""
    for prefix, opts in site.all_options():
        for name, value in opts.proxy_headers.items():
            yield prefix + ("proxy_headers", name), value
        for i, header in enumerate(opts.headers):
            yield prefix + ("headers", i, "value"), header.value
        for i, cond in enumerate(opts.rules):
            if cond.return_ is not None and cond.return_.url is not None:
                yield prefix + ("rules", i, "return", "url"), cond.return_.url
    if site.redirect is not None:
        yield ("redirect", "to"), site.redirect.to
    for i, loc in enumerate(site.locations):
        if loc.redirect is not None:
            yield ("locations", i, "redirect", "to"), loc.redirect.to
        if loc.return_ is not None and loc.return_.url is not None:
            yield ("locations", i, "return", "url"), loc.return_.url
        if loc.proxy is not None and loc.proxy.url is not None:
            yield ("locations", i, "proxy", "url"), loc.proxy.url


def check(ctx):
    for name, headers in sorted(ctx.settings.header_sets.items()):
        for header, value in headers.items():
            if _HTTP_HOST.search(value):
                yield Hit("proxygen.yml", ("header_sets", name, header),
                          "$http_host is the client's Host header, unchecked; use $host (the matched server name)")
    for source, site in ctx.sites():
        for loc, value in _values(site):
            if _HTTP_HOST.search(value):
                yield Hit(source, loc, "$http_host is the client's Host header, unchecked; use $host "
                                       "(the matched server name)")


RULE = Rule(
    code="PX201", name="host-header-spoofing", severity="error",
    summary="$http_host (the client's raw Host header) is passed to a backend or used in a URL or header.",
    doc="""`$http_host` is whatever the client sent in `Host:`; with a wildcard or default server it can be any
name, e.g. `evil.example`. Passed to a backend it ends up in password-reset links and absolute URLs
(cache poisoning, account takeover); in a redirect it sends users elsewhere. `$host` is the server name
nginx matched (or the Host header only when it matched one of this site's names), lower-cased and
without the port. Use `$host`, or a literal name. (gixy: host_spoofing)""",
    check=check,
)
