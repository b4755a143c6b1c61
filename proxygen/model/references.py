"""Cross-references between declarations, checked by name before anything is rendered.

Each check returns positioned problems. The per-host checks make explicit the
couplings nginx resolves silently: two sites on one host declaring the same
server name (nginx ignores one), the same upstream name, or the same map/geo
variable (the last one silently wins).
"""

from __future__ import annotations

import re
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
    problems += _allowlist_text(repo)
    problems += _shared_maps(repo)
    for name in sorted(repo.sites):
        problems += _site(repo, name)
    for host_name in sorted(repo.settings.hosts):
        problems += _host_conflicts(repo, host_name)
    if not problems:
        problems += check_variables(repo)
    return problems


def _p(repo, source, loc, message, code: str = "") -> Problem:
    from proxygen.model.yamlpos import format_loc

    return Problem(repo.position(source, loc), format_loc(loc), message, code)


# lint rule codes of the problems found here (see proxygen/lint/rules/)
SERVER_NAME_CLASH = "PX101"
UNDEFINED = "PX102"
DEFINED_TWICE = "PX103"
UNDEFINED_VARIABLE = "PX104"


def _hosts(repo) -> list[Problem]:
    import difflib

    out = []
    for host_name, host in sorted(repo.settings.hosts.items()):
        for i, site in enumerate(host.sites):
            if site not in repo.sites:
                close = difflib.get_close_matches(site, list(repo.sites), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                out.append(_p(repo, "proxygen.yml", ("hosts", host_name, "sites", i),
                              f"no site declaration sites/{site}.yml{hint}", UNDEFINED))
        status = host.stub_status
        if status is not None and status.port in (host.http_port, host.https_port):
            which = "http_port" if status.port == host.http_port else "https_port"
            out.append(_p(repo, "proxygen.yml", ("hosts", host_name, "stub_status", "port"),
                          f"{status.port} is the host's {which}, where the sites answer; use another port "
                          "(the exporter's default is 8080)"))
    return out


def _allowlist_text(repo) -> list[Problem]:
    """Allowlisted user agents are rendered into map keys: the same text rules as declarations."""
    from proxygen.model.values import control_character

    out = []
    for i, ua in enumerate(repo.settings.allowlists.user_agents):
        ch = control_character(ua.pattern)
        if ch is not None:
            out.append(_p(repo, "proxygen.yml", ("allowlists", "user_agents", i, "pattern"),
                          f"contains a control character (U+{ord(ch):04X}); remove it"))
    return out


def _shared_maps(repo) -> list[Problem]:
    """proxygen.yml `maps:` are emitted on every host: they may use only nginx's variables and each other,
    and no site may define the same variable (nginx would silently keep the last definition)."""
    from proxygen.model.values import variables_in

    shared = repo.settings.maps
    names = {m.variable for m in shared}
    out: list[Problem] = []
    seen: set[str] = set()
    for i, m in enumerate(shared):
        if m.variable in RESERVED_VARIABLES or m.variable.startswith("$proxygen_"):
            out.append(_p(repo, "proxygen.yml", ("maps", i, "variable"), f"{m.variable} is defined by proxygen itself"))
        elif m.variable in seen:
            out.append(_p(repo, "proxygen.yml", ("maps", i, "variable"), f"{m.variable} is defined twice in maps"))
        seen.add(m.variable)
        texts = [(("maps", i, "source"), m.source), (("maps", i, "default"), m.default)]
        texts += [(("maps", i, "entries", j, "value"), e.value) for j, e in enumerate(m.entries)]
        for loc, text in texts:
            for var in variables_in(text):
                if not is_builtin_variable(var) and "$" + var not in names:
                    out.append(_p(repo, "proxygen.yml", loc, f"${var} is not an nginx variable nor a shared map "
                                                             "(shared maps are emitted on every host)"))
    for site_name in sorted(repo.sites):
        site = repo.sites[site_name]
        for section, decls in (("maps", site.maps), ("geos", site.geos)):
            for i, decl in enumerate(decls):
                if decl.variable in names:
                    out.append(_p(repo, repo.site_file(site_name), (section, i, "variable"),
                                  f"{decl.variable} is also defined in proxygen.yml maps; use that one or rename"))
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
                          f"{', '.join(sorted(s.header_sets)) or 'none'})", UNDEFINED))
        for i, rl in enumerate(opts.rate_limits):
            if rl.zone not in s.rate_limit_zones:
                out.append(_p(repo, src, prefix + ("rate_limits", i, "zone"),
                              f"unknown rate-limit zone {rl.zone!r} (proxygen.yml rate_limit_zones: "
                              f"{', '.join(sorted(s.rate_limit_zones)) or 'none'})", UNDEFINED))
        if opts.cache is not None and opts.cache.zone not in s.cache_zones:
            out.append(_p(repo, src, prefix + ("cache", "zone"),
                          f"unknown cache zone {opts.cache.zone!r} (proxygen.yml cache_zones: "
                          f"{', '.join(sorted(s.cache_zones)) or 'none'})", UNDEFINED))
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
                              f"{', '.join(sorted(site.upstreams)) or 'none'})", UNDEFINED))
            if loc.static is not None and loc.static.fallback and loc.static.fallback.startswith("@"):
                named = {x.path for x in site.locations if x.match == "named"}
                if loc.static.fallback not in named:
                    out.append(_p(repo, src, prefix + ("static", "fallback"),
                                  f"no named location {loc.static.fallback} in this site", UNDEFINED))
    if site.logs.access is not False:
        fmt = site.logs.access.format
        if fmt not in s.log_formats and fmt != "combined":
            out.append(_p(repo, src, ("logs", "access", "format"),
                          f"unknown log format {fmt!r} (proxygen.yml log_formats: "
                          f"{', '.join(sorted(s.log_formats))})", UNDEFINED))
    for i, code in enumerate(site.error_pages):
        if code not in s.error_pages:
            out.append(_p(repo, src, ("error_pages", i), f"no error page for {code} in proxygen.yml error_pages",
                          UNDEFINED))
    for i, page in enumerate(site.pages):
        if page not in s.pages:
            out.append(_p(repo, src, ("pages", i), f"unknown page {page!r} (proxygen.yml pages: {', '.join(s.pages)})",
                          UNDEFINED))
    generated = {"/" + s.error_pages[c] for c in site.error_pages if c in s.error_pages} | {"/" + p for p in site.pages}
    for i, loc in enumerate(site.locations):
        if loc.match == "exact" and loc.path in generated:
            out.append(_p(repo, src, ("locations", i, "path"),
                          f"= {loc.path} is already generated for error_pages/pages; remove one"))
        if (loc.match in ("prefix", "prefix_priority") and loc.path == "/.well-known/acme-challenge/"
                and site.tls is not None
                and site.tls.acme_challenge and not site.tls.redirect_http):
            out.append(_p(repo, src, ("locations", i, "path"),
                          "the ACME challenge location is generated (tls.acme_challenge: false to declare your own)"))
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
                              f"{server_name} is also served by site {other} on host {host_name}", SERVER_NAME_CLASH))
        for up in site.upstreams:
            other = seen_upstreams.setdefault(up, site_name)
            if other != site_name:
                out.append(_p(repo, src, ("upstreams", up),
                              f"upstream {up} is also declared by site {other} on host {host_name}; rename one", DEFINED_TWICE))
        for section, decls in (("maps", site.maps), ("geos", site.geos)):
            for i, decl in enumerate(decls):
                other = seen_vars.setdefault(decl.variable, site_name)
                if other != site_name:
                    out.append(_p(repo, src, (section, i, "variable"),
                                  f"{decl.variable} is also defined by site {other} on host {host_name}", DEFINED_TWICE))
    return out


# nginx's http variables (core, proxy, upstream, ssl, realip, limit_*, gzip, map/geo results are added per host)
_BUILTIN = frozenset("""
args binary_remote_addr body_bytes_sent bytes_sent connection connection_requests connection_time content_length
content_type document_root document_uri host hostname https is_args limit_rate msec nginx_version pid pipe
proxy_protocol_addr proxy_protocol_port proxy_protocol_server_addr proxy_protocol_server_port query_string
realpath_root remote_addr remote_port remote_user request request_body request_body_file request_completion
request_filename request_id request_length request_method request_time request_uri scheme server_addr
server_name server_port server_protocol status tcpinfo_rtt tcpinfo_rttvar tcpinfo_snd_cwnd tcpinfo_rcv_space
time_iso8601 time_local uri upstream_addr upstream_bytes_received upstream_bytes_sent upstream_cache_status
upstream_connect_time upstream_header_time upstream_queue_time upstream_response_length upstream_response_time
upstream_status proxy_host proxy_port proxy_add_x_forwarded_for ssl_protocol ssl_cipher ssl_ciphers ssl_curves
ssl_server_name ssl_session_id ssl_session_reused ssl_early_data realip_remote_addr realip_remote_port
limit_req_status limit_conn_status gzip_ratio http2 invalid_referer connection_upgrade
""".split())
_BUILTIN_PREFIXES = ("arg_", "cookie_", "http_", "sent_http_", "sent_trailer_", "upstream_http_",
                     "upstream_cookie_", "upstream_trailer_", "ssl_client_")
# what every host's crawler-defence/http.conf defines for declarations to use (a typo like
# $proxygen_allowlist must not pass as "one of proxygen's": nginx would refuse to start)
# ($proxygen_bl_* exist only when blocklists/ renders something, so declarations cannot rely on them)
PROXYGEN_VARIABLES = frozenset({"proxygen_allowlisted", "proxygen_allowlisted_ip", "proxygen_allowlisted_ua"})
# fields whose `$` is a regex anchor or that are never emitted
_NOT_VARTEXT = frozenset({"path", "regex", "matches", "matches_i", "description", "why", "to_regex"})


def is_builtin_variable(name: str) -> bool:
    return (name in _BUILTIN or name in PROXYGEN_VARIABLES or name.startswith(_BUILTIN_PREFIXES)
            or name.isdigit())


def check_variables(repo: "Repository") -> list[Problem]:
    """Every $variable a declaration uses is an nginx variable or defined by a map/geo on each host using it."""
    from proxygen.model.values import variables_in

    out: list[Problem] = []
    for name, fmt in sorted(repo.settings.log_formats.items()):
        for var in variables_in(fmt.format):
            if not is_builtin_variable(var):
                out.append(_p(repo, "proxygen.yml", ("log_formats", name),
                              f"${var} is not an nginx variable (log formats are shared by every host)", UNDEFINED_VARIABLE))
    for host_name, host in sorted(repo.settings.hosts.items()):
        sites = [repo.sites[s] for s in host.sites if s in repo.sites]
        defined = {d.variable[1:] for site in sites for d in [*site.maps, *site.geos]}
        defined |= {m.variable[1:] for m in repo.settings.maps}
        known = lambda v: is_builtin_variable(v) or v in defined  # noqa: E731
        used_zones = {rl.zone for site in sites for _, o in site.all_options() for rl in o.rate_limits}
        for zone in sorted(used_zones):
            z = repo.settings.rate_limit_zones.get(zone)
            for var in variables_in(z.key) if z is not None else []:
                if not known(var):
                    out.append(_p(repo, "proxygen.yml", ("rate_limit_zones", zone, "key"),
                                  f"${var} is defined by no map/geo of host {host_name}'s sites "
                                  f"(zone {zone} is used there)", UNDEFINED_VARIABLE))
        for site in sites:
            src = repo.site_file(site.name)
            doc = repo.documents.get(src)
            if doc is None:
                continue
            # named captures of the site's regexes ((?P<name>...), (?<name>...)) are variables too
            captures = {m for loc, text in _strings(doc.data, any_text=True) if loc and loc[-1] in _NOT_VARTEXT
                        for m in (g1 or g2 for g1, g2 in _CAPTURE.findall(text))}
            site_known = lambda v: known(v) or v in captures  # noqa: E731
            for loc, text in _strings(doc.data):
                if loc and (loc[-1] in _NOT_VARTEXT or (len(loc) > 1 and loc[-2] == "header_sets")):
                    continue
                for var in variables_in(text):
                    if not site_known(var):
                        out.append(_p(repo, src, loc, f"${var} is not an nginx variable and no map/geo of "
                                                      f"host {host_name}'s sites defines it", UNDEFINED_VARIABLE))
    # one problem per place, even when several hosts serve the site
    seen, unique = set(), []
    for p in out:
        key = (p.position, p.field, p.message.split(" and no map/geo")[0])
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _strings(node, loc=(), any_text=False):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, loc + (k,), any_text)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, loc + (i,), any_text)
    elif isinstance(node, str) and (any_text or "$" in node):
        yield loc, node


_CAPTURE = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>|\(\?'([A-Za-z_][A-Za-z0-9_]*)'")
