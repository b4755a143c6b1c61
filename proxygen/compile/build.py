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
from typing import Callable

from proxygen.compile.check import CheckError, check_directives, check_structure
from proxygen.compile.directives import HTTP, MAIN, SERVER
from proxygen.compile.render import render
from proxygen.compile.view import HostView
from proxygen.errors import ProxygenError, UsageError
from proxygen.model import Repository
from proxygen.model.settings import Host


@dataclass
class HostOutput:
    name: str
    nginx_version: str
    files: dict[str, str] = field(default_factory=dict)  # relative path -> text
    sites: list[str] = field(default_factory=list)


@dataclass
class BuildResult:
    hosts: dict[str, HostOutput] = field(default_factory=dict)

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
    for h in select_hosts(repo, host):
        if adapt is not None:
            h = adapt(h)
        result.hosts[h.name] = build_host(repo, h, settings)
    return result


def build_host(repo: Repository, host: Host, settings=None) -> HostOutput:
    view = HostView(host, settings or repo.settings, repo.sites_of(host))
    out = HostOutput(host.name, host.nginx_version, sites=list(host.sites))
    version = host.version_tuple()
    problems: list[str] = []

    def emit(path: str, template: str, context: str, **variables) -> None:
        real, shadow, funnel = render(template, context=f"host {host.name}, {path}", **variables)
        tree = check_structure(f"{host.name}/{path}", real, shadow, funnel)
        problems.extend(str(p) for p in check_directives(tree, f"{host.name}/{path}", version, context))
        out.files[path] = real

    emit("nginx.conf", "nginx.conf.j2", MAIN, h=view)
    emit("crawler-defence/http.conf", "crawler-defence-http.conf.j2", HTTP, h=view)
    emit("snippets/crawler-defence.conf", "crawler-defence-server.conf.j2", SERVER, h=view)
    for site in view.sites:
        try:
            emit(f"sites/{site.name}.conf", "site.conf.j2", HTTP, h=view, site=site)
        except ProxygenError as err:
            raise type(err)(f"{repo.site_file(site.name)}: {err}") from None
    if problems:
        raise CheckError("generated config failed the directive check:\n" + "\n".join(problems))
    return out
