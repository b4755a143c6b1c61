"""Cross-references between declarations, checked by name before anything is rendered.

Each check returns positioned problems. The per-host checks make explicit the
couplings nginx resolves silently: two sites on one host declaring the same
server name (nginx ignores one), the same upstream name, or the same map/geo
variable (the last one silently wins).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxygen.errors import Problem

if TYPE_CHECKING:
    from proxygen.model import Repository

# Variables proxygen itself defines on every host (snippets/http.conf and crawler-defence).
RESERVED_VARIABLES = frozenset({
    "$connection_upgrade", "$proxygen_allowlisted_ip", "$proxygen_allowlisted_ua", "$proxygen_allowlisted",
    "$proxygen_ua_match", "$proxygen_ua_networks",
})


def check_references(repo: "Repository") -> list[Problem]:
    problems: list[Problem] = []
    problems += _hosts(repo)
    for name in sorted(repo.sites):
        problems += _site(repo, name)
    for host_name in sorted(repo.settings.hosts):
        problems += _host_conflicts(repo, host_name)
    return problems


def _p(repo, source, loc, message) -> Problem:
    from proxygen.model.yamlpos import format_loc

    return Problem(repo.position(source, loc), format_loc(loc), message)


def _hosts(repo) -> list[Problem]:
    import difflib

    out = []
    for host_name, host in sorted(repo.settings.hosts.items()):
        for i, site in enumerate(host.sites):
            if site not in repo.sites:
                close = difflib.get_close_matches(site, list(repo.sites), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                out.append(_p(repo, "proxygen.yml", ("hosts", host_name, "sites", i),
                              f"no site declaration sites/{site}.yml{hint}"))
    return out


def _site(repo, name: str) -> list[Problem]:
    from proxygen.compile.directives import DIRECTIVES, LOCATION, SERVER

    s = repo.settings
    site = repo.sites[name]
    src = repo.site_file(name)
    out: list[Problem] = []
    for prefix, opts in site.all_options():
        if opts.header_set is not None and opts.header_set not in s.header_sets:
            out.append(_p(repo, src, prefix + ("header_set",),
                          f"unknown header set {opts.header_set!r} (proxygen.yml header_sets: "
                          f"{', '.join(sorted(s.header_sets)) or 'none'})"))
        for i, rl in enumerate(opts.rate_limits):
            if rl.zone not in s.rate_limit_zones:
                out.append(_p(repo, src, prefix + ("rate_limits", i, "zone"),
                              f"unknown rate-limit zone {rl.zone!r} (proxygen.yml rate_limit_zones: "
                              f"{', '.join(sorted(s.rate_limit_zones)) or 'none'})"))
        if opts.cache is not None and opts.cache.zone not in s.cache_zones:
            out.append(_p(repo, src, prefix + ("cache", "zone"),
                          f"unknown cache zone {opts.cache.zone!r} (proxygen.yml cache_zones: "
                          f"{', '.join(sorted(s.cache_zones)) or 'none'})"))
        context = LOCATION if prefix else SERVER
        for i, d in enumerate(opts.directives):
            if context not in DIRECTIVES[d.name].contexts:
                out.append(_p(repo, src, prefix + ("directives", i, "name"),
                              f"{d.name} is not allowed in a {context} block"))
        if prefix:
            loc = site.locations[prefix[1]]
            if loc.proxy is not None and loc.proxy.upstream is not None and loc.proxy.upstream not in site.upstreams:
                out.append(_p(repo, src, prefix + ("proxy", "upstream"),
                              f"unknown upstream {loc.proxy.upstream!r} (this site's upstreams: "
                              f"{', '.join(sorted(site.upstreams)) or 'none'})"))
            if loc.static is not None and loc.static.fallback and loc.static.fallback.startswith("@"):
                named = {x.path for x in site.locations if x.match == "named"}
                if loc.static.fallback not in named:
                    out.append(_p(repo, src, prefix + ("static", "fallback"),
                                  f"no named location {loc.static.fallback} in this site"))
    if site.logs.access is not False:
        fmt = site.logs.access.format
        if fmt not in s.log_formats and fmt != "combined":
            out.append(_p(repo, src, ("logs", "access", "format"),
                          f"unknown log format {fmt!r} (proxygen.yml log_formats: {', '.join(sorted(s.log_formats))})"))
    for i, code in enumerate(site.error_pages):
        if code not in s.error_pages:
            out.append(_p(repo, src, ("error_pages", i), f"no error page for {code} in proxygen.yml error_pages"))
    for i, page in enumerate(site.pages):
        if page not in s.pages:
            out.append(_p(repo, src, ("pages", i), f"unknown page {page!r} (proxygen.yml pages: {', '.join(s.pages)})"))
    for i, decl in enumerate([*site.maps, *site.geos]):
        if decl.variable in RESERVED_VARIABLES or decl.variable.startswith("$proxygen_"):
            section, j = ("maps", i) if i < len(site.maps) else ("geos", i - len(site.maps))
            out.append(_p(repo, src, (section, j, "variable"), f"{decl.variable} is defined by proxygen itself"))
    return out


def _host_conflicts(repo, host_name: str) -> list[Problem]:
    host = repo.settings.hosts[host_name]
    out: list[Problem] = []
    seen_names: dict[str, str] = {}
    seen_upstreams: dict[str, str] = {}
    seen_vars: dict[str, str] = {}
    for site_name in host.sites:
        site = repo.sites.get(site_name)
        if site is None:
            continue
        src = repo.site_file(site_name)
        for i, server_name in enumerate(site.server_names):
            other = seen_names.setdefault(server_name.lower(), site_name)
            if other != site_name:
                out.append(_p(repo, src, ("server_names", i),
                              f"{server_name} is also served by site {other} on host {host_name}"))
        for up in site.upstreams:
            other = seen_upstreams.setdefault(up, site_name)
            if other != site_name:
                out.append(_p(repo, src, ("upstreams", up),
                              f"upstream {up} is also declared by site {other} on host {host_name}; rename one"))
        for section, decls in (("maps", site.maps), ("geos", site.geos)):
            for i, decl in enumerate(decls):
                other = seen_vars.setdefault(decl.variable, site_name)
                if other != site_name:
                    out.append(_p(repo, src, (section, i, "variable"),
                                  f"{decl.variable} is also defined by site {other} on host {host_name}"))
    return out
