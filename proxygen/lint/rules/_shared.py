"""What several PX1xx rules compute: nginx's location selection, URIs a regex location matches,
where a redirect lands, which variables a host's generated config defines, and blocklist positions.

Kept beside the rules (not in LintContext) because only lint rules need it; each function is pure
and cheap, and states which part of nginx's behaviour it reproduces.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from proxygen.errors import Position

# --- nginx location selection -----------------------------------------------------------------


@dataclass(frozen=True)
class Loc:
    """A location as nginx sees it: `index` is its entry under `locations:`, None for generated ones."""

    match: str      # prefix, prefix_priority, exact, regex, regex_i
    path: str
    index: int | None
    label: str

    def matches(self, uri: str) -> bool:
        if self.match == "exact":
            return uri == self.path
        if self.match in ("prefix", "prefix_priority"):
            return uri.startswith(self.path)
        return _compiled(self.path, self.match == "regex_i").search(uri) is not None


_MODIFIER = {"prefix": "", "prefix_priority": "^~ ", "exact": "= ", "regex": "~ ", "regex_i": "~* "}
_CACHE: dict[tuple[str, bool], re.Pattern] = {}


def _compiled(pattern: str, ignore_case: bool) -> re.Pattern:
    key = (pattern, ignore_case)
    if key not in _CACHE:
        try:
            _CACHE[key] = re.compile(pattern, re.I if ignore_case else 0)
        except re.error:  # PCRE-only syntax: treat as matching nothing rather than guess
            _CACHE[key] = re.compile(r"(?!)")
    return _CACHE[key]


def site_locations(site, settings) -> list[Loc]:
    """Every location of the site's https (or only) server, declared and generated, in config order."""
    out = [Loc(loc.match, loc.path, i, f"location {_MODIFIER[loc.match]}{loc.path}")
           for i, loc in enumerate(site.locations) if loc.match != "named"]
    tls = site.tls
    if tls is not None and not tls.redirect_http and tls.acme_challenge:
        out.insert(0, Loc("prefix", "/.well-known/acme-challenge/", None,
                          "the generated location /.well-known/acme-challenge/"))
    pages = sorted({settings.error_pages[c] for c in site.error_pages if c in settings.error_pages}
                   | set(site.pages))
    out += [Loc("exact", "/" + p, None, f"the generated location = /{p} (error_pages/pages)") for p in pages]
    return out


def normalize_uri(uri: str) -> str:
    """The URI nginx matches locations against: slashes merged, `.` and `..` segments resolved."""
    out: list[str] = []
    trailing = False
    for segment in re.sub("/{2,}", "/", uri).split("/")[1:]:
        if segment in (".", ".."):
            if segment == ".." and out:
                out.pop()
            trailing = True
            continue
        out.append(segment)
        trailing = False
    path = "/" + "/".join(out)
    return path + "/" if trailing and not path.endswith("/") else path


def select(locations: list[Loc], uri: str) -> Loc | None:
    """The location nginx picks for `uri`: an exact match; else the longest matching prefix if it is
    `^~`; else the first matching regex in declaration order; else that longest prefix."""
    uri = normalize_uri(uri)
    for loc in locations:
        if loc.match == "exact" and loc.path == uri:
            return loc
    longest = None
    for loc in locations:
        if loc.match in ("prefix", "prefix_priority") and uri.startswith(loc.path):
            if longest is None or len(loc.path) > len(longest.path):
                longest = loc
    if longest is not None and longest.match == "prefix_priority":
        return longest
    for loc in locations:
        if loc.match in ("regex", "regex_i") and loc.matches(uri):
            return loc
    return longest


def candidate_uris(loc: Loc, siblings: list[Loc] = ()) -> list[str]:
    """URIs that should reach `loc` if anything does: its path and a path below it (prefix), its path
    (exact), strings generated from the pattern that it matches (regex; empty when none could be made).
    An unanchored regex's samples are also tried under each sibling prefix location, where a longer
    plain prefix lets nginx try regexes again (`^~ /` then `/app/` then `~ \\.php$`)."""
    if loc.match == "exact":
        return [loc.path]
    if loc.match in ("prefix", "prefix_priority"):
        return [loc.path, loc.path + "x"] + ([] if loc.path.endswith("/") else [loc.path + "/x"])
    bases = ["/"] + sorted({s.path for s in siblings if s.match == "prefix" and s.path != "/"})
    out = []
    samples = regex_samples(loc.path, loc.match == "regex_i")
    # a pattern not anchored at its end also matches longer URIs (`/\.` needs a name after the dot)
    for sample in samples + [s + "x" for s in samples]:
        for base in bases:
            joined = [base + sample.lstrip("/") if base.endswith("/") else base + "/" + sample.lstrip("/")]
            if sample.startswith("/") and base != "/":
                joined.append(base + sample)
            for uri in map(normalize_uri, joined):
                if loc.matches(uri) and uri not in out:
                    out.append(uri)
    return out[:_MAX_SAMPLES * 4]


# --- strings a regular expression matches ------------------------------------------------------

_MAX_SAMPLES = 48
_CATEGORY = {"CATEGORY_DIGIT": "05", "CATEGORY_NOT_DIGIT": "a/", "CATEGORY_WORD": "a0", "CATEGORY_NOT_WORD": "/.",
             "CATEGORY_SPACE": " ", "CATEGORY_NOT_SPACE": "a/"}
_PROBE = "a/x0.-_Z9~"  # characters tried for negated classes and `.`


def regex_samples(pattern: str, ignore_case: bool = False) -> list[str]:
    """A few strings the pattern can match, covering each alternative and both ends of each repeat.

    Built from Python's parse tree (re._parser): nginx's PCRE regexes used in locations are almost
    always in the common subset. Patterns Python cannot parse give no samples (the caller then makes
    no claim about them)."""
    try:
        from re import _parser as sre_parse  # Python >= 3.11
    except ImportError:  # pragma: no cover
        import sre_parse  # type: ignore[no-redef]
    try:
        tree = sre_parse.parse(pattern, re.I if ignore_case else 0)
    except (re.error, RecursionError, ValueError):
        return []
    try:
        return _seq(tree, sre_parse)[:_MAX_SAMPLES]
    except RecursionError:
        return []


def _product(parts: list[list[str]]) -> list[str]:
    out = [""]
    for options in parts:
        if not options:
            return []
        out = [a + b for a, b in itertools.islice(itertools.product(out, options), _MAX_SAMPLES)]
    return out


def _seq(items, sp) -> list[str]:
    return _product([_item(op, av, sp) for op, av in items])


def _in_class(items, sp) -> list[str]:
    """Characters a [...] set accepts (a few of them)."""
    negate = any(op is sp.NEGATE for op, _ in items)
    accepted: list[str] = []
    tests = []
    for op, av in items:
        if op is sp.LITERAL:
            accepted.append(chr(av))
            tests.append(lambda c, v=av: ord(c) == v)
        elif op is sp.RANGE:
            lo, hi = av
            accepted += [chr(lo), chr(hi)]
            tests.append(lambda c, lo=lo, hi=hi: lo <= ord(c) <= hi)
        elif op is sp.CATEGORY:
            chars = _CATEGORY.get(str(av), "a")
            accepted += list(chars)
            pattern = re.compile(_CATEGORY_RE.get(str(av), "a"))
            tests.append(lambda c, p=pattern: p.match(c) is not None)
    if negate:
        return [c for c in _PROBE if not any(t(c) for t in tests)][:2]
    return list(dict.fromkeys(accepted))[:3]


_CATEGORY_RE = {"CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_WORD": r"\w",
                "CATEGORY_NOT_WORD": r"\W", "CATEGORY_SPACE": r"\s", "CATEGORY_NOT_SPACE": r"\S"}


def _item(op, av, sp) -> list[str]:
    if op is sp.LITERAL:
        return [chr(av)]
    if op is sp.NOT_LITERAL:
        return [c for c in _PROBE if ord(c) != av][:1]
    if op is sp.ANY:
        return ["a"]
    if op is sp.IN:
        return _in_class(av, sp)
    if op is sp.CATEGORY:
        return [_CATEGORY.get(str(av), "a")[0]]
    if op is sp.AT:
        return [""]
    if op is sp.BRANCH:
        out = []
        for alternative in av[1]:
            out += _seq(alternative, sp)
        return list(dict.fromkeys(out))[:_MAX_SAMPLES]
    if op is sp.SUBPATTERN:
        return _seq(av[-1], sp)
    if op in (sp.MAX_REPEAT, sp.MIN_REPEAT, getattr(sp, "POSSESSIVE_REPEAT", None)):
        low, high, body = av
        inner = _seq(body, sp)
        counts = [low] + ([low + 1] if high is sp.MAXREPEAT or high > low else [])
        out = []
        for n in counts:
            out += _product([inner] * n) if n else [""]
        return list(dict.fromkeys(out))[:_MAX_SAMPLES]
    if op is sp.GROUPREF:
        return [""]
    # lookarounds, conditionals, atomic groups: contribute nothing
    return [""]


# --- redirects ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Redirect:
    """One redirect a contributor declared: where it is (file, key path) and its target URL template."""

    source: str
    loc: tuple
    site: str
    to: str
    keep_uri: bool
    location: Loc | None   # None: the redirect-only site itself


def redirects_of(source: str, site) -> list[Redirect]:
    out = []
    if site.redirect is not None:
        out.append(Redirect(source, ("redirect", "to"), site.name, site.redirect.to, site.redirect.keep_uri, None))
    for i, loc in enumerate(site.locations):
        if loc.match == "named":
            continue
        here = Loc(loc.match, loc.path, i, f"location {_MODIFIER[loc.match]}{loc.path}")
        if loc.redirect is not None:
            out.append(Redirect(source, ("locations", i, "redirect", "to"), site.name, loc.redirect.to,
                                loc.redirect.keep_uri, here))
        elif loc.return_ is not None and loc.return_.url is not None:
            out.append(Redirect(source, ("locations", i, "return", "url"), site.name, loc.return_.url, False, here))
    return out


def target_url(redirect: Redirect, host: str, uri: str) -> tuple[str, str, str] | None:
    """(scheme, host, path) the redirect sends a request for host+uri to; None when a variable nginx
    computes at run time (a capture, a map) decides the host."""
    to = redirect.to.rstrip("/") + "$request_uri" if redirect.keep_uri else redirect.to
    # the query string plays no part in location selection
    known = {"host": host, "request_uri": uri, "uri": uri.split("?")[0], "scheme": "https", "is_args": "", "args": ""}
    to = _VARIABLE.sub(lambda m: known.get(m.group(1) or m.group(2), m.group(0)), to)
    parts = urlsplit(to)
    if "$" in parts.netloc or not parts.hostname:
        return None
    path = parts.path or "/"
    return parts.scheme, parts.hostname.lower(), re.sub(r"\$\{?\w+\}?", "x", path)


_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def name_index(sites) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """server name -> sites (exact names), and (pattern, site) for wildcard names, nginx's kinds:
    `*.x` (leading), `x.*` (trailing), `.x` (x and *.x)."""
    exact: dict[str, list[str]] = {}
    wild: list[tuple[str, str]] = []
    for site in sites:
        for name in site.server_names:
            n = name.lower()
            if n.startswith("."):
                exact.setdefault(n[1:], []).append(site.name)
                wild.append(("*" + n, site.name))
            elif "*" in n:
                wild.append((n, site.name))
            else:
                exact.setdefault(n, []).append(site.name)
    return exact, wild


def sites_for_name(host: str, exact, wild) -> list[str]:
    """Sites answering `host`: exact names, else the longest leading wildcard, else a trailing one."""
    if host in exact:
        return sorted(set(exact[host]))
    leading = [(len(p), s) for p, s in wild if p.startswith("*.") and host.endswith(p[1:])]
    if leading:
        best = max(n for n, _ in leading)
        return sorted({s for n, s in leading if n == best})
    trailing = [s for p, s in wild if p.endswith(".*") and host.startswith(p[:-1])]
    return sorted(set(trailing))


def start_uris(redirect: Redirect) -> list[str]:
    if redirect.location is None:
        return ["/"]
    return candidate_uris(redirect.location)[:1] or []


def redirect_index(ctx) -> dict[str, list[Redirect]]:
    """Per site: its redirects (site-level one first)."""
    return {site.name: redirects_of(source, site) for source, site in ctx.sites()}


def follow(ctx, redirect: Redirect, max_hops: int = 10) -> list[tuple[list, bool]]:
    """Follow a redirect from its own site, for each URI it is written for: (hops, loop) where hops
    lists (redirect, url) traversed and loop says a redirect came back (the repeated one is last)."""
    by_site = {s.name: s for _, s in ctx.sites()}
    index = redirect_index(ctx)
    exact, wild = name_index(by_site.values())
    site = by_site[redirect.site]
    first_name = next((n.lower() for n in site.server_names if "*" not in n and not n.startswith(".")),
                      site.server_names[0].lower().strip("*."))
    results = []
    for uri in start_uris(redirect):
        hops: list = []
        seen = {(redirect.site, redirect.loc)}
        current, host, path, loop = redirect, first_name, uri, False
        while True:
            target = target_url(current, host, path)
            if target is None:
                break
            scheme, host, path = target
            hops.append((current, f"{scheme}://{host}{path}"))
            nxt = None
            for site_name in sites_for_name(host, exact, wild):
                nxt = _redirect_at(by_site[site_name], index[site_name], scheme, path, ctx)
                if nxt is not None:
                    break
            if nxt is None:
                break
            if (nxt.site, nxt.loc) in seen or len(hops) >= max_hops:
                hops.append((nxt, ""))
                loop = True
                break
            seen.add((nxt.site, nxt.loc))
            current = nxt
        results.append((hops, loop))
    return results


def _redirect_at(site, redirects: list[Redirect], scheme: str, path: str, ctx) -> Redirect | None:
    """The redirect a request for scheme://<a name of site><path> meets, if any: the site's own, the
    generated http -> https one, or the selected location's."""
    if site.redirect is not None:
        return redirects[0]
    if scheme == "http" and site.tls is not None and site.tls.redirect_http:
        if not (site.tls.acme_challenge and path.startswith("/.well-known/acme-challenge/")):
            return Redirect(ctx.repo.site_file(site.name), ("tls", "redirect_http"), site.name,
                            "https://$host$request_uri", False, None)
    chosen = select(site_locations(site, ctx.settings), path.split("?")[0])
    if chosen is None or chosen.index is None:
        return None
    return next((r for r in redirects if r.location is not None and r.location.index == chosen.index), None)


def followed_redirects(ctx):
    """(source, redirect, the walks `follow` finds from it) for every redirect of every site."""
    for source, site in ctx.sites():
        for redirect in redirects_of(source, site):
            yield source, redirect, follow(ctx, redirect)


def describe(redirect: Redirect) -> str:
    if redirect.loc == ("tls", "redirect_http"):
        return f"site {redirect.site} (http -> https)"
    if redirect.location is None:
        return f"site {redirect.site}"
    return f"site {redirect.site} {redirect.location.label}"


# --- generated config -------------------------------------------------------------------------


def host_blocks(ctx, host: str) -> list[tuple[tuple, str, list]]:
    """Every block of a host as nginx reads it, generated includes inlined (a site's top level sits in
    `http`, the crawler-defence snippet in each server including it): (enclosing block names, file
    the block opens in, [(directive, file it is written in)] directly in the block)."""
    trees = {rel: tree for h, rel, tree in ctx.generated() if h == host}
    out: list[tuple[tuple, str, list]] = []

    def inline(nodes, rel: str, depth: int) -> list:
        items = []
        for node in nodes:
            target = node.args[0] if node.name == "include" and len(node.args) == 1 else None
            if target in trees and depth < 8:
                items += inline(trees[target], target, depth + 1)
            else:
                items.append((node, rel))
        return items

    def visit(nodes, rel: str, names: tuple) -> None:
        items = inline(nodes, rel, 0)
        out.append((names, rel, items))
        for node, written_in in items:
            if node.block is not None:
                visit(node.block, written_in, names + (node.name,))

    if "nginx.conf" in trees:
        visit(trees["nginx.conf"], "nginx.conf", ())
    return out


def defined_variables(ctx, host: str) -> set[str]:
    """Variables (without $) a host's generated config defines with map, geo, set or a named capture."""
    from proxygen.lint.context import walk

    out: set[str] = set()
    for h, _rel, tree in ctx.generated():
        if h != host:
            continue
        for node, _ in walk(tree):
            if node.name == "map" and len(node.args) == 2:
                out.add(node.args[1].lstrip("$"))
            elif node.name == "geo" and node.args:
                out.add(node.args[-1].lstrip("$"))
            elif node.name in ("set", "perl_set", "js_set") and node.args:
                out.add(node.args[0].lstrip("$"))
            for arg in node.args:
                out.update(m.group(1) or m.group(2) for m in _CAPTURE.finditer(arg))
    return out


_CAPTURE = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>|\(\?'([A-Za-z_][A-Za-z0-9_]*)'")


def is_nginx_variable(name: str) -> bool:
    """An nginx built-in (or a header/cookie/argument variable); proxygen's own `$proxygen_*` names count
    only where the generated config defines them."""
    from proxygen.model.references import is_builtin_variable

    return is_builtin_variable(name) and not name.startswith("proxygen_")


# --- blocklists -------------------------------------------------------------------------------


def blocklist_position(ctx, file, position) -> Position:
    """A blocklist entry's or zone's position with the repository-relative file name."""
    rel = f"{ctx.settings.blocklists_dir.rstrip('/')}/{file.path.name}"
    if position is None:
        return Position(rel)
    return Position(rel, position.line, position.column)
