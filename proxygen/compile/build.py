"""Build: render every file of every host in memory, re-check it, and only then hand it to the writer.

Output layout per host (all includes are relative to nginx.conf, so
`nginx -t -p OUT/<host>/ -c nginx.conf` checks the whole host):

    nginx.conf                      main, events, http (formats, zones, default server)
    crawler-defence/http.conf       allowlist geo/map (http level); blocklist rules join here
    snippets/crawler-defence.conf   per-server include point for sites with crawler_defence
    sites/<site>.conf               upstreams, maps, geos and server blocks of one site
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from proxygen.compile.check import CheckError, check_directives, check_structure
from proxygen.compile.directives import HTTP, MAIN, SERVER
from proxygen.compile.render import render
from proxygen.compile.view import HostView
from proxygen.errors import ProxygenError, UsageError
from proxygen.model import Repository
from proxygen.model.settings import Host

if TYPE_CHECKING:
    from proxygen.blocklist.render import RenderData
    from proxygen.blocklist.store import Blocklist

# Where the crawler-defence snippet sends tarpitted requests (a file of proxygen.yml `pages:`).
TARPIT_PAGE = "stop-crawling.txt"


@dataclass
class HostOutput:
    name: str
    nginx_version: str
    files: dict[str, str] = field(default_factory=dict)  # relative path -> text
    sites: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # blocklist rules not rendered, and why


@dataclass
class BuildResult:
    hosts: dict[str, HostOutput] = field(default_factory=dict)
    blocklist: "Blocklist | None" = None  # blocklists/ as loaded for this build (lint rules read it too)

    @property
    def site_count(self) -> int:
        return len({s for h in self.hosts.values() for s in h.sites})

    @property
    def file_count(self) -> int:
        return sum(len(h.files) for h in self.hosts.values())


def select_hosts(repo: Repository, only: str | None) -> list[Host]:
    if only is None:
        return [repo.settings.hosts[n] for n in sorted(repo.settings.hosts)]
    if only not in repo.settings.hosts:
        known = ", ".join(sorted(repo.settings.hosts))
        raise UsageError(f"unknown host {only!r} (proxygen.yml hosts: {known})")
    return [repo.settings.hosts[only]]


def build(repo: Repository, host: str | None = None,
          adapt: Callable[[Host], Host] | None = None,
          adapt_settings: Callable | None = None) -> BuildResult:
    """Render and re-check every file of every selected host; raise on the first problem.

    `adapt` may replace a host's settings before rendering (lint --nginx uses it to put
    paths in a sandbox and target the installed nginx version); `adapt_settings` likewise.
    """
    result = BuildResult()
    settings = adapt_settings(repo.settings) if adapt_settings is not None else repo.settings
    hosts = select_hosts(repo, host)
    blocklist = (None, [])
    if hosts:  # the same for every host: read once
        from proxygen.blocklist import load_blocklists

        result.blocklist = load_blocklists(repo.root / settings.blocklists_dir)
        blocklist = blocklist_data(repo, settings, loaded=result.blocklist)
    for h in hosts:
        if adapt is not None:
            h = adapt(h)
        result.hosts[h.name] = build_host(repo, h, settings, blocklist)
    return result


def blocklist_data(repo: Repository, settings, now=None, loaded=None):
    """RenderData for `settings.blocklists_dir`, plus warnings for what cannot be rendered.

    ASN entries are expanded into their networks from `crawlers.asn_db` (relative to the repository);
    without one they are skipped with a warning instead of failing the build. Where dry-run throttle
    zones can be rendered depends on the host's sites: `place_throttles` decides it per host.
    `loaded` is the directory already loaded, if the caller has it.
    """
    from proxygen.blocklist import load_blocklists
    from proxygen.blocklist.render import render_data

    blocklist = loaded if loaded is not None else load_blocklists(repo.root / settings.blocklists_dir)
    warnings: list[str] = []
    asn_path = settings.crawlers.asn_db
    reader = None
    if asn_path is not None and any(e.key_type == "asn" for f in blocklist.files for e in f.entries):
        import maxminddb

        path = asn_path if asn_path.is_absolute() else repo.root / asn_path
        try:
            reader = maxminddb.open_database(str(path))
        except (OSError, ValueError) as err:
            raise ProxygenError(f"proxygen.yml: crawlers.asn_db: cannot open {path} for the blocklist's ASN "
                                f"entries: {getattr(err, 'strerror', None) or err}; nothing written") from None
    if reader is None:
        for f in blocklist.files:
            asn = [e for e in f.entries if e.key_type == "asn"]
            warnings.extend(f"{e.rule_id}: ASN entry needs an ASN database (crawlers.asn_db in proxygen.yml), "
                            "none is configured; not rendered" for e in asn)
            f.entries = [e for e in f.entries if e.key_type != "asn"]
    try:
        data = render_data(blocklist, reader, now, allowlists=settings.allowlists,
                           asn_db_path=str(asn_path) if asn_path is not None else None)
    finally:
        if reader is not None:
            reader.close()
    clash = sorted({z.name for z in data.zones} & set(settings.rate_limit_zones))
    if clash:
        raise ProxygenError(f"{settings.blocklists_dir}: throttle zone(s) {', '.join(clash)} also declared in "
                            "proxygen.yml rate_limit_zones; rename one (nginx zones share one namespace)")
    warnings.extend(data.skipped)
    rules = [g.value for g in data.geo] + [u.value for u in data.ua_exact + data.ua_regex]
    if not data.zones and all(v == "allow" for v in rules):
        return None, warnings  # nothing to enforce: the templates render no blocklist section
    return data, warnings


def _location_label(repo: Repository, site, loc) -> str:
    return f"{repo.site_file(site.name)} location {loc.path}"


def _locations_text(repo: Repository, located: list[tuple]) -> str:
    """`sites/a.yml locations /x, /y; sites/b.yml location /z` from (site, location) pairs."""
    by_file: dict[str, list[str]] = {}
    for site, loc in located:
        by_file.setdefault(repo.site_file(site.name), []).append(loc.path)
    return "; ".join(f"{f} location{'s' if len(p) > 1 else ''} {', '.join(p)}" for f, p in by_file.items())


def _simulate_hint(sites: list) -> str:
    names = " / ".join(f"--site {s.name}" for s in sites) or "--site SITE"
    return f"replay a log with `proxygen crawlers simulate LOG {names}` to see what it would do"


def place_throttles(repo: Repository, bl: "RenderData", sites: list) -> tuple["RenderData", list[str]]:
    """Decide where the blocklist's throttle zones go on one host; return (data, warnings).

    nginx applies one limit_req_dry_run to every limit_req of a block (a location's own setting, else
    the server's). The crawler-defence snippet, shared by the host's sites, is dry-run only when every
    zone is dry-run and no site has limits of its own at server level (they would stop rejecting); a
    dry-run zone is otherwise only repeated in locations whose own limits are dry-run. Every place a
    zone does not act as written is a warning; zones used nowhere are not declared.
    """
    from dataclasses import replace

    from proxygen.blocklist.render import server_dry_run

    warnings: list[str] = []
    defended = [s for s in sites if s.crawler_defence]
    server_level = [s for s in defended if s.rate_limits or s.rate_limit_dry_run is not None]
    server_dry = server_dry_run(bl, sites)
    bl = replace(bl, server_dry_run=server_dry)
    dry_zones = [z.name for z in bl.zones if z.dry_run]
    enforced_zones = [z.name for z in bl.zones if not z.dry_run]
    dry_in: list[tuple] = []       # (site, location) with dry-run limits of their own: dry-run zones apply
    not_dry_in: list[tuple] = []   # (site, location) with enforced limits of their own: dry-run zones do not
    for site in defended:
        if site.rate_limit_dry_run and enforced_zones:
            warnings.append(f"{repo.site_file(site.name)}: rate_limit_dry_run: true at server level also makes "
                            f"blocklists/ throttle zone(s) {', '.join(enforced_zones)} dry-run in this server")
        for loc in site.locations:
            if not loc.rate_limits:
                continue
            own = loc.rate_limit_dry_run if loc.rate_limit_dry_run is not None else site.rate_limit_dry_run
            if own:
                dry_in.append((site, loc))
                if enforced_zones and loc.rate_limit_dry_run:
                    warnings.append(f"{_location_label(repo, site, loc)}: rate_limit_dry_run: true also makes "
                                    f"blocklists/ throttle zone(s) {', '.join(enforced_zones)} dry-run there")
            else:
                not_dry_in.append((site, loc))
    hint = _simulate_hint(defended)
    for name in dry_zones:
        if server_dry:
            if not_dry_in:
                warnings.append(f"zone {name}: dry_run: not applied where a location's own limit_req is enforced "
                                f"(nginx's limit_req_dry_run covers every limit of a location): "
                                f"{_locations_text(repo, not_dry_in)}; {hint}")
            continue
        why = (f"zone(s) {', '.join(enforced_zones)} are enforced there" if enforced_zones else
               f"{', '.join(repo.site_file(s.name) for s in server_level)} set rate_limits or rate_limit_dry_run "
               "at server level")
        where = f"applied only in dry-run {_locations_text(repo, dry_in)}" if dry_in else "not rendered"
        warnings.append(f"zone {name}: dry_run: not in the crawler-defence server block, since {why} and nginx's "
                        f"limit_req_dry_run covers every limit of a block; {where}; {hint}")
    if dry_zones and not server_dry and not dry_in:
        bl = replace(bl, zones=[z for z in bl.zones if not z.dry_run])
    return bl, warnings


def check_tarpit_page(repo: Repository, sites: list) -> None:
    """A site with crawler defence must answer the tarpit's /stop-crawling.txt itself: without a location
    for it, a tarpitted request would be proxied to the backend it is meant to spare."""
    from proxygen.errors import DeclarationError, Problem

    problems = []
    for site in sites:
        if not site.crawler_defence or TARPIT_PAGE in site.pages:
            continue
        if any(loc.match == "exact" and loc.path == "/" + TARPIT_PAGE and loc.proxy is None for loc in site.locations):
            continue
        problems.append(Problem(repo.position(repo.site_file(site.name), ("crawler_defence",)), "crawler_defence",
                                f"the crawler-defence snippet rewrites tarpitted requests to /{TARPIT_PAGE}, "
                                f"which this site does not serve (they would reach the backend); add "
                                f"`pages: [{TARPIT_PAGE}]` (and list it in proxygen.yml pages:)"))
    if problems:
        raise DeclarationError(problems)


def build_host(repo: Repository, host: Host, settings=None, blocklist=None) -> HostOutput:
    """One host's files. `blocklist` is blocklist_data()'s (data, warnings), read once per build."""
    settings = settings or repo.settings
    view = HostView(host, settings, repo.sites_of(host))
    out = HostOutput(host.name, host.nginx_version, sites=list(host.sites))
    check_tarpit_page(repo, view.sites)
    bl, warnings = blocklist if blocklist is not None else blocklist_data(repo, settings)
    out.warnings = list(warnings)
    if bl is not None and bl.zones:
        bl, placed = place_throttles(repo, bl, view.sites)
        out.warnings.extend(placed)
    version = host.version_tuple()
    problems: list[str] = []

    def emit(path: str, template: str, context: str, **variables) -> None:
        real, shadow, funnel = render(template, context=f"host {host.name}, {path}", **variables)
        tree = check_structure(f"{host.name}/{path}", real, shadow, funnel)
        problems.extend(str(p) for p in check_directives(tree, f"{host.name}/{path}", version, context))
        out.files[path] = real

    emit("nginx.conf", "nginx.conf.j2", MAIN, h=view, bl=bl)
    emit("crawler-defence/http.conf", "crawler-defence-http.conf.j2", HTTP, h=view, bl=bl)
    emit("snippets/crawler-defence.conf", "crawler-defence-server.conf.j2", SERVER, h=view, bl=bl,
         tarpit_page=TARPIT_PAGE)
    for site in view.sites:
        if bl is not None and bl.zones and site.crawler_defence and site.rate_limit_status is not None:
            raise ProxygenError(f"{repo.site_file(site.name)}: rate_limit_status: the crawler-defence snippet sets "
                                "limit_req_status 429 for blocklists/ throttles in this server; set it per location")
        try:
            emit(f"sites/{site.name}.conf", "site.conf.j2", HTTP, h=view, site=site, bl=bl)
        except ProxygenError as err:
            raise type(err)(f"{repo.site_file(site.name)}: {err}") from None
    if problems:
        raise CheckError("generated config failed the directive check:\n" + "\n".join(problems))
    return out
