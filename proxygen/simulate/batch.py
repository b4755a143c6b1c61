"""Fast, still exact, replay of one log batch: the leaky bucket vectorised where that cannot differ.

For a key whose requests all pass, nginx's recurrence `excess = max(0, excess - rate*ms/1000 + 1000)`
is Lindley's, whose closed form `S_i - min(-excess_0, min_{k<=i} S_k)` (S = cumulative increments)
polars computes for every key at once. Computed as if every request were accounted, it bounds the
real excess (fewer accounted requests never leave more), so a key that stays within its burst and
never delays there cannot change any request's fate ("inert"; e.g. a site-wide 60000r/m bucket).
The other keys are exact from the same computation when they never exceed their burst and share no
request with another non-inert key; otherwise they are replayed request by request (a single key in
a tight loop, keys linked through shared requests with `limit_req.check`, as nginx couples them).
Inert keys then get their exact state from the requests that were not rejected. Zones whose idle-node
eviction could be observed are always replayed one by one. Tests compare this with request-by-request
replay on random traffic.
"""

from __future__ import annotations

from proxygen.simulate.limit_req import Zones, check

_BIG = 1 << 53  # caps nodelay's delay (NGX_MAX_INT_T_VALUE / 1000 requests) so (excess - delay) * 1000 fits Int64


def eviction_safe(limit, backwards: int = 0) -> bool:
    """Evicting an idle node of this zone changes nothing: nginx evicts after >= 60 s idle, and when the
    clock never goes back more than `backwards` ms, the node is next used >= 60 s - `backwards` after its
    last request, by when any excess (<= burst) has leaked to 0 anyway."""
    return backwards < 60000 and limit.burst_milli + 1000 <= limit.rate * (60000 - backwards) // 1000


def limit_events(sim, df, decisions, fv):
    """One row per (request, limit with a non-empty key): row, t, slot, zone, key, rate, burst, delay."""
    import polars as pl

    frames = []
    bl_keys = {}
    if sim._bl_limits:
        for zone, idx in sim._bl_index.items():
            kinds = []
            for d in decisions:
                found = next((t for t in d.throttles if t[0] == zone), None)
                if found is None:
                    kinds.append(None)
                elif found[1] == "\x00ip" or sim.rules.zones[zone].per == "client":
                    kinds.append("\x00ip")
                else:
                    kinds.append(found[1])
            raw = df["did"].replace_strict(list(range(len(decisions))), pl.Series(kinds, dtype=pl.Utf8),
                                           return_dtype=pl.Utf8)
            bl_keys[idx] = pl.DataFrame({"r": raw, "ip": df["client_ip"]}).select(
                pl.when(pl.col("r") == "\x00ip").then(pl.col("ip")).otherwise(pl.col("r"))).to_series()
    key_memo = {}
    locs = [-1] + list(range(len(sim._locations)))
    for loc in locs:
        if loc >= 0 and sim._locations[loc][0].returns:
            continue  # `return` answers before limit_req runs
        limits = list(sim._bl_limits)
        exprs = [None] * len(sim._bl_limits)
        if loc >= 0 and sim._locations[loc][1]:
            limits += sim._locations[loc][1]
            exprs += [sim.site.zones[lim.zone].key for lim in sim._locations[loc][1]]
        if not limits:
            continue
        mask = (df["loc"] == loc) & df["limited"]
        if not mask.any():
            continue
        sub = df.filter(mask)
        rows = sub["row"]
        for slot, (limit, expr) in enumerate(zip(limits, exprs)):
            if expr is None:
                keys = bl_keys[slot].filter(mask)
            else:
                if expr not in key_memo:
                    key_memo[expr] = fv.expand(expr) if fv is not None else _plain_key(sim, expr, df)
                keys = key_memo[expr].filter(mask)
            frames.append(pl.DataFrame({
                "row": rows, "t": sub["t"], "slot": pl.repeat(slot, sub.height, dtype=pl.Int32, eager=True),
                "zone": pl.repeat(limit.zone, sub.height, dtype=pl.Utf8, eager=True), "key": keys,
                "rate": pl.repeat(limit.rate, sub.height, dtype=pl.Int64, eager=True),
                "burst": pl.repeat(limit.burst_milli, sub.height, dtype=pl.Int64, eager=True),
                "delay": pl.repeat(min(limit.delay_milli, _BIG), sub.height, dtype=pl.Int64, eager=True),
            }).filter(pl.col("key").is_not_null() & (pl.col("key") != "")))
    if not frames:
        return None
    return pl.concat(frames).sort("row", "slot")


def _plain_key(sim, expr, df):
    """Keys of zones given as data (no declaration): the simple expressions engine._key_getter knows."""
    import polars as pl

    text = expr.strip()
    if text in ("$binary_remote_addr", "$remote_addr", "$realip_remote_addr"):
        return df["client_ip"]
    if text == "$http_user_agent":
        return df["user_agent"]
    if "$" not in text:
        return pl.repeat(text, df.height, dtype=pl.Utf8, eager=True)
    return pl.repeat("", df.height, dtype=pl.Utf8, eager=True)


def _lindley(frame, zones: Zones):
    """Every key's excess after each of its requests if all were accounted (Lindley's closed form),
    starting from the zone state: adds columns W (excess), dt, and per key `bad` (some request over
    the burst, or the clock going backwards) and `delays` (some request delayed)."""
    import polars as pl

    g = ["zone", "key"]
    nodes = frame.select(g).unique()
    init_e, init_t, known = [], [], []
    for z, k in nodes.iter_rows():
        node = zones.zone(z).get(k)
        known.append(node is not None)
        init_e.append(node[0] if node is not None else 0)
        init_t.append(node[1] if node is not None else 0)
    nodes = nodes.with_columns(pl.Series("e0", init_e, dtype=pl.Int64), pl.Series("t0", init_t, dtype=pl.Int64),
                               pl.Series("known", known, dtype=pl.Boolean),
                               pl.int_range(pl.len(), dtype=pl.UInt32).alias("nid"))
    frame = frame.join(nodes, on=g, how="left").sort("nid", "row")
    first = pl.col("nid") != pl.col("nid").shift(1, fill_value=-1)
    # a new key's first request starts at excess 0 whatever the clock (dt 0 avoids overflow)
    prev_t = (pl.when(first & ~pl.col("known")).then(pl.col("t"))
              .when(first).then(pl.col("t0")).otherwise(pl.col("t").shift(1)))
    frame = frame.with_columns((pl.col("t") - prev_t).alias("dt"), first.alias("first"))
    # a new key's first request: increment 0 from excess 0, so its excess is 0 as in nginx
    x = pl.when(pl.col("first") & ~pl.col("known")).then(pl.lit(0)).otherwise(1000 - pl.col("rate") * pl.col("dt") // 1000)
    frame = frame.with_columns(x.cum_sum().over("nid").alias("S"))
    frame = frame.with_columns(
        (pl.col("S") - pl.min_horizontal(-pl.col("e0"), pl.col("S").cum_min().over("nid"))).alias("W"))
    delayed = (pl.col("W") > pl.col("delay")) & ((pl.col("W") - pl.col("delay")) * 1000 // pl.col("rate") > 0)
    frame = frame.with_columns(delayed.alias("delayed"))
    return frame.with_columns(
        ((pl.col("W") > pl.col("burst")) | (pl.col("dt") < 0)).any().over("nid").alias("bad"),
        pl.col("delayed").any().over("nid").alias("delays"))


def _solo_buckets(frame, zones: Zones, results: dict, rejected: list) -> None:
    """limit_req.check for one limit, inlined, key by key (same arithmetic, same clamps)."""
    import polars as pl

    from proxygen.simulate.limit_req import DELAYED, REJECTED

    grouped = (frame.sort("row").group_by("zone", "key")
               .agg(pl.col("row"), pl.col("t"), pl.col("rate").first(), pl.col("burst"), pl.col("delay")))
    # burst and delay are per request: one zone can have different limit_req lines in each location
    for zone, key, rows, ts, rate, bursts, delays in grouped.iter_rows():
        nodes = zones.zone(zone)
        node = nodes.get(key)
        if node is None:
            excess, last = 0, ts[0]
            start = 1
        else:
            excess, last = node
            start = 0
        for i in range(start, len(rows)):
            t = ts[i]
            ms = t - last
            if ms < -60000:
                ms = 1
            elif ms < 0:
                ms = 0
            new = excess - rate * ms // 1000 + 1000
            if new < 0:
                new = 0
            if new > bursts[i]:
                results[rows[i]] = (REJECTED, zone, 0)
                rejected.append(rows[i])
                continue
            excess = new
            if ms:
                last = t
            delay = delays[i]
            if excess > delay:
                wait = (excess - delay) * 1000 // rate
                if wait:
                    results[rows[i]] = (DELAYED, zone, wait)
        nodes[key] = [excess, last]


def replay(sim, df, decisions, events):
    """A frame (row, status, zone) of every request limit_req delays or rejects.

    1. Every key of an eviction-safe zone gets its all-accounted excess (an upper bound: fewer
       accounted requests never leave more excess). A key that never exceeds its burst nor delays
       there is inert: it cannot change any request's fate, only its own state.
    2. Requests are coupled through their non-inert keys; a key that is not coupled and never
       exceeds its burst has its exact answers from step 1; the rest are replayed one by one
       (ignoring inert keys, which nginx would pass).
    3. Inert keys then get their exact final state from the requests that were not rejected.
    """
    import polars as pl

    from proxygen.simulate.limit_req import DELAYED, PASSED, REJECTED

    zones: Zones = sim.zones
    g = ["zone", "key"]
    times = df["t"]
    backwards = int(max(0, (times.cum_max() - times).max() or 0, (sim._max_t or 0) - (times.min() or 0)))
    sim._max_t = max(sim._max_t or 0, times.max() or 0)
    unsafe = {lim.zone for lim in sim._bl_limits if not eviction_safe(lim, backwards)}
    for _, limits, _ in sim._locations:
        unsafe |= {lim.zone for lim in limits if not eviction_safe(lim, backwards)}

    safe = events.filter(~pl.col("zone").is_in(list(unsafe)))
    bound = _lindley(safe, zones) if safe.height else None
    if bound is not None:
        inert = bound.filter(~pl.col("bad") & ~pl.col("delays")).select(g).unique()
    else:
        inert = pl.DataFrame(schema={"zone": pl.Utf8, "key": pl.Utf8})
    active = events.join(inert, on=g, how="anti")

    # Non-inert keys linked by one request are replayed together.
    per_row = active.group_by("row").agg(pl.len().alias("n"))
    coupled_rows = per_row.filter(pl.col("n") > 1)["row"]
    slow_nodes: set = set()
    if coupled_rows.len():
        parent: dict = {}

        def find(x):
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for nodes in (active.filter(pl.col("row").is_in(coupled_rows.implode())).group_by("row")
                      .agg(pl.struct("zone", "key").alias("nodes"))["nodes"].to_list()):
            first = find((nodes[0]["zone"], nodes[0]["key"]))
            for n in nodes[1:]:
                parent[find((n["zone"], n["key"]))] = first
        slow_nodes = set(parent)

    results: dict[int, tuple] = {}
    exact_nodes = None
    vector_hits = None
    if bound is not None:
        candidates = bound.filter(~pl.col("bad")).join(inert, on=g, how="anti")
        if slow_nodes:
            sn = pl.DataFrame({"zone": [z for z, _ in slow_nodes], "key": [k for _, k in slow_nodes]},
                              schema={"zone": pl.Utf8, "key": pl.Utf8})
            candidates = candidates.join(sn, on=g, how="anti")
        exact_nodes = candidates.select(g).unique()
        vector_hits = candidates.filter(pl.col("delayed")).select(
            "row", pl.lit(DELAYED).alias("status"), "zone")
        for z, k, w, t in candidates.group_by(g).agg(pl.col("W").last(), pl.col("t").last()).iter_rows():
            zones.zone(z)[k] = [w, t]
    # Everything else that is not inert: one request at a time, in arrival order.
    slow = active if exact_nodes is None else active.join(exact_nodes, on=g, how="anti")
    rejected: list[int] = []
    # A key alone on its requests (others inert) in a safe zone is a single leaky bucket: a tight loop.
    solo = slow.filter(~pl.col("zone").is_in(list(unsafe)))
    if slow_nodes and solo.height:
        sn = pl.DataFrame({"zone": [z for z, _ in slow_nodes], "key": [k for _, k in slow_nodes]},
                          schema={"zone": pl.Utf8, "key": pl.Utf8})
        solo = solo.join(sn, on=g, how="anti")
    if solo.height:
        _solo_buckets(solo, zones, results, rejected)
        slow = slow.join(solo.select(g).unique(), on=g, how="anti")
    if slow.height:
        loc_of = df["loc"].to_list()
        for row, slots, keys, t in (slow.sort("row", "slot").group_by("row", maintain_order=True)
                                    .agg(pl.col("slot"), pl.col("key"), pl.col("t").first()).iter_rows()):
            loc = loc_of[row]
            limits = list(sim._bl_limits)
            if loc >= 0 and sim._locations[loc][1]:
                limits += sim._locations[loc][1]
            key_list = [None] * len(limits)
            for s, k in zip(slots, keys):
                key_list[s] = k
            v = check(limits, key_list, t, zones, False)
            if v.status != PASSED:
                results[row] = (v.status, v.zone, v.delay_ms)
                if v.status == REJECTED:
                    rejected.append(row)
    # Inert keys: exact state from the requests that were accounted (not rejected). Keys none of whose
    # requests was rejected keep their step-1 values; the others are recomputed without the rejections.
    if inert.height:
        inert_rows = bound.join(inert, on=g, how="semi")
        touched = inert.clear()
        if rejected:
            gone = pl.Series(rejected, dtype=inert_rows["row"].dtype).implode()
            touched = inert_rows.filter(pl.col("row").is_in(gone)).select(g).unique()
        untouched = inert_rows.join(touched, on=g, how="anti")
        for z, k, w, t in untouched.group_by(g).agg(pl.col("W").last(), pl.col("t").last()).iter_rows():
            zones.zone(z)[k] = [w, t]
        if touched.height:
            accounted = (safe.join(touched, on=g, how="semi")
                         .filter(~pl.col("row").is_in(pl.Series(rejected, dtype=safe["row"].dtype).implode())))
            if accounted.height:
                exact = _lindley(accounted.select(events.columns), zones)
                for z, k, w, t in exact.group_by(g).agg(pl.col("W").last(), pl.col("t").last()).iter_rows():
                    zones.zone(z)[k] = [w, t]
    frames = [] if vector_hits is None else [vector_hits]
    if results:
        rows = list(results)
        frames.append(pl.DataFrame({"row": pl.Series(rows, dtype=events["row"].dtype),
                                    "status": [results[r][0] for r in rows], "zone": [results[r][1] for r in rows]},
                                   schema={"row": events["row"].dtype, "status": pl.Utf8, "zone": pl.Utf8}))
    if not frames:
        return None
    return pl.concat([f.cast({"row": events["row"].dtype, "status": pl.Utf8, "zone": pl.Utf8}) for f in frames])
