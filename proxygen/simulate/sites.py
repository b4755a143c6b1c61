"""The limit_req zones, location matching and `rules:` of a site declaration, evaluated per request.

Zone keys in OFF's sites are built from `maps:`/`geos:` over request variables (e.g. `$rl_per_ip_key`
is empty for allowlisted clients). This module evaluates those chains the way nginx does: map exact
keys compare case-insensitively, regexes in order, first match wins; geo is longest-prefix. The
variables a log provides are the client address, user agent and method; `$proxygen_allowlisted*`
follow the compiler's crawler-defence snippet (proxygen.yml allowlists). Anything else (cookies,
upstream status...) evaluates to "" and is listed in `unknown_variables`: a logged-out client.
"""

from __future__ import annotations

import ipaddress
import re

from proxygen.blocklist.entry import parse_rate
from proxygen.simulate.engine import LimitSpec, LocationLimits, SiteLimits, ZoneSpec

_PREFIX = ("prefix", "prefix_priority")
_VAR = re.compile(r"\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)")


class Variables:
    """nginx variables of one site for a request (ip, user agent, method), with caching."""

    def __init__(self, site, allowlists=None, shared_maps=()):
        self.allowlists = allowlists
        # proxygen.yml `maps:` are on every host; a site map of the same name is refused by the model
        self.maps = {m.variable.lstrip("$"): m for m in [*shared_maps, *site.maps]}
        self.geos = {g.variable.lstrip("$"): g for g in site.geos}
        self._compiled = {
            name: [(e, re.compile(e.regex, re.I if e.ignore_case else 0) if e.regex is not None else None)
                   for e in m.entries] for name, m in self.maps.items()}
        self.unknown_variables: set[str] = set()
        # A map's choice depends only on its source string, an allowlist answer only on (ip, ua):
        # caching those makes a log's many requests per client cheap.
        self._choice: dict[str, dict[str, str]] = {name: {} for name in self.maps}
        self._allow_cache: dict[tuple[str, str], tuple[bool, bool]] = {}

    def expand(self, text: str, req: dict) -> str:
        return _VAR.sub(lambda m: self.get(m.group(1).strip("{}"), req), text)

    def get(self, name: str, req: dict) -> str:
        cache = req.setdefault("_vars", {})
        if name in cache:
            return cache[name]
        cache[name] = ""  # a map referring to itself evaluates to "" instead of recursing forever
        value = self._compute(name, req)
        cache[name] = value
        return value

    def _compute(self, name: str, req: dict) -> str:
        ip, ua = req["ip"], req.get("ua") or ""
        if name in ("binary_remote_addr", "remote_addr", "realip_remote_addr"):
            return ip
        if name == "http_user_agent":
            return ua
        if name == "request_method":
            return req.get("method") or "GET"
        if name in ("host", "server_name"):
            return req.get("host", "")
        if name in ("proxygen_allowlisted_ip", "proxygen_allowlisted_ua", "proxygen_allowlisted"):
            return self._allowlisted(name, ip, ua)
        if name in self.maps:
            source = self.expand(self.maps[name].source, req)
            choices = self._choice[name]
            value = choices.get(source)
            if value is None:
                value = self._choose(name, source)
                if len(choices) < 500_000:
                    choices[source] = value
            return self.expand(value, req) if "$" in value else value
        if name in self.geos:  # site geos are short lists
            g = self.geos[name]
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                return g.default
            best = None
            for e in g.entries:
                if e.network.version == addr.version and addr in e.network and (
                        best is None or e.network.prefixlen > best.network.prefixlen):
                    best = e
            return best.value if best is not None else g.default
        self.unknown_variables.add(name)
        return ""

    def allowlist_table(self):
        from proxygen.simulate.iptable import PrefixTable

        if getattr(self, "_allow_table", None) is None:
            self._allow_table = PrefixTable([n.cidr for n in self.allowlists.networks])
        return self._allow_table

    def _choose(self, name: str, source: str) -> str:
        """The map's raw value for `source`: exact keys (case-insensitive, like nginx's hash) first,
        then regexes in order, else the default."""
        low = source.lower()
        for entry, rx in self._compiled[name]:
            if rx is None and entry.exact.lower() == low:
                return entry.value
        for entry, rx in self._compiled[name]:
            if rx is not None and rx.search(source):
                return entry.value
        return self.maps[name].default

    def _allowlisted(self, name: str, ip: str, ua: str) -> str:
        al = self.allowlists
        if al is None:
            return "0"
        hit = self._allow_cache.get((ip, ua))
        if hit is None:
            try:
                by_ip = al.network_for(ip) is not None
            except ValueError:
                by_ip = False
            hit = (by_ip, al.user_agent_for(ua, ip) is not None)
            if len(self._allow_cache) < 1_000_000:
                self._allow_cache[(ip, ua)] = hit
        by_ip, by_ua = hit
        if name == "proxygen_allowlisted_ip":
            return "1" if by_ip else "0"
        if name == "proxygen_allowlisted_ua":
            return "1" if by_ua else "0"
        return "1" if by_ip or by_ua else "0"


class SiteRules:
    """A site declaration as simulate needs it: locations (nginx's matching order), limits and rules."""

    def __init__(self, site, settings, allowlists=None):
        self.site = site
        self.vars = Variables(site, allowlists if allowlists is not None else settings.allowlists,
                              getattr(settings, "maps", ()))
        zones = {}
        for name, z in settings.rate_limit_zones.items():
            zones[name] = ZoneSpec(name, parse_rate(z.rate), z.key)
        self.limits = SiteLimits(name=site.name, zones=zones, status=site.rate_limit_status, server=LocationLimits(
            match="", limits=tuple(LimitSpec(r.zone, r.burst or 0, r.nodelay, r.delay or 0) for r in site.rate_limits),
            dry_run=bool(site.rate_limit_dry_run)))
        self._locations = []
        for loc in site.locations:
            own = bool(loc.rate_limits)
            limits = loc.rate_limits if own else site.rate_limits   # limit_req inherits all-or-nothing
            returns = loc.return_ is not None or loc.redirect is not None or site.redirect is not None
            if returns:
                limits = []  # `return` answers in the rewrite phase, before limit_req ever runs
            dry_run = loc.rate_limit_dry_run if loc.rate_limit_dry_run is not None else site.rate_limit_dry_run
            spec = LocationLimits(
                match=f"{loc.match} {loc.path}",
                limits=tuple(LimitSpec(r.zone, r.burst or 0, r.nodelay, r.delay or 0) for r in limits),
                dry_run=bool(dry_run), status=loc.rate_limit_status, returns=returns)
            self.limits.locations.append(spec)
            rx = None
            if loc.match in ("regex", "regex_i"):
                rx = re.compile(loc.path, re.I if loc.match == "regex_i" else 0)
            self._locations.append((loc, rx))

    def location_for(self, path: str) -> int:
        """nginx: exact match, else remember the longest prefix (final if it is `^~`), then the first
        matching regex, else the prefix."""
        best, best_len = -1, -1
        for i, (loc, rx) in enumerate(self._locations):
            if loc.match == "exact" and loc.path == path:
                return i
            if loc.match in _PREFIX and path.startswith(loc.path) and len(loc.path) > best_len:
                best, best_len = i, len(loc.path)
        if best >= 0 and self._locations[best][0].match == "prefix_priority":
            return best
        for i, (loc, rx) in enumerate(self._locations):
            if rx is not None and rx.search(path):
                return i
        return best

    def locations_of(self, paths):
        """location_for over a polars Series of paths (Python once per distinct path if a location
        regex is beyond polars' regex engine)."""
        import polars as pl

        try:
            col = pl.col("p")
            exact = [pl.when(col == loc.path).then(pl.lit(i, dtype=pl.Int32))
                     for i, (loc, _) in enumerate(self._locations) if loc.match == "exact"]
            regex = [pl.when(col.str.contains(("(?i)" if loc.match == "regex_i" else "") + loc.path))
                     .then(pl.lit(i, dtype=pl.Int32))
                     for i, (loc, rx) in enumerate(self._locations) if rx is not None]
            prefixes = sorted(((len(loc.path), i, loc.path) for i, (loc, _) in enumerate(self._locations)
                               if loc.match in _PREFIX), key=lambda t: (-t[0], t[1]))
            prefix = [pl.when(col.str.starts_with(p)).then(pl.lit(i, dtype=pl.Int32)) for _, i, p in prefixes]
            exact_, regex_, longest = (pl.coalesce(*e) if e else pl.lit(None, dtype=pl.Int32)
                                       for e in (exact, regex, prefix))
            final = [i for i, (loc, _) in enumerate(self._locations) if loc.match == "prefix_priority"]
            priority = pl.when(longest.is_in(final)).then(longest) if final else pl.lit(None, dtype=pl.Int32)
            parts = [exact_, priority, regex_, longest]
            return pl.DataFrame({"p": paths}).select(
                pl.coalesce(*parts, pl.lit(-1, dtype=pl.Int32)).cast(pl.Int32)).to_series()
        except pl.exceptions.PolarsError:
            uniq = paths.unique()
            return paths.replace_strict(uniq, pl.Series([self.location_for(p) for p in uniq.to_list()],
                                                        dtype=pl.Int32), return_dtype=pl.Int32)

    def key_getter(self, expr: str):
        return lambda req: self.vars.expand(expr, req)

    def rule_outcome(self, location: int, req: dict):
        """(kind, status, rule label) of the first server-level then location-level `rules:` that fires."""
        scopes = [("site", self.site.rules)]
        if location >= 0:
            scopes.append((f"location {self._locations[location][0].path}", self._locations[location][0].rules))
        for scope, rules in scopes:
            for n, cond in enumerate(rules):
                value = self.vars.get(cond.variable.lstrip("$"), req)
                if cond.equals is not None:
                    hit = value == cond.equals
                elif cond.not_equals is not None:
                    hit = value != cond.not_equals
                elif cond.matches is not None:
                    hit = re.search(cond.matches, value) is not None
                else:
                    hit = re.search(cond.matches_i, value, re.I) is not None
                if not hit:
                    continue
                label = f"{self.site.name}: {scope} rules[{n}] ({cond.variable})"
                if cond.return_ is not None:
                    status = cond.return_.status
                    return ("blocked" if status >= 400 else "tarpitted", status, label)
                return ("tarpitted", None, label)
        return None


_ADDRESS = ("binary_remote_addr", "remote_addr", "realip_remote_addr")
_ALLOWLISTED = ("proxygen_allowlisted_ip", "proxygen_allowlisted_ua", "proxygen_allowlisted")


class _NeedsAddress(Exception):
    """A variable's value depends on the client address itself, not only on its allowlisting."""


class FrameVariables:
    """The same variables, evaluated for a whole batch at once (polars Series, one value per row).

    Python runs once per distinct source value (user agent, address, ...), never once per row. A
    variable that depends on the address only through the allowlist (most maps: keys of global
    zones, user-agent rules) is evaluated once per distinct (user agent, method, allowlisted
    address) profile, a few hundred rows, and gathered back to the batch's requests.
    """

    def __init__(self, variables: Variables, df, allowlisted_ip=None, *, per_address: bool = True):
        """`df`: columns client_ip, user_agent, method; `allowlisted_ip`: per row, whether its address
        is in an allowlisted network, when the caller has it already. `per_address` False: `df` has no
        addresses (the profile level) and a variable needing one raises _NeedsAddress."""
        self.v = variables
        self.df = df
        self.per_address = per_address
        self.memo: dict[str, object] = {}
        self._profiles = None
        if allowlisted_ip is not None:
            self.memo["\x00by_ip"] = allowlisted_ip

    def _separate_allowlists(self) -> bool:
        """Whether an address's and a user agent's allowlisting are independent (no user agent is
        tied to networks)."""
        al = self.v.allowlists
        return al is not None and not any(u.networks for u in al.user_agents)

    def _profile_level(self):
        """(FrameVariables over the distinct (user agent, method, allowlisted address) rows, profile
        index per row of `df`)."""
        import polars as pl

        from proxygen.simulate.engine import _contexts

        if self._profiles is None:
            columns = {"user_agent": self.df["user_agent"], "method": self.df["method"]}
            if self._separate_allowlists():
                columns["by_ip"] = self._by_ip()
            frame = pl.DataFrame(columns)
            index, firsts = _contexts(frame, list(columns))
            profiles = frame.gather(firsts)
            level = FrameVariables(self.v, profiles, profiles["by_ip"] if "by_ip" in columns else None,
                                   per_address=False)
            self._profiles = (level, index)
        return self._profiles

    def _by_ip(self):
        if "\x00by_ip" not in self.memo:
            self.memo["\x00by_ip"] = self.v.allowlist_table().lookup(self.df["client_ip"]).is_not_null()
        return self.memo["\x00by_ip"]

    def _lit(self, text: str):
        import polars as pl

        return pl.repeat(text, self.df.height, dtype=pl.Utf8, eager=True)

    def expand(self, text: str):
        import polars as pl

        parts, pos = [], 0
        for m in _VAR.finditer(text):
            if m.start() > pos:
                parts.append(text[pos:m.start()])
            parts.append(("var", m.group(1).strip("{}")))
            pos = m.end()
        if pos < len(text):
            parts.append(text[pos:])
        if not parts:
            return self._lit("")
        series = [self.get(p[1]) if isinstance(p, tuple) else self._lit(p) for p in parts]
        if len(series) == 1:
            return series[0]
        frame = pl.DataFrame({f"p{i}": s for i, s in enumerate(series)})
        return frame.select(pl.concat_str([pl.col(f"p{i}") for i in range(len(series))])).to_series()

    def expand_coarse(self, text: str):
        """expand(text) as (values, index): one value per (user agent, method, allowlisted address)
        profile and each row's profile when `text` depends on the address only through the allowlist;
        else (one value per row, None)."""
        if self.per_address:
            level, index = self._profile_level()
            try:
                return level.expand(text), index
            except _NeedsAddress:
                pass
        return self.expand(text), None

    def _per_unique(self, column, fn):
        """Apply `fn` to each distinct value of `column` (a Series) and map the answers back."""
        import polars as pl

        from proxygen.simulate.iptable import per_distinct

        return per_distinct(column, lambda uniq: pl.Series([fn(x) for x in uniq.to_list()], dtype=pl.Utf8), pl.Utf8)

    def get(self, name: str):
        import polars as pl

        hit = self.memo.get(name)
        if hit is not None:
            return hit
        df, v = self.df, self.v
        if self.per_address and (name in v.maps or name in _ALLOWLISTED):
            level, index = self._profile_level()
            try:
                out = level.get(name).gather(index).alias(name)
            except _NeedsAddress:
                pass
            else:
                self.memo[name] = out
                return out
        if not self.per_address and (name in _ADDRESS or name in v.geos or (
                name in _ALLOWLISTED and v.allowlists is not None and not self._separate_allowlists())):
            raise _NeedsAddress(name)
        if name in _ADDRESS:
            out = df["client_ip"]
        elif name == "http_user_agent":
            out = df["user_agent"]
        elif name == "request_method":
            out = df["method"]
        elif name in _ALLOWLISTED and v.allowlists is None:
            out = self._lit("0")
        elif name in _ALLOWLISTED and self._separate_allowlists():
            # no user agent tied to networks: the address and the user agent answer separately
            if "\x00by_ua" not in self.memo:
                self.memo["\x00by_ua"] = self._per_unique(
                    df["user_agent"], lambda ua: "1" if v.allowlists.user_agent_for(ua) else "0") == "1"
            by_ip, by_ua = self._by_ip(), self.memo["\x00by_ua"]
            hit = {"proxygen_allowlisted_ip": by_ip, "proxygen_allowlisted_ua": by_ua,
                   "proxygen_allowlisted": by_ip | by_ua}[name]
            out = pl.DataFrame({"h": hit}).select(pl.when(pl.col("h")).then(pl.lit("1")).otherwise(pl.lit("0"))).to_series()
        elif name in _ALLOWLISTED:
            pairs = df.select("client_ip", "user_agent").unique()
            answers = [v._allowlisted(name, ip, ua) for ip, ua in pairs.iter_rows()]
            out = (df.select("client_ip", "user_agent")
                   .join(pairs.with_columns(pl.Series("_a", answers, dtype=pl.Utf8)),
                         on=["client_ip", "user_agent"], how="left", maintain_order="left")["_a"])
        elif name in v.maps:
            source = self.expand(v.maps[name].source)
            choices = v._choice[name]

            def choose(s, name=name, choices=choices):
                value = choices.get(s)
                if value is None:
                    value = choices[s] = v._choose(name, s)
                return value

            out = self._per_unique(source, choose)
            for raw in [r for r in out.unique().to_list() if r and "$" in r]:
                expanded = self.expand(raw)
                out = pl.DataFrame({"r": out, "e": expanded}).select(
                    pl.when(pl.col("r") == raw).then(pl.col("e")).otherwise(pl.col("r"))).to_series()
        elif name in v.geos:
            out = self._per_unique(df["client_ip"], lambda ip: v._compute(name, {"ip": ip}))
        else:
            v.unknown_variables.add(name)
            out = self._lit("")
        out = out.alias(name)
        self.memo[name] = out
        return out

    def condition(self, cond):
        """Per-row booleans: does this `rules:` condition fire."""
        value = self.get(cond.variable.lstrip("$"))
        if cond.equals is not None:
            return value == cond.equals
        if cond.not_equals is not None:
            return value != cond.not_equals
        # Python's re (like the per-request path), once per distinct value
        rx = re.compile(cond.matches) if cond.matches is not None else re.compile(cond.matches_i, re.I)
        return self._per_unique(value, lambda x: "1" if rx.search(x) else "0") == "1"
