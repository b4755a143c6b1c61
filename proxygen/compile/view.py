"""What templates need beyond the model: paths, listen parameters, and nginx's inheritance rules.

nginx drops every inherited `add_header` / `proxy_set_header` in a block that sets one of
its own (gixy's add_header_redefinition). A location that declares headers therefore gets
the site's headers repeated before its own, so HSTS and the backend header set are never
lost by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from proxygen.model.settings import Host, Settings
from proxygen.model.site import Location, Options, Site

HTTP2_DIRECTIVE_SINCE = (1, 25, 1)
_MAP_SPECIAL = {"default", "hostnames", "include", "volatile"}


@dataclass
class HostView:
    host: Host
    settings: Settings
    sites: list[Site]

    @property
    def http2_directive(self) -> bool:
        """`http2 on;` exists since nginx 1.25.1; before, http2 is a `listen` parameter."""
        return self.host.version_tuple() >= HTTP2_DIRECTIVE_SINCE

    def path(self, *parts: str) -> str:
        return "/".join(p.rstrip("/") for p in parts)

    def cert(self, site: Site, file: str) -> str:
        return self.path(self.host.paths.certificates, site.tls.certificate, file)

    def access_log(self, site: Site) -> str:
        return self.path(self.host.paths.logs, site.logs.access.file or f"{site.name}.access.log")

    def error_log(self, site: Site) -> str:
        return self.path(self.host.paths.logs, site.logs.error.file or f"{site.name}.error.log")

    def cache_path(self, zone) -> str:
        return zone.path if zone.path.startswith("/") else self.path(self.host.paths.cache, zone.path)

    # --- what the host's sites use (only those zones are declared on the host)
    def used_rate_limit_zones(self):
        names = {rl.zone for site in self.sites for _, o in site.all_options() for rl in o.rate_limits}
        return [self.settings.rate_limit_zones[n] for n in sorted(names)]

    def used_cache_zones(self):
        names = {o.cache.zone for site in self.sites for _, o in site.all_options() if o.cache is not None}
        return [self.settings.cache_zones[n] for n in sorted(names)]

    def uses_websocket(self) -> bool:
        return any(loc.proxy is not None and loc.proxy.websocket for s in self.sites for loc in s.locations)

    # --- headers, with nginx's all-or-nothing inheritance made explicit
    def site_response_headers(self, site: Site) -> list[tuple[str, str, bool]]:
        out = []
        if site.tls is not None and site.tls.hsts:
            hsts = site.tls.hsts if not isinstance(site.tls.hsts, bool) else None
            age = hsts.max_age if hsts is not None and hsts.max_age is not None else self.settings.tls.hsts_max_age
            value = f"max-age={age}"
            if hsts is not None and hsts.include_subdomains:
                value += "; includeSubDomains"
            if hsts is not None and hsts.preload:
                value += "; preload"
            out.append(("Strict-Transport-Security", value, True))
        out += [(h.name, h.value, h.always) for h in site.headers]
        return _dedupe(out)

    def location_response_headers(self, site: Site, loc: Location) -> list[tuple[str, str, bool]]:
        if not loc.headers:
            return []
        return _dedupe(self.site_response_headers(site) + [(h.name, h.value, h.always) for h in loc.headers])

    def _proxy_headers(self, opts: Options) -> list[tuple[str, str]]:
        out = []
        if opts.header_set is not None:
            out += list(self.settings.header_sets[opts.header_set].items())
        out += list(opts.proxy_headers.items())
        return out

    def site_proxy_headers(self, site: Site) -> list[tuple[str, str]]:
        return _dedupe(self._proxy_headers(site))

    def location_proxy_headers(self, site: Site, loc: Location) -> list[tuple[str, str]]:
        own = self._proxy_headers(loc)
        if loc.proxy is not None and loc.proxy.websocket:
            own += [("Upgrade", "$http_upgrade"), ("Connection", "$connection_upgrade")]
        if not own:
            return []
        return _dedupe(self._proxy_headers(site) + own)

    def proxy_target(self, site: Site, loc: Location) -> str:
        p = loc.proxy
        base = f"http://{p.upstream}" if p.upstream is not None else p.url
        return base + (p.uri or "")

    def redirect_target(self, redirect) -> str:
        return redirect.to.rstrip("/") + "$request_uri" if redirect.keep_uri else redirect.to

    def ua_allowlist(self) -> "UaAllowlist":
        """Map entries for allowlisted user agents; those restricted to networks get their own geo."""
        entries, restricted = [], []
        for ua in self.settings.allowlists.user_agents:
            if ua.match == "exact":
                key = ua.pattern
                if key.startswith(("~", "\\")) or key in _MAP_SPECIAL:
                    key = "\\" + key
            else:
                key = "~" + ua_regex(ua.pattern)
            if ua.networks:
                entries.append((key, f"r{len(restricted)}"))
                restricted.append(ua)
            else:
                entries.append((key, "u"))
        source = "$proxygen_ua_match:" + "".join(f"$proxygen_ua_net_{i}" for i in range(len(restricted)))
        return UaAllowlist(entries, restricted, source)

    def html_pages(self, site: Site) -> list[str]:
        """Files served from paths.html by exact locations: the site's error pages and pages."""
        files = [self.settings.error_pages[c] for c in site.error_pages] + list(site.pages)
        return sorted(set(files))


@dataclass
class UaAllowlist:
    entries: list[tuple[str, str]]
    restricted: list
    source: str


def _dedupe(items: list[tuple]) -> list[tuple]:
    """Keep one entry per header name (case-insensitive): the last value wins, at the first position."""
    order: list[str] = []
    last: dict[str, tuple] = {}
    for item in items:
        key = item[0].lower()
        if key not in last:
            order.append(key)
        last[key] = item
    return [last[k] for k in order]


def map_key(entry) -> str:
    """The source value of a map line: `~re`/`~*re` for regexes; exact values escaped where nginx
    would otherwise read them as a regex or a keyword (`\\~x`, `\\default`)."""
    if entry.regex is not None:
        return ("~*" if entry.ignore_case else "~") + entry.regex
    value = entry.exact
    if value.startswith(("~", "\\")) or value in _MAP_SPECIAL:
        return "\\" + value
    return value


def ua_regex(pattern: str) -> str:
    """A PCRE that matches `pattern` literally (for `contains` user-agent allowlist entries)."""
    return re.escape(pattern)


def template_globals() -> dict:
    return {"map_key": map_key, "ua_regex": ua_regex}
