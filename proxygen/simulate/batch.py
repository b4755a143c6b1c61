"""Fast, still exact, replay of one log batch: the leaky bucket vectorised where that cannot differ.

For a key whose requests all pass, nginx's recurrence `excess = max(0, excess - rate*ms/1000 + 1000)`
is Lindley's, whose closed form `S_i - min(-excess_0, min_{k<=i} S_k)` (S = cumulative increments)
polars computes for every key at once. A key is replayed one request at a time instead (with
`limit_req.check`) when any of its requests would be rejected, when its clock goes backwards, or when
one request carries several non-empty limit keys (nginx then couples the zones: a rejection in one
leaves the others unaccounted; all keys linked that way are replayed together). Zones where nginx's
idle-node eviction could be observed (burst*1000 + 1000 > rate*60) are always replayed one by one.
Keys are independent otherwise, so the two paths give the same answers (tests compare them).
"""

from __future__ import annotations

from proxygen.simulate.limit_req import Zones, check

_BIG = 1 << 60


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


def replay(sim, df, decisions, events):
    """{row: (limit_req status, zone, delay ms)} for every row limit_req does not simply pass."""
    import polars as pl

    from proxygen.simulate.limit_req import DELAYED, PASSED

    zones: Zones = sim.zones
    per_row = events.group_by("row").agg(pl.len().alias("n"))
    coupled_rows = per_row.filter(pl.col("n") > 1)["row"]
    # Nodes linked by a request with several keys, and zones whose eviction is observable, go one by one.
    times = df["t"]
    backwards = int(max(0, (times.cum_max() - times).max() or 0, (sim._max_t or 0) - (times.min() or 0)))
    sim._max_t = max(sim._max_t or 0, times.max() or 0)
    unsafe = {lim.zone for lim in sim._bl_limits if not eviction_safe(lim, backwards)}
    for _, limits, _ in sim._locations:
        unsafe |= {lim.zone for lim in limits if not eviction_safe(lim, backwards)}
    events = events.with_columns(pl.col("row").is_in(coupled_rows.implode()).alias("coupled"))
    slow_nodes = set()
    if coupled_rows.len():
        parent: dict = {}

        def find(x):
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for nodes in (events.filter(pl.col("coupled")).group_by("row", maintain_order=True)
                      .agg(pl.struct("zone", "key").alias("nodes"))["nodes"].to_list()):
            first = find((nodes[0]["zone"], nodes[0]["key"]))
            for n in nodes[1:]:
                parent[find((n["zone"], n["key"]))] = first
        slow_nodes = set(parent)  # every node in a coupled component
    simple = events.filter(~pl.col("zone").is_in(list(unsafe)))
    if slow_nodes:
        slow = pl.DataFrame({"zone": [z for z, _ in slow_nodes], "key": [k for _, k in slow_nodes]},
                            schema={"zone": pl.Utf8, "key": pl.Utf8}).with_columns(pl.lit(True).alias("_slow"))
        simple = simple.join(slow, on=["zone", "key"], how="left").filter(pl.col("_slow").is_null()).drop("_slow")

    results: dict[int, tuple] = {}
    if simple.height:
        simple = simple.sort("zone", "key", "row")
        nodes = simple.select("zone", "key").unique(maintain_order=True)
        init_e, init_t, known = [], [], []
        for z, k in nodes.iter_rows():
            node = zones.zone(z).get(k)
            known.append(node is not None)
            init_e.append(node[0] if node is not None else 0)
            init_t.append(node[1] if node is not None else 0)
        nodes = nodes.with_columns(pl.Series("e0", init_e, dtype=pl.Int64), pl.Series("t0", init_t, dtype=pl.Int64),
                                   pl.Series("known", known, dtype=pl.Boolean))
        g = ["zone", "key"]
        simple = simple.join(nodes, on=g, how="left", maintain_order="left")
        first = pl.int_range(pl.len()).over(g) == 0
        # a new node's first request starts at excess 0 whatever the clock (dt 0 avoids overflow)
        prev_t = (pl.when(first & ~pl.col("known")).then(pl.col("t"))
                  .when(first).then(pl.col("t0")).otherwise(pl.col("t").shift(1).over(g)))
        dt = pl.col("t") - prev_t
        x = pl.when(first & ~pl.col("known")).then(pl.lit(-_BIG)).otherwise(1000 - pl.col("rate") * dt // 1000)
        simple = simple.with_columns(dt.alias("dt"), x.alias("x"))
        simple = simple.with_columns(pl.col("x").cum_sum().over(g).alias("S"))
        simple = simple.with_columns(
            (pl.col("S") - pl.min_horizontal(-pl.col("e0"), pl.col("S").cum_min().over(g))).alias("W"))
        # -_BIG on a node's first request keeps S far below zero, so W is exactly 0 there
        bad = simple.group_by(g).agg(((pl.col("W") > pl.col("burst")) | (pl.col("dt") < 0)).any().alias("bad"))
        simple = simple.join(bad, on=g, how="left", maintain_order="left")
        ok = simple.filter(~pl.col("bad"))
        for z, k in bad.filter(pl.col("bad")).select(g).iter_rows():
            slow_nodes.add((z, k))
        if ok.height:
            delayed = ((pl.col("W") > pl.col("delay")) & ((pl.col("W") - pl.col("delay")) * 1000 // pl.col("rate") > 0))
            ok = ok.with_columns(delayed.alias("delayed"),
                                 ((pl.col("W") - pl.col("delay")) * 1000 // pl.col("rate")).alias("delay_ms"))
            for row, zone, is_delayed, delay_ms in ok.select("row", "zone", "delayed", "delay_ms").iter_rows():
                if is_delayed:
                    results[row] = (DELAYED, zone, delay_ms)
            last = ok.group_by(g).agg(pl.col("W").last(), pl.col("t").last())
            for z, k, w, t in last.iter_rows():
                zones.zone(z)[k] = [w, t]

    # One by one, in arrival order: every row touching a slow node or an unsafe zone.
    slow_events = events.filter(pl.col("zone").is_in(list(unsafe)))
    if slow_nodes:
        sn = pl.DataFrame({"zone": [z for z, _ in slow_nodes], "key": [k for _, k in slow_nodes]},
                          schema={"zone": pl.Utf8, "key": pl.Utf8})
        slow_events = pl.concat([slow_events, events.join(sn, on=["zone", "key"], how="semi")]).unique(
            maintain_order=False)
    if slow_events.height:
        rows = slow_events["row"].unique().sort()
        full = events.join(pl.DataFrame({"row": rows}), on="row", how="semi").sort("row", "slot")
        loc_of = dict(zip(df["row"].to_list(), df["loc"].to_list()))
        for row, slots, keys, t in full.group_by("row", maintain_order=True).agg(
                pl.col("slot"), pl.col("key"), pl.col("t").first()).iter_rows():
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
    return results
