"""Replay requests through the rules a build would apply, and count what each client would get.

Per request, in nginx's order: the blocklist's geo/map decide block (403/444) or tarpit at server
level; otherwise limit_req runs the location's limits (the blocklist's throttle zones the build
places there first, then the site's own; RenderData.placement decides both, so dry-run zones apply
where the built config applies them), with nginx's leaky bucket (proxygen.simulate.limit_req). A rejection answers with
the location's limit_req_status (the server's unless the location sets one), whichever zone rejected.

Log timestamps are when nginx *finished* a request (second resolution); a request nginx delayed is
logged after its delay, so replaying a log measures arrivals slightly late. Replaying a request
sequence with exact arrival times (as the e2e test does) reproduces nginx exactly.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

from proxygen.simulate.iptable import lookup_many
from proxygen.simulate.limit_req import (DELAYED, DELAYED_DRY_RUN, NOT_LIMITED, PASSED, REJECTED,
                                         REJECTED_DRY_RUN, Limit, Zones, check)
from proxygen.simulate.rules import BlocklistRules, Decision, NO_RULE

# What happened to a request (report columns, in this order).
OUTCOMES = ("allowed", "delayed", "throttled", "blocked", "tarpitted", "dry_run_delayed", "dry_run_throttled")
ALLOWED, DELAYED_O, THROTTLED, BLOCKED, TARPITTED, DRY_DELAYED, DRY_THROTTLED = range(7)
_FROM_LIMIT = {PASSED: ALLOWED, NOT_LIMITED: ALLOWED, DELAYED: DELAYED_O, REJECTED: THROTTLED,
               DELAYED_DRY_RUN: DRY_DELAYED, REJECTED_DRY_RUN: DRY_THROTTLED}
HIT = (DELAYED_O, THROTTLED, BLOCKED, TARPITTED, DRY_DELAYED, DRY_THROTTLED)
BLOCKLIST_THROTTLE_STATUS = 429


@dataclass(frozen=True)
class ZoneSpec:
    """A site's `limit_req_zone`: `key` is the nginx expression (`$binary_remote_addr`, a constant...)."""

    name: str
    rate: int                       # milli-requests per second
    key: str


@dataclass(frozen=True)
class LimitSpec:
    zone: str
    burst: int = 0
    nodelay: bool = False
    delay: int = 0


@dataclass(frozen=True)
class LocationLimits:
    """The limit_req lines of one location, matched by path prefix (`= /x` for an exact match)."""

    match: str
    limits: tuple[LimitSpec, ...] = ()
    dry_run: bool = False
    status: int | None = None       # the location's limit_req_status; None: the server's (inherited)
    returns: bool = False           # answers with `return` (rewrite phase): no limit_req runs, blocklist's neither


@dataclass
class SiteLimits:
    name: str
    zones: dict[str, ZoneSpec] = field(default_factory=dict)
    locations: list[LocationLimits] = field(default_factory=list)
    status: int | None = None       # the server's limit_req_status; None: 429 with blocklist zones, else 503
    server: LocationLimits | None = None  # the server block's own limits (a request matching no location)


@dataclass(frozen=True)
class Outcome:
    kind: str                       # one of OUTCOMES
    status: int | None              # the status nginx returns itself (403/444/429/...); None = served
    rule: str | None                # the blocklist rule or zone responsible
    delay_ms: int = 0


def _key_getter(expr: str, site_name: str):
    """A function (request dict) -> key, for zones given as plain data (no site declaration)."""
    text = expr.strip()
    if text in ("$binary_remote_addr", "$remote_addr", "$realip_remote_addr"):
        return lambda req: req["ip"]
    if text in ("$http_user_agent",):
        return lambda req: req.get("ua") or ""
    if text in ("$binary_remote_addr$http_user_agent", "$remote_addr$http_user_agent"):
        return lambda req: f"{req['ip']}{req.get('ua') or ''}"
    if text in ("$server_name", "$host"):
        return lambda req: site_name
    if "$" not in text:
        return lambda req: text
    return None


def _combined_codes(df, columns):
    """One Int64 per row, equal exactly when all `columns` are equal (string columns)."""
    import polars as pl

    code = None
    for c in columns:
        part = df[c].cast(pl.Categorical).to_physical().cast(pl.Int64)
        if code is None:
            code = part
            continue
        width = (part.max() or 0) + 1
        if (code.max() or 0) >= (1 << 62) // width:
            code = code.rank("dense").cast(pl.Int64)
        code = code * width + part
    return code.alias("code")


@contextmanager
def _cycle_collector_paused():
    """Python's cyclic garbage collector off for a replay: the replay creates hundreds of thousands
    of long-lived, acyclic objects (a bucket state per client and zone), which the collector would
    otherwise rescan again and again for nothing (~5% of a replay). Restored afterwards; a cycle
    made meanwhile is collected then."""
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _spread_seconds(t):
    """Log times in whole seconds -> each second's requests spread evenly over its 1000 ms, in log
    order: the k-th of n requests logged in second s at s + k * 1000 // n."""
    import polars as pl

    if t.is_sorted():
        # the usual log: each second's lines are consecutive, so their rank and count come from
        # where each run of equal seconds starts (no window grouping)
        run = t.rle_id()
        begin = (run != run.shift(1, fill_value=-1)).arg_true().cast(pl.Int64)
        size = pl.concat([begin.slice(1), pl.Series([t.len()], dtype=pl.Int64)]) - begin
        return pl.select(pl.lit(t) + (pl.int_range(t.len(), dtype=pl.Int64) - pl.lit(begin).gather(run)) * 1000
                         // pl.lit(size).gather(run)).to_series()
    return pl.DataFrame({"t": t}).select(
        pl.col("t") + pl.int_range(pl.len()).over("t") * 1000 // pl.len().over("t")).to_series()


def _contexts(df, columns):
    """(context index per row, first row of each context, in order of appearance): rows share a
    context exactly when all `columns` (strings) are equal. Grouped by a 64-bit hash of the columns,
    then checked row by row against the context's first row: on a collision, by exact codes."""
    import polars as pl

    hashes = df.select([pl.col(c).hash(seed=0) for c in columns])      # one query: columns in parallel
    mixed = hashes.to_series(0)
    for i in range(1, len(columns)):
        mixed = (mixed * 0x9E3779B97F4A7C15) ^ hashes.to_series(i)
    firsts = mixed.arg_unique()
    ctx = mixed.to_frame("h").join(mixed.gather(firsts).to_frame("h").with_row_index("ctx"), on="h", how="left",
                                   maintain_order="left")["ctx"]
    same = df.select([(pl.col(c) == pl.col(c).gather(pl.lit(firsts)).gather(pl.lit(ctx))).all() for c in columns])
    if all(same.row(0)):
        return ctx, firsts
    codes = _combined_codes(df, columns)
    firsts = codes.arg_unique()
    ctx = codes.to_frame().join(codes.gather(firsts).to_frame().with_row_index("ctx"), on="code", how="left",
                                maintain_order="left")["ctx"]
    return ctx, firsts


class Simulator:
    """Feed requests in arrival order (`request()` one at a time, or `run()` on log batches)."""

    batch_rows = 500_000

    def __init__(self, rules: BlocklistRules | None = None, site=None):
        """`site`: a SiteLimits (zones and locations as data) or a simulate.sites.SiteRules (a declaration)."""
        self.rules = rules
        self.site_rules = site if site is not None and not isinstance(site, SiteLimits) else None
        if self.site_rules is not None:
            site = self.site_rules.limits
        self.site = site
        self.zones = Zones()
        self.warnings: list[str] = []
        self._bl_limits: list[Limit] = []
        self._bl_index: dict[str, int] = {}
        if rules is not None:
            for zone in rules.data.zones:
                self._bl_index[zone.name] = len(self._bl_limits)
                self._bl_limits.append(Limit(f"blocklist:{zone.name}", zone.rate_milli, zone.burst, zone.nodelay))
        self._locations: list[tuple[LocationLimits, list[Limit], list]] = []
        self._server_block: tuple[LocationLimits, list[Limit], list] = (LocationLimits(""), [], [])
        if site is not None:
            server = [site.server] if site.server is not None else []
            for n, loc in enumerate(server + list(site.locations)):
                limits, getters = [], []
                for spec in loc.limits:
                    zone = site.zones.get(spec.zone)
                    if zone is None:
                        self.warnings.append(f"{site.name}: location {loc.match}: unknown zone {spec.zone}; skipped")
                        continue
                    getter = (self.site_rules.key_getter(zone.key) if self.site_rules is not None
                              else _key_getter(zone.key, site.name))
                    if getter is None:
                        self.warnings.append(f"{site.name}: zone {zone.name}: key {zone.key!r} cannot be simulated "
                                             "(only client address, user agent, host or constant keys); skipped")
                        continue
                    limits.append(Limit(zone.name, zone.rate, spec.burst, spec.nodelay, spec.delay))
                    getters.append(getter)
                if server and n == 0:
                    self._server_block = (loc, limits, getters)
                else:
                    self._locations.append((loc, limits, getters))
        self._place_blocklist_zones()
        # nginx has one limit_req_status per location, inherited from the server unless the location
        # sets its own, and it answers every limit_req there (the blocklist's included). The server's is
        # the site's own, else the 429 the crawler-defence snippet sets, else nginx's default 503.
        server = site.status if site is not None and site.status is not None else (
            BLOCKLIST_THROTTLE_STATUS if self._bl_limits else 503)
        self._status_of = [server] + [loc.status if loc.status is not None else server
                                      for loc, _, _ in self._locations]
        self._exact = {loc.match[2:]: i for i, (loc, _, _) in enumerate(self._locations) if loc.match.startswith("= ")}
        self._prefixes = sorted(((loc.match, i) for i, (loc, _, _) in enumerate(self._locations)
                                 if not loc.match.startswith("= ")), key=lambda t: -len(t[0]))
        self._path_cache: dict[str, int] = {}
        self._site_cache: dict[tuple, tuple] = {}
        self._max_t: int | None = None       # latest request time replayed (batch replay)

    def _place_blocklist_zones(self) -> None:
        """Per block (index 0: no location matched, i + 1: location i): the limits nginx runs there, in
        order (the blocklist's zones the build places there, then the site's own), where each blocklist
        zone sits among them, and the block's limit_req_dry_run. The placement is the build's own
        (RenderData.placement), so a dry-run zone applies exactly where the built config applies it."""
        data = self.rules.data if self.rules is not None else None
        declared = self.site_rules.site if self.site_rules is not None else None
        if data is not None and declared is not None and data.server_dry_run:
            from dataclasses import replace

            from proxygen.blocklist.render import server_dry_run

            # this site's own server-level limits keep the build from making the server block dry-run
            data = replace(data, server_dry_run=server_dry_run(data, [declared]))
        blocks = [(None, self._server_block[0], self._server_block[1])] + [
            (i, loc, limits) for i, (loc, limits, _) in enumerate(self._locations)]
        self._limits_at: list[list[Limit]] = []
        self._bl_slot_at: list[dict[str, int]] = []
        self._dry_at: list[bool] = []
        for i, loc, own in blocks:
            if declared is not None:
                spec = declared.locations[i] if i is not None else None
                own_limits = bool(spec is not None and spec.rate_limits)
                dry = spec.rate_limit_dry_run if spec is not None and spec.rate_limit_dry_run is not None \
                    else declared.rate_limit_dry_run
            else:   # limits given as data: a location's limits are its own, its dry-run set when true
                own_limits = i is not None and bool(loc.limits)
                dry = True if loc.dry_run else (False if own_limits else None)
            zones = ()
            if data is not None:
                placed = data.placement(own_limits, dry)
                zones, dry = placed.zones, placed.dry_run
            limits = [self._bl_limits[self._bl_index[z.name]] for z in zones if z.name in self._bl_index]
            self._bl_slot_at.append({lim.zone[len("blocklist:"):]: n for n, lim in enumerate(limits)})
            self._limits_at.append(limits + list(own))
            self._dry_at.append(bool(dry))
        if data is not None and declared is not None:
            self._note_placement(data, declared)
        elif data is not None and self.site is None:
            missing = [z.name for z in data.zones if z.dry_run and not any(
                lim.zone == f"blocklist:{z.name}" for lim in self._limits_at[0])]
            if missing:
                self.warnings.append(f"blocklists/ dry-run zone(s) {', '.join(missing)} are not in the crawler-defence "
                                     "server block beside enforced zones (nginx's limit_req_dry_run covers every "
                                     "limit of a block), so they are not replayed; give --site to replay them in "
                                     "the locations where the build places them")

    def _note_placement(self, data, declared) -> None:
        """Warn where a blocklist zone does not act as written on this site (as the build warns)."""
        names = ["server block"] + [f"location {loc.path}" for loc in declared.locations]
        live = [b for b in range(len(self._limits_at)) if b == 0 or not self._locations[b - 1][0].returns]
        for zone in data.zones:
            here = [b for b in live if any(lim.zone == f"blocklist:{zone.name}" for lim in self._limits_at[b])]
            if zone.dry_run and len(here) < len(live):
                where = ", ".join(names[b] for b in here) or "nowhere"
                self.warnings.append(f"blocklists/ zone {zone.name} (dry_run) applies on site {declared.name} only "
                                     f"where the build renders it ({where}): nginx's limit_req_dry_run covers every "
                                     "limit of a block")
            elif not zone.dry_run and any(self._dry_at[b] for b in here):
                where = ", ".join(names[b] for b in here if self._dry_at[b])
                self.warnings.append(f"blocklists/ zone {zone.name} runs dry on site {declared.name} in {where} "
                                     "(the limits there are dry-run)")

    def limits_at(self, location: int) -> list[Limit]:
        """Every limit nginx runs for a request routed to `location` (-1: none), in order."""
        return self._limits_at[location + 1]

    def dry_run_at(self, location: int) -> bool:
        """The limit_req_dry_run of the block serving `location` (-1: none), covering all its limits."""
        return self._dry_at[location + 1]

    # -- routing

    def location_for(self, path: str) -> int:
        """Index of the location nginx would pick (exact, else longest prefix), -1 for none."""
        hit = self._path_cache.get(path)
        if hit is not None:
            return hit
        if self.site_rules is not None:
            index = self.site_rules.location_for(path)
        else:
            index = self._exact.get(path, -1)
        if index < 0 and self.site_rules is None:
            for prefix, i in self._prefixes:
                if path.startswith(prefix):
                    index = i
                    break
        if len(self._path_cache) < 1_000_000:
            self._path_cache[path] = index
        return index

    def has_limits(self, location: int) -> bool:
        return bool(self._limits_at[location + 1])

    # -- one request

    def decide(self, ip: str, user_agent: str | None) -> Decision:
        return self.rules.decide(ip, user_agent) if self.rules is not None else NO_RULE

    def request(self, time_ms: int, ip: str, user_agent: str | None = None, path: str = "/",
                method: str = "GET") -> Outcome:
        decision = self.decide(ip, user_agent)
        return self.apply(time_ms, ip, user_agent, decision, self.location_for(path), method)

    def _site_view(self, ip: str, user_agent: str | None, method: str, location: int) -> tuple:
        """(rule outcome or None, keys of the location's limits) for this client; cached."""
        cache_key = (ip, user_agent, method, location)
        hit = self._site_cache.get(cache_key)
        if hit is not None:
            return hit
        req = {"ip": ip, "ua": user_agent or "", "method": method}
        verdict = self.site_rules.rule_outcome(location, req) if self.site_rules is not None else None
        keys = tuple(g(req) for g in (self._locations[location] if location >= 0 else self._server_block)[2])
        result = (verdict, keys)
        if len(self._site_cache) < 2_000_000:
            self._site_cache[cache_key] = result
        return result

    def apply(self, time_ms: int, ip: str, user_agent: str | None, decision: Decision, location: int,
              method: str = "GET") -> Outcome:
        action = decision.action
        if action in ("block403", "block444"):
            return Outcome("blocked", int(action[5:]), decision.rule)
        if action == "tarpit":
            return Outcome("tarpitted", None, decision.rule)
        site_verdict, site_keys = self._site_view(ip, user_agent, method, location) if self.site else (None, ())
        if site_verdict is not None:
            kind, status, label = site_verdict
            return Outcome(kind, status, label)
        if location >= 0 and self._locations[location][0].returns:
            return Outcome("allowed", None, None)
        limits = self._limits_at[location + 1]
        if not limits:
            return Outcome("allowed", None, None)
        slots = self._bl_slot_at[location + 1]
        keys: list = [None] * len(slots)
        keys.extend(site_keys)
        rule_of_zone: dict[str, str] = {}
        for zone, key, rule in decision.throttles:
            slot = slots.get(zone)
            if slot is not None:
                keys[slot] = key
                rule_of_zone[f"blocklist:{zone}"] = rule or zone
        dry_run, status = self._dry_at[location + 1], self._status_of[location + 1]
        for limit in limits:
            self.zones.zone(limit.zone)     # nodes a batch replay deferred join the zone first
        verdict = check(limits, keys, time_ms, self.zones, dry_run)
        kind = OUTCOMES[_FROM_LIMIT[verdict.status]]
        rule = None
        if verdict.zone is not None:
            rule = rule_of_zone.get(verdict.zone, verdict.zone)
        return Outcome(kind, status if kind == "throttled" else None, rule, verdict.delay_ms)

    # -- log batches

    def run(self, batches, report=None):
        """Replay polars DataFrames (columns client_ip, time, user_agent, path); returns a Report."""
        from proxygen.simulate.report import Report

        report = report or Report()
        with _cycle_collector_paused():
            self._run_batches(batches, report)
        report.warnings = list(self.warnings)
        return report

    def _run_batches(self, batches, report) -> None:
        import polars as pl

        # Larger batches amortise the per-batch work (joins, window functions); state carries over anyway.
        pending, rows = [], 0
        for frame in batches:
            pending.append(frame.select([c for c in ("client_ip", "time", "user_agent", "path", "method")
                                         if c in frame.columns]))
            rows += frame.height
            if rows >= self.batch_rows:
                whole = pl.concat(pending, how="diagonal_relaxed")
                # the log's last second may go on in the next batch: keep it for then, so each second's
                # requests are spread over it once, whatever the batch boundaries
                times = whole["time"]
                start = 0
                if times[-1] is not None:
                    others = (times != times[-1]).fill_null(True).arg_true()
                    start = int(others[-1]) + 1 if others.len() else 0
                if start:
                    self._run_frame(whole.slice(0, start), report)
                    pending, rows = [whole.slice(start)], whole.height - start
                else:
                    self._run_frame(whole, report)
                    pending, rows = [], 0
        if pending:
            self._run_frame(pl.concat(pending, how="diagonal_relaxed"), report)

    def _run_frame(self, frame, report) -> None:
        import polars as pl

        df = frame.select(
            pl.col("client_ip").cast(pl.Utf8).fill_null(""),
            pl.col("time").dt.epoch("ms").alias("t"),
            pl.col("user_agent").cast(pl.Utf8).fill_null(""),
            pl.col("path").cast(pl.Utf8).fill_null("/"),
            (pl.col("method").cast(pl.Utf8).fill_null("GET") if "method" in frame.columns
             else pl.lit("GET")).alias("method"),
        ).drop_nulls("t").rechunk()           # one chunk per column: gathers and hashes run faster
        if df.height == 0:
            return
        # Everything but the clock and the path depends on (address, user agent, method) only:
        # evaluate the rules once per such context, then gather per request.
        ctx, firsts = _contexts(df, ("client_ip", "user_agent", "method"))
        cdf = df.select("client_ip", "user_agent", "method").gather(firsts)
        # Every context's address in the blocklist's geo and the allowlist, parsed once for both.
        tables = ([self.rules.geo_table] if self.rules is not None else []) + (
            [self.site_rules.vars.allowlist_table()] if self.site_rules is not None
            and self.site_rules.vars.allowlists is not None else [])
        answers = lookup_many(tables, cdf["client_ip"]) if tables else []
        self._allowlisted_ip = answers[-1].is_not_null() if self.site_rules is not None and tables \
            and self.site_rules.vars.allowlists is not None else None
        # Decide once per distinct (geo value, UA value) pair and route once per distinct path.
        decisions: list[Decision] = [NO_RULE]
        if self.rules is not None:
            geo = answers[0].fill_null(-1)
            uas = cdf["user_agent"].unique()
            ua_results: dict[tuple, int] = {}
            ua_ids = []
            for ua in uas.to_list():
                res = self.rules.ua_value(ua)
                ua_ids.append(ua_results.setdefault(res, len(ua_results)))
            ua_list = list(ua_results)
            ua_idx = cdf["user_agent"].replace_strict(uas, pl.Series(ua_ids, dtype=pl.Int32), return_dtype=pl.Int32)
            pairs = pl.DataFrame({"g": geo, "u": ua_idx})
            uniq = pairs.unique()
            ids: dict[Decision, int] = {NO_RULE: 0}
            dids = []
            for g, u in uniq.iter_rows():
                ip_result = self.rules.geo_values[g] if g >= 0 else ("", ())
                d = self.rules.combine(ip_result, ua_list[u])
                i = ids.get(d)
                if i is None:
                    i = ids[d] = len(decisions)
                    decisions.append(d)
                dids.append(i)
            cdid = pairs.join(uniq.with_columns(pl.Series("did", dids, dtype=pl.Int32)), on=["g", "u"],
                              how="left", maintain_order="left")["did"]
        else:
            cdid = pl.repeat(0, cdf.height, dtype=pl.Int32, eager=True)
        if self.site_rules is not None:
            loc = self.site_rules.locations_of(df["path"])
        else:
            paths = df["path"].unique()
            loc = df["path"].replace_strict(paths, pl.Series([self.location_for(p) for p in paths.to_list()],
                                                             dtype=pl.Int32), return_dtype=pl.Int32)
        df = df.select("t").with_row_index("row").with_columns(
            ctx.alias("ctx"), cdid.gather(ctx).alias("did"), loc.alias("loc"))

        # nginx logs seconds: spread each second's requests evenly over it, in log order
        # (otherwise a 60000r/m zone would see a whole second's requests in the same millisecond).
        if (df["t"] % 1000 == 0).all():
            df = df.with_columns(_spread_seconds(df["t"]).alias("t"))
        self._frame_outcomes(df, cdf, cdid, decisions, report)

    def _frame_outcomes(self, df, cdf, cdid, decisions: list[Decision], report) -> None:
        """Each request's outcome, rule and status (integers; rules as indices into `labels`), then
        fold them into the report."""
        import polars as pl

        from proxygen.simulate.batch import limit_events, replay, zone_nodes
        from proxygen.simulate.sites import FrameVariables

        labels: list[str] = []
        label_ids: dict[str, int] = {}

        def label_id(text):
            if text is None:
                return None
            if text not in label_ids:
                label_ids[text] = len(labels)
                labels.append(text)
            return label_ids[text]

        static_outcome = [BLOCKED if d.action in ("block403", "block444") else
                          TARPITTED if d.action == "tarpit" else ALLOWED for d in decisions]
        static_status = [int(d.action[5:]) if d.action in ("block403", "block444") else None for d in decisions]
        # a throttled client's requests count under its rule even when they pass (per-rule "allowed")
        static_rule = [label_id(d.rule) if d.action in ("block403", "block444", "tarpit", "throttle") else None
                       for d in decisions]
        did = df["did"]
        outcome = pl.Series(static_outcome, dtype=pl.Int8).gather(did)
        rule = pl.Series(static_rule, dtype=pl.Int32).gather(did)
        status = pl.Series(static_status, dtype=pl.Int16).gather(did)
        terminal = outcome != ALLOWED
        fv = None
        if self.site_rules is not None:
            fv = FrameVariables(self.site_rules.vars, cdf, self._allowlisted_ip)
            fired = self._site_rule_columns(df, fv, terminal, label_id)
            if fired is not None:
                kind, rid, code = fired
                outcome = pl.select(pl.coalesce(kind, outcome)).to_series()
                rule = pl.select(pl.when(kind.is_not_null()).then(rid).otherwise(rule)).to_series()
                status = pl.select(pl.when(kind.is_not_null()).then(code).otherwise(status)).to_series()
                terminal = terminal | kind.is_not_null()
        df = df.with_columns((~terminal).alias("limited"))
        events = nodes = None
        if any(self._limits_at):
            nodes = zone_nodes(self, cdf, cdid, decisions, fv)
            events = limit_events(self, df, nodes)
        hits = replay(self, df, events, nodes) if events is not None and events.height else None
        if hits is not None and hits.height:
            # the location decides dry-run and the status; blocklist zones count under the matched rule
            dry = self._dry_at
            hits = hits.with_columns(df["did"].gather(hits["row"]).alias("did"),
                                     df["loc"].gather(hits["row"]).alias("loc"))
            pairs = hits.select("did", "zone").unique()
            rids = []
            for d, zone in pairs.iter_rows():
                label = zone
                if zone.startswith("blocklist:"):
                    z = zone[len("blocklist:"):]
                    label = next((t[2] for t in decisions[d].throttles if t[0] == z and t[2]), z)
                rids.append(label_id(label))
            lab = pairs.with_columns(pl.Series("rid", rids, dtype=pl.Int32))
            loc1 = pl.col("loc") + 1
            is_dry = pl.lit(pl.Series(dry, dtype=pl.Boolean)).gather(loc1)
            code = (pl.when(pl.col("status") == REJECTED).then(pl.when(is_dry).then(DRY_THROTTLED).otherwise(THROTTLED))
                    .otherwise(pl.when(is_dry).then(DRY_DELAYED).otherwise(DELAYED_O))).cast(pl.Int8)
            answer = pl.when(code == THROTTLED).then(
                pl.lit(pl.Series(self._status_of, dtype=pl.Int16)).gather(loc1))
            hits = hits.join(lab, on=["did", "zone"], how="left").select(
                "row", code.alias("o2"), pl.col("rid").alias("r2"), answer.alias("s2"))
            # a delayed or throttled request's outcome, rule and status replace the static ones
            outcome = outcome.clone().scatter(hits["row"], hits["o2"])
            rule = rule.clone().scatter(hits["row"], hits["r2"])
            status = status.clone().scatter(hits["row"], hits["s2"])
        report.add_frame(df.select("ctx", "t").with_columns(
            outcome.alias("outcome"), rule.alias("rule"), status.alias("status")), cdf, labels)

    def _site_rule_columns(self, df, fv, terminal, label_id):
        """The site's `rules:` (server level, then the matched location's) on requests still undecided:
        (outcome, rule id, status) per request, null where none fires; None when none fires at all."""
        import polars as pl

        site = self.site_rules
        scopes = [("site", site.site.rules, None)]
        for i, (loc, _) in enumerate(site._locations):
            if loc.rules:
                scopes.append((f"location {loc.path}", loc.rules, i))
        branches, fired = [], []        # (does it fire, per request), (outcome, rule id, status)
        for scope, rules, loc_index in scopes:
            for n_rule, cond in enumerate(rules):
                per_context = fv.condition(cond)
                if not per_context.any():
                    continue
                fires = pl.lit(per_context).gather(pl.col("ctx"))
                if loc_index is not None:
                    fires = fires & (pl.col("loc") == loc_index)
                answer = cond.return_.status if cond.return_ is not None else None
                outcome = BLOCKED if answer is not None and answer >= 400 else TARPITTED
                branches.append(fires)
                fired.append((outcome, f"{site.site.name}: {scope} rules[{n_rule}] ({cond.variable})", answer))
        if not branches:
            return None
        # the first rule that fires on a request still undecided, in one query
        first = pl.when(branches[0]).then(pl.lit(0, dtype=pl.Int32))
        for i, fires in enumerate(branches[1:], 1):
            first = first.when(fires).then(pl.lit(i, dtype=pl.Int32))
        which = df.select(pl.when(~pl.lit(terminal)).then(first)).to_series()
        if which.null_count() == which.len():
            return None
        used = set(which.drop_nulls().unique().to_list())
        ids = [label_id(label) if i in used else None for i, (_, label, _) in enumerate(fired)]
        return (pl.Series([f[0] for f in fired], dtype=pl.Int8).gather(which),
                pl.Series(ids, dtype=pl.Int32).gather(which),
                pl.Series([f[2] for f in fired], dtype=pl.Int16).gather(which))
