"""PX212: a value that can carry a decoded line break into a header, a redirect or a proxied request."""

from __future__ import annotations

from proxygen.lint.rule import Hit, Rule
from proxygen.lint.rules._security import (DECODED, capture_names, group_line_breaks, group_matches_newline,
                                           tainted_variables, variables)


def _outputs(opts, prefix: tuple):
    """(key path, value, rule index or None) of an Options block's values that reach headers or URLs."""
    for name, value in opts.proxy_headers.items():
        yield prefix + ("proxy_headers", name), value, None
    for j, header in enumerate(opts.headers):
        yield prefix + ("headers", j, "value"), header.value, None
    for j, cond in enumerate(opts.rules):
        if cond.return_ is not None and cond.return_.url is not None:
            yield prefix + ("rules", j, "return", "url"), cond.return_.url, j


def _location_outputs(loc, i: int):
    if loc.redirect is not None:
        yield ("locations", i, "redirect", "to"), loc.redirect.to, None
    if loc.return_ is not None and loc.return_.url is not None:
        yield ("locations", i, "return", "url"), loc.return_.url, None
    if loc.proxy is not None:
        if loc.proxy.url is not None:
            yield ("locations", i, "proxy", "url"), loc.proxy.url, None
        if loc.proxy.uri is not None:
            yield ("locations", i, "proxy", "uri"), loc.proxy.uri, None


def _regex_locations(site):
    return [loc for loc in site.locations if loc.match in ("regex", "regex_i")]


def check(ctx):
    def map_capture_carries(regex, entry, group):
        return group_matches_newline(regex, group, bool(entry is not None and entry.ignore_case))

    mapped = tainted_variables(ctx, lambda n: n in DECODED, map_capture_carries)

    def plain(name: str) -> str | None:
        if name in DECODED:
            return f"${name} is URL-decoded (%0A becomes a line break)"
        if name in mapped:
            return f"${name} is a map of a URL-decoded value"
        return None

    for header, values in sorted(ctx.settings.header_sets.items()):
        for name, value in values.items():
            why = [w for w in map(plain, variables(value)) if w]
            if why:
                yield Hit("proxygen.yml", ("header_sets", header, name), _message(why))
    for source, site in ctx.sites():
        regex_locs = _regex_locations(site)

        def capture(name: str, contexts) -> str | None:
            """Does capture `name` of one of the regexes (regex, ignore case, what it matched) hold a newline?"""
            for regex, ic, what in contexts:
                breaks = group_line_breaks(regex, name, ic)
                if 10 in breaks:
                    return f"${name} captures {what} and can hold a line feed (%0A)"
                if breaks:
                    return (f"${name} captures {what} and can hold a carriage return (%0D, a line break to "
                            f"Python's http.client and other lenient parsers)")
            return None

        def reasons(value: str, contexts) -> list[str]:
            out = []
            for name in variables(value):
                why = plain(name)
                if why is None and (name.isdigit() or any(name in capture_names(rx) for rx, _, _ in contexts)):
                    why = capture(name, contexts)
                if why:
                    out.append(why)
            return out

        site_contexts = [(loc.path, loc.match == "regex_i", "the decoded path") for loc in regex_locs]
        blocks = [((), site, site_contexts, None)]
        for i, loc in enumerate(site.locations):
            is_regex = loc.match in ("regex", "regex_i")
            ctxs = [(loc.path, loc.match == "regex_i", "the decoded path")] if is_regex else []
            blocks.append((("locations", i), loc, ctxs, i))
        for prefix, opts, contexts, index in blocks:
            items = list(_outputs(opts, prefix))
            if index is not None:
                items += list(_location_outputs(opts, index))
            for loc_path, value, rule_index in items:
                use = contexts
                if rule_index is not None:
                    cond = opts.rules[rule_index]
                    regex = cond.matches if cond.matches is not None else cond.matches_i
                    if regex is not None:
                        decoded = cond.variable.lstrip("$") in DECODED | mapped
                        use = [(regex, cond.matches_i is not None, f"{cond.variable}")] if decoded else []
                why = reasons(value, use)
                if why:
                    yield Hit(source, loc_path, _message(why))
        if site.redirect is not None:
            why = reasons(site.redirect.to, [])
            if why:
                yield Hit(source, ("redirect", "to"), _message(why))


def _message(why: list[str]) -> str:
    return (f"{'; '.join(why)}: a crafted request can add headers or a body to this response or request "
            f"(HTTP splitting); use $request_uri (sent as received), or a capture that cannot hold a line "
            f"break, e.g. ([^\\r\\n]*)")


RULE = Rule(
    code="PX212", name="http-splitting", severity="error",
    summary="$uri, $document_uri or a regex capture that can hold a line break, in a header, redirect or proxy URL.",
    doc="""nginx decodes the request path: `/foo%0D%0ASet-Cookie:%20a=b` is `$uri` with a real line break.
Put into `add_header`, `proxy_set_header`, a `return`/redirect URL or the proxied URL, it ends the
header line and starts a new one: the client (or the backend) receives headers, cookies or a whole
response the attacker wrote. Reported for `$uri`, `$document_uri`, maps of them, and regex captures
(`$1`, named groups) of a location or `if` regex that can match a line feed or a carriage return
(`[^/]*`, `\\s`, and `.`: it excludes only the line feed; a bare CR is a line break to Python's
http.client, hence to `requests`, and to other lenient parsers and caches). `$request_uri` and `$args`
are sent as received (encoded) and are safe. Fix: use `$request_uri`, or make the capture exclude line
breaks (`([^/\\r\\n]*)`, `([\\w.-]+)`). (gixy: http_splitting)""",
    check=check,
)
