"""Fast, still exact, replay of one log batch: the leaky bucket vectorised where that cannot differ.

For a key whose requests all pass, nginx's recurrence `excess = max(0, excess - rate*ms/1000 + 1000)`
is Lindley's, whose closed form `S_i - min(-excess_0, min_{k<=i} S_k)` (S = cumulative increments)
polars computes for every key at once (one sort by key, then whole-column cumulative sums and
minima with each key's segment shifted below the previous ones: no per-key grouping). Computed as
if every request were accounted, it bounds the real excess (fewer accounted requests never leave
more), so a key that stays within its burst and never delays there cannot change any request's
fate ("inert"). The other keys are exact from the same computation when they never exceed their
burst and share no request with another non-inert key; otherwise they are replayed request by
request (a single key in a tight loop, keys linked through shared requests with
`limit_req.check`, as nginx couples them). A bucket of burst 0 (OFF's global zones) is exactly its
chain of accepted requests (each the first request m0 ms after the previous accepted one): a zone
with a single key in the batch goes straight to its chain, no bound needed, and is inert when the
chain accepts everything. Inert keys then get their exact state from the requests that were not
rejected. Zones whose idle-node eviction could be observed are always replayed one by one.
Keys are integers (`Nodes`), so all of this sorts and groups numbers, not strings. Tests compare this
with request-by-request replay on random traffic (tests/blocklist/test_simulate_batch_property.py,
test_simulate_equivalence.py, test_simulate_fast_paths.py) and on synthetic OFF traffic.
"""

from __future__ import annotations

from proxygen.simulate.limit_req import Zones, check

_BIG = 1 << 53  # caps nodelay's delay (NGX_MAX_INT_T_VALUE / 1000 requests) so (excess - delay) * 1000 fits Int64


def eviction_safe(limit, backwards: int = 0) -> bool:
    """Evicting an idle node of this zone changes nothing: nginx evicts after >= 60 s idle, and when the
    clock never goes back more than `backwards` ms, the node is next used >= 60 s - `backwards` after its
    last request, by when any excess (<= burst) has leaked to 0 anyway."""
    return backwards < 60000 and limit.burst_milli + 1000 <= limit.rate * (60000 - backwards) // 1000


class Nodes:
    """The (zone, key) nodes one batch touches, as integers: node = zone index << 32 | key code.

    `per_zone[i]` holds, for every request context (client address, user agent, method), the node of
    zone `names[i]` (null: empty key, nginx does not limit it); `table` maps nodes back to (zone, key).
    """

    def __init__(self, names: list[str], keys: list):
        """`keys[i]`: zone i's key per request context, a Series or (values, index): a Series of
        fewer values (per profile) and each context's position in it."""
        import polars as pl

        self.names = names
        self.index = {name: i for i, name in enumerate(names)}
        if not keys:
            self.per_zone, self.table = [], pl.DataFrame(schema={"node": pl.Int64, "zi": pl.Int64, "key": pl.Utf8})
            return
        from proxygen.simulate.engine import _contexts

        coded: dict[int, tuple] = {}     # zones keyed by one expression share one key Series: code it once
        self.per_zone, tables = [], []
        for zi, k in enumerate(keys):
            values, rows = k if isinstance(k, tuple) else (k, None)
            got = coded.get(id(values))
            if got is None:
                text = values.cast(pl.Utf8).fill_null("")
                index, firsts = _contexts(pl.DataFrame({"k": text}), ("k",))
                got = coded[id(values)] = (pl.select(pl.when(pl.lit(text) != "").then(pl.lit(index).cast(pl.Int64)))
                                           .to_series(), text.gather(firsts))
            codes, distinct = got
            if rows is not None:
                codes = codes.gather(rows)
            self.per_zone.append(codes + zi * (1 << 32))
            tables.append(pl.DataFrame({
                "node": pl.int_range(distinct.len(), dtype=pl.Int64, eager=True) + zi * (1 << 32),
                "zi": pl.repeat(zi, distinct.len(), dtype=pl.Int64, eager=True), "key": distinct}))
        # sorted by node by construction (zone-major, codes ascending); codes of empty keys are unused
        self.table = pl.concat(tables)

    def _zone_key(self, nodes):
        """(zone indices, keys) of `nodes` (a Series), as lists."""
        at = self.table["node"].search_sorted(nodes, side="left")
        return self.table["zi"].gather(at).to_list(), self.table["key"].gather(at).to_list()

    def states(self, nodes, zones: Zones):
        """nodes (a Series) -> frame node, e0, t0, known: each node's stored state."""
        import polars as pl

        frame = pl.DataFrame({"node": nodes}).with_row_index("_i").with_columns(
            (pl.col("node") // (1 << 32)).alias("zi"))
        parts = []
        for (zi,), part in frame.partition_by("zi", as_dict=True, include_key=False).items():
            name = self.names[zi]
            part = part.with_columns(self.table["key"].gather(
                self.table["node"].search_sorted(part["node"], side="left")).alias("key"))
            deferred = zones.deferred.get(name)
            if deferred is not None and deferred.height:
                part = part.join(deferred, on="key", how="left", maintain_order="left")
            else:
                part = part.with_columns(pl.lit(None, dtype=pl.Int64).alias("excess"),
                                         pl.lit(None, dtype=pl.Int64).alias("last"))
            table = zones.table(name)
            if table:
                # nodes the Python paths keep (request by request, one bucket's loop)
                missing = part.filter(pl.col("excess").is_null())
                found = [table.get(k) for k in missing["key"].to_list()]
                if any(n is not None for n in found):
                    looked = missing.select("_i").with_columns(
                        pl.Series("e", [n[0] if n is not None else None for n in found], dtype=pl.Int64),
                        pl.Series("l", [n[1] if n is not None else None for n in found], dtype=pl.Int64))
                    part = part.join(looked, on="_i", how="left", maintain_order="left").with_columns(
                        pl.coalesce("excess", "e").alias("excess"), pl.coalesce("last", "l").alias("last")
                    ).drop("e", "l")
            parts.append(part.select("_i", "node", "excess", "last"))
        out = pl.concat(parts).sort("_i")
        return out.select("node", pl.col("excess").fill_null(0).alias("e0"), pl.col("last").fill_null(0).alias("t0"),
                          pl.col("excess").is_not_null().alias("known"))

    def store(self, frame, zones: Zones) -> None:
        """Write (node, W, t) back into the zones as [excess, last] (deferred: see Zones.defer)."""
        import polars as pl

        frame = frame.select("node", "W", "t").with_columns((pl.col("node") // (1 << 32)).alias("zi"))
        for (zi,), part in frame.partition_by("zi", as_dict=True, include_key=False).items():
            keys = self.table["key"].gather(self.table["node"].search_sorted(part["node"], side="left"))
            zones.defer(self.names[zi], pl.DataFrame({"key": keys, "excess": part["W"].cast(pl.Int64),
                                                      "last": part["t"].cast(pl.Int64)}))

    def keys_of(self, frame):
        """frame with a `node` column + zone name and key columns."""
        import polars as pl

        at = self.table["node"].search_sorted(frame["node"], side="left")
        zi = self.table["zi"].gather(at)
        return frame.with_columns(zi.alias("zi"), self.table["key"].gather(at).alias("key"),
                                  pl.Series(self.names, dtype=pl.Utf8).gather(zi).alias("zone"))


def zone_nodes(sim, cdf, cdid, decisions, fv) -> Nodes:
    """Every zone's node for each request context (`cdf`: client_ip, user_agent, method; `cdid`:
    each context's blocklist decision)."""
    import polars as pl

    names, keys = [], []
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
        raw = pl.Series(kinds, dtype=pl.Utf8).gather(cdid)
        keys.append(pl.DataFrame({"r": raw, "ip": cdf["client_ip"]}).select(
            pl.when(pl.col("r") == "\x00ip").then(pl.col("ip")).otherwise(pl.col("r"))).to_series())
        names.append(sim._bl_limits[idx].zone)
    for _, limits, _ in [sim._server_block, *sim._locations]:
        for limit in limits:
            if limit.zone in names:
                continue
            expr = sim.site.zones[limit.zone].key
            keys.append(fv.expand_coarse(expr) if fv is not None else _plain_key(sim, expr, cdf))
            names.append(limit.zone)
    return Nodes(names, keys)


def limit_events(sim, df, nodes: Nodes):
    """One row per (request, limit with a non-empty key): row, t, slot, zi, node, rate, burst,
    delay; zone by zone (so in node order, zone-major) and in request order within a zone."""
    import polars as pl

    limited = df.select("row", "t", "ctx", "loc", "limited").filter(pl.col("limited"))
    blocks = len(sim._limits_at)               # block b: location b - 1 (0: the server block)
    uses: dict[tuple, dict] = {}               # (zone index, nth use in a block) -> block -> (slot, limit)
    for b, limits in enumerate(sim._limits_at):
        if b > 0 and sim._locations[b - 1][0].returns:
            continue  # `return` answers before limit_req runs
        nth: dict[int, int] = {}
        for slot, limit in enumerate(limits):
            zi = nodes.index[limit.zone]
            uses.setdefault((zi, nth.get(zi, 0)), {})[b] = (slot, limit)
            nth[zi] = nth.get(zi, 0) + 1
    limited = limited.select("row", "t", "ctx", (pl.col("loc") + 1).cast(pl.Int64).alias("b"))
    frames = []
    for (zi, _), at in sorted(uses.items()):
        slot_of = pl.Series([at[b][0] if b in at else -1 for b in range(blocks)], dtype=pl.Int32)
        burst_of = pl.Series([at[b][1].burst_milli if b in at else 0 for b in range(blocks)], dtype=pl.Int64)
        delay_of = pl.Series([min(at[b][1].delay_milli, _BIG) if b in at else 0 for b in range(blocks)],
                             dtype=pl.Int64)
        sub = limited.lazy().with_columns(pl.lit(nodes.per_zone[zi]).gather(pl.col("ctx")).alias("node"))
        sub = sub.filter(pl.lit(slot_of).gather(pl.col("b")) >= 0, pl.col("node").is_not_null())
        frames.append(sub.select(
            "row", "t", pl.lit(slot_of).gather(pl.col("b")).alias("slot"), pl.lit(zi, dtype=pl.Int64).alias("zi"),
            "node", pl.lit(next(iter(at.values()))[1].rate, dtype=pl.Int64).alias("rate"),
            pl.lit(burst_of).gather(pl.col("b")).alias("burst"), pl.lit(delay_of).gather(pl.col("b")).alias("delay")))
    if not frames:
        return None
    return pl.concat(frames).collect()          # one query: the zones are built in parallel


def _plain_key(sim, expr, cdf):
    """Keys of zones given as data (no declaration): the expressions engine._key_getter knows."""
    import polars as pl

    text = expr.strip()
    ip, ua = cdf["client_ip"], cdf["user_agent"]
    if text in ("$binary_remote_addr", "$remote_addr", "$realip_remote_addr"):
        return ip
    if text == "$http_user_agent":
        return ua
    if text in ("$binary_remote_addr$http_user_agent", "$remote_addr$http_user_agent"):
        return pl.DataFrame({"i": ip, "u": ua}).select(pl.concat_str("i", "u")).to_series()
    if text in ("$server_name", "$host"):
        return pl.repeat(sim.site.name, cdf.height, dtype=pl.Utf8, eager=True)
    if "$" not in text:
        return pl.repeat(text, cdf.height, dtype=pl.Utf8, eager=True)
    return pl.repeat("", cdf.height, dtype=pl.Utf8, eager=True)


def _by_node(frame):
    """`frame` (zone-major: zone index, then node, increasing) sorted by node, then row. A zone's
    rows already in that order (one key, requests in order: a global bucket) are not sorted again;
    the others by one integer sort when node and row fit in one Int64 (they do for any realistic
    batch: node < 2**40, row < 2**21), else a two-column sort."""
    import polars as pl

    row_bits = int(frame["row"].max() or 0).bit_length()
    if not (int(frame["node"].min() or 0) >= 0 and int(frame["node"].max() or 0).bit_length() + row_bits <= 62):
        return frame.sort("node", "row")
    key = frame.select(pl.col("node") * (1 << row_bits) + pl.col("row").cast(pl.Int64)).to_series()
    if key.is_sorted():
        return frame
    zone = frame["zi"].rle_id()
    bounds = (zone != zone.shift(1, fill_value=-1)).arg_true().to_list() + [frame.height]
    parts = []
    for begin, end in zip(bounds, bounds[1:]):
        part, part_key = frame.slice(begin, end - begin), key.slice(begin, end - begin)
        parts.append(part if part_key.is_sorted() else part.with_columns(part_key.alias("_k")).sort("_k").drop("_k"))
    return pl.concat(parts) if len(parts) > 1 else parts[0]


def _chain(t, rate: int, start_after: int | None):
    """Which requests a burst-0 bucket accepts (a Boolean Series), from an empty bucket (excess 0)
    last used at `start_after` (None: a new key). `t`: the key's request times, never decreasing.

    With burst 0 an accepted request always leaves excess 0, so a request passes exactly when at
    least m0 = ceil(1000000 / rate) ms have passed since the last accepted one. A request at least
    m0 after the one before it is accepted whatever happened in between; only the others need the
    last accepted time. Whichever is fewer: walk those, or walk the chain of accepted requests (each
    one's successor is the first request m0 ms later, found for all at once by binary search)."""
    import polars as pl

    m0 = -(-1_000_000 // rate)
    n = t.len()
    gap = t.diff()
    if start_after is not None:
        gap[0] = int(t[0]) - start_after
    unsure = (gap < m0).fill_null(False).arg_true()         # fill: a new key's first request passes
    longest = (int(t[-1]) - (start_after if start_after is not None else int(t[0]))) // m0 + 1
    if unsure.len() <= longest:
        positions = unsure.to_list()
        times = t.gather(unsure).to_list()
        before = t.gather((unsure.cast(pl.Int64) - 1).clip(0)).to_list()
        refused = []
        last = start_after
        after = -2                                           # the unsure position handled last
        for i, now, previous in zip(positions, times, before):
            if i - 1 != after and i > 0:                     # the request before was sure: accepted
                last = previous
            if now - last >= m0:
                last = now
            else:
                refused.append(i)
            after = i
        accepted = pl.repeat(True, n, dtype=pl.Boolean, eager=True)
        return accepted.scatter(pl.Series(refused, dtype=pl.Int64), False) if refused else accepted
    i = int(t.search_sorted(start_after + m0, side="left")) if start_after is not None else 0
    successor = t.search_sorted(t + m0, side="left").to_list()
    at = []
    while i < n:
        at.append(i)
        i = successor[i]
    accepted = pl.repeat(False, n, dtype=pl.Boolean, eager=True)
    return accepted.scatter(pl.Series(at, dtype=pl.Int64), True) if at else accepted


def _single_key_chains(frame, nodes: Nodes, zones: Zones):
    """Zones of `frame` (zone-major events, request order within a zone) with a single key in this
    batch (OFF's global buckets), every limit line there of burst 0, an empty stored bucket and a
    clock that never goes back: such a bucket is exactly its accepted-request chain (`_chain`), no
    Lindley bound needed. Returns (per row: chained, [(the key's rows, accepted: Boolean Series)])."""
    import polars as pl

    mask, chains = [], []
    zone = frame["zi"].rle_id()
    bounds = (zone != zone.shift(1, fill_value=-1)).arg_true().to_list() + [frame.height]
    for begin, end in zip(bounds, bounds[1:]):
        part = frame.slice(begin, end - begin)
        node, t = part["node"], part["t"]
        ok = (node.min() == node.max() and int(part["burst"].max()) == 0
              and (part.height == 1 or bool((part["row"].diff().slice(1) > 0).all()
                                            and (t.diff().slice(1) >= 0).all())))
        if ok:
            state = nodes.states(node.head(1), zones)
            known = bool(state["known"][0])
            ok = not known or (int(state["e0"][0]) == 0 and int(t[0]) >= int(state["t0"][0]))
        if ok:
            chains.append((part, _chain(t, int(part["rate"][0]), int(state["t0"][0]) if known else None)))
        mask.append(pl.repeat(bool(ok), part.height, dtype=pl.Boolean, eager=True))
    return (pl.concat(mask) if mask else pl.Series([], dtype=pl.Boolean)), chains


def _segments(node):
    """(segment id per row, Boolean Series: the row starts a segment) of a node column sorted by node."""
    seg = node.rle_id()
    return seg, seg != seg.shift(1, fill_value=-1)


def _any_per_segment(flag, seg, count: int):
    """Per row: does any row of its segment have `flag` (without a window's hash grouping)."""
    import polars as pl

    hit = pl.repeat(False, count, dtype=pl.Boolean, eager=True).scatter(seg.filter(flag), True) \
        if flag.any() else pl.repeat(False, count, dtype=pl.Boolean, eager=True)
    return hit.gather(seg)


def _cum_per_segment(x, seg, starts):
    """(running sum of `x` within each segment, running minimum of that sum within the segment), for
    rows grouped by segment. Global cumulative operations with each segment shifted below all the
    earlier ones, so a running minimum restarts at each segment; a window grouping when the shift
    could overflow Int64."""
    import polars as pl

    total = x.cum_sum()
    sums = total - (total - x).filter(starts).gather(seg)
    count = int(seg[-1]) + 1 if seg.len() else 0
    reach = int(sums.abs().max() or 0)
    step = 2 * reach + 2
    if count * step + reach < (1 << 62):
        offset = seg.cast(pl.Int64) * step
        return sums, (sums - offset).cum_min() + offset
    frame = pl.DataFrame({"s": sums, "g": seg})
    return sums, frame.select(pl.col("s").cum_min().over("g")).to_series()


def _lindley(frame, nodes: Nodes, zones: Zones):
    """Every key's excess after each of its requests if all were accounted (Lindley's closed form),
    starting from the zone state, on `frame` sorted by node then row: adds columns e0, t0, known
    (the stored state), first, dt, W (excess), delayed, and per key `bad` (some request over the
    burst, or the clock going backwards) and `delays` (some request delayed)."""
    import polars as pl

    seg, starts = _segments(frame["node"])
    state = nodes.states(frame["node"].filter(starts), zones)
    frame = frame.with_columns(*[state[c].gather(seg) for c in ("e0", "t0", "known")])
    frame = _excess(frame, seg, starts)
    count = int(seg[-1]) + 1
    delayed = (pl.col("W") > pl.col("delay")) & ((pl.col("W") - pl.col("delay")) * 1000 // pl.col("rate") > 0)
    frame = frame.with_columns(delayed.alias("delayed"))
    flags = frame.select((pl.col("W") > pl.col("burst")) | (pl.col("dt") < 0), "delayed")
    return frame.with_columns(_any_per_segment(flags.to_series(0), seg, count).alias("bad"),
                              _any_per_segment(flags.to_series(1), seg, count).alias("delays"))


def _excess(frame, seg=None, starts=None):
    """Adds first, dt and W (Lindley's excess after each request, all accounted) to `frame`: rows
    sorted by node then row, with each key's stored state in columns e0, t0, known."""
    import polars as pl

    if seg is None:
        seg, starts = _segments(frame["node"])
    fresh = starts & ~frame["known"]    # a new key's first request: excess 0 whatever the clock
    frame = frame.with_columns(starts.alias("first"))
    frame = frame.with_columns(
        (pl.col("t") - pl.when(pl.lit(fresh)).then(pl.col("t")).when(pl.col("first")).then(pl.col("t0"))
         .otherwise(pl.col("t").shift(1))).alias("dt"))
    # Lindley's recurrence W = max(0, W + x) only resets below -W, and W <= e0 + 1000 * requests: a
    # lower clamp there gives the same W while keeping sums far from overflow.
    floor = -(int(frame["e0"].max() or 0) + 1000 * (frame.height + 1))
    x = frame.select(pl.when(pl.lit(fresh)).then(pl.lit(0, dtype=pl.Int64)).otherwise(
        pl.max_horizontal(1000 - pl.col("rate") * pl.col("dt") // 1000, pl.lit(floor)))).to_series()
    sums, low = _cum_per_segment(x, seg, starts)
    return frame.with_columns((sums - pl.min_horizontal(-frame["e0"], low)).alias("W"))


def _last_states(frame):
    """Each node's excess and time after its last request of `frame` (sorted by node, row)."""
    import polars as pl

    return frame.filter(pl.col("node") != pl.col("node").shift(-1, fill_value=-1)).select("node", "W", "t")


def _solo_buckets(frame, nodes: Nodes, zones: Zones, results: dict, rejected: list) -> None:
    """limit_req.check for one limit, inlined, key by key (same arithmetic, same clamps)."""
    import polars as pl

    from proxygen.simulate.limit_req import DELAYED, REJECTED

    grouped = nodes.keys_of(frame.sort("row").group_by("node")
                            .agg(pl.col("row"), pl.col("t"), pl.col("rate").first(), pl.col("burst"), pl.col("delay")))
    # burst and delay are per request: one zone can have different limit_req lines in each location
    for name in grouped["zone"].unique().to_list():
        zones.pull(name, grouped.filter(pl.col("zone") == name)["key"])
    for zone, key, rows, ts, rate, bursts, delays in grouped.select(
            "zone", "key", "row", "t", "rate", "burst", "delay").iter_rows():
        table = zones.table(zone)
        node = table.get(key)
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
        table[key] = [excess, last]


def _zero_burst_keys(frame, nodes: Nodes, zones: Zones, rejected: list):
    """Keys whose every limit line has burst 0, an empty stored bucket and a clock that never goes
    back, replayed as accepted-request chains (`_chain`).
    Appends the rejected rows (a Series per key) to `rejected`; returns (hits frames, the events it
    did not handle)."""
    import polars as pl

    from proxygen.simulate.limit_req import REJECTED

    # `frame`: whole keys of _lindley's output (sorted by node, row; its e0, t0, known and dt columns).
    # A key with few requests is cheaper in the loop than in a dozen vector operations.
    seg, starts = _segments(frame["node"])
    count = int(seg[-1]) + 1
    first = starts.arg_true()
    sizes = pl.concat([first.slice(1), pl.Series([frame.height], dtype=first.dtype)]) - first
    unfit = frame.select((pl.col("burst") != 0) | (pl.col("e0") != 0) | (pl.col("dt") < 0)).to_series()
    ok = ~_any_per_segment(unfit, seg, count) & (sizes > 256).gather(seg)
    rest = frame.filter(~ok).select("row", "t", "slot", "zi", "node", "rate", "burst", "delay")
    fast = frame.filter(ok).select("row", "t", "zi", "node", "rate", "t0", "known")
    hits = []
    bounds = _segments(fast["node"])[1].arg_true().to_list() + [fast.height]
    for begin, end in zip(bounds, bounds[1:]):        # one key at a time (few: the global buckets)
        sub = fast.slice(begin, end - begin)
        t = sub["t"]
        n = t.len()
        accepted = _chain(t, int(sub["rate"][0]), int(sub["t0"][0]) if sub["known"][0] else None)
        refused = sub.filter(~accepted)
        if refused.height:
            hits.append(refused.select("row", pl.lit(REJECTED).alias("status"),
                                       pl.lit(nodes.names[sub["zi"][0]]).alias("zone")))
            rejected.append(refused["row"])
        if accepted.any():
            nodes.store(pl.DataFrame({"node": [sub["node"][0]], "W": [0], "t": [t.filter(accepted)[-1]]}), zones)
    return hits, rest


def replay(sim, df, events, nodes: Nodes):
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
    times = df["t"]
    backwards = int(max(0, (times.cum_max() - times).max() or 0, (sim._max_t or 0) - (times.min() or 0)))
    sim._max_t = max(sim._max_t or 0, times.max() or 0)
    unsafe = {lim.zone for lim in sim._bl_limits if not eviction_safe(lim, backwards)}
    for _, limits, _ in [sim._server_block, *sim._locations]:
        unsafe |= {lim.zone for lim in limits if not eviction_safe(lim, backwards)}
    unsafe_zi = [nodes.index[z] for z in unsafe if z in nodes.index]

    is_unsafe = pl.col("zi").is_in(unsafe_zi)
    safe = events.filter(~is_unsafe) if unsafe_zi else events
    unsafe_events = events.filter(is_unsafe) if unsafe_zi else events.clear()
    calm, chained = [], []                          # single-key burst-0 buckets: (rows, accepted)
    if safe.height:
        mask, chains = _single_key_chains(safe, nodes, zones)
        if chains:
            safe = safe.filter(~mask)
            for part, accepted in chains:
                (calm if accepted.all() else chained).append((part, accepted))
    bound = _lindley(_by_node(safe), nodes, zones) if safe.height else None
    inert = ~pl.col("bad") & ~pl.col("delays")      # constant over a key's rows
    # a chain that accepts every request is inert too
    active = pl.concat([unsafe_events, *([bound.filter(~inert).select(events.columns)] if bound is not None else []),
                        *[part.select(events.columns) for part, _ in chained]])

    # Non-inert keys linked by one request are replayed together.
    ordered = active["row"].sort()
    shared = ordered.filter(ordered == ordered.shift(1))  # requests with two or more non-inert keys
    coupled = active.filter(pl.col("row").is_in(shared.implode())) if shared.len() else active.clear()
    slow_nodes: list = []
    slow_set: set = set()
    if coupled.height:
        parent: dict = {}

        def find(x):
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for linked in coupled.group_by("row").agg(pl.col("node"))["node"].to_list():
            first = find(linked[0])
            for n in linked[1:]:
                parent[find(n)] = first
        slow_nodes = list(parent)
    slow_set = set(slow_nodes)
    in_slow = pl.col("node").is_in(pl.Series(slow_nodes, dtype=pl.Int64).implode())

    results: dict[int, tuple] = {}
    vector_hits = None
    rejected: list[int] = []
    rejected_runs: list = []                        # Series of rejected rows (the burst-0 chains)
    zero_hits = []
    slow = unsafe_events
    for part, accepted in chained:
        if part["node"][0] in slow_set:
            slow = pl.concat([slow, part.select(events.columns)])
            continue
        refused = part.filter(~accepted)
        zero_hits.append(refused.select("row", pl.lit(REJECTED).alias("status"),
                                        pl.lit(nodes.names[int(part["zi"][0])]).alias("zone")))
        rejected_runs.append(refused["row"])
        nodes.store(part.filter(accepted).tail(1).select("node", pl.lit(0, dtype=pl.Int64).alias("W"), "t"), zones)
    if bound is not None:
        # exact from step 1: within the burst everywhere, delaying somewhere, not coupled
        candidates = bound.filter(~pl.col("bad") & pl.col("delays") & ~in_slow)
        names = pl.Series(nodes.names, dtype=pl.Utf8)
        vector_hits = candidates.filter(pl.col("delayed")).select("row", "zi")
        vector_hits = vector_hits.select("row", pl.lit(DELAYED).alias("status"),
                                         names.gather(vector_hits["zi"]).alias("zone"))
        nodes.store(_last_states(candidates), zones)
        # A key alone on its requests (others inert) in a safe zone is a single leaky bucket: a tight loop.
        solo = bound.filter(pl.col("bad") & ~in_slow)
        if solo.height:
            more_hits, loop = _zero_burst_keys(solo, nodes, zones, rejected_runs)
            zero_hits += more_hits
            if loop.height:
                _solo_buckets(loop, nodes, zones, results, rejected)
        if slow_nodes:
            slow = pl.concat([slow, bound.filter(~inert & in_slow).select(events.columns)])
    # Everything else: one request at a time, in arrival order.
    if slow.height:
        loc_of = df["loc"]
        slow = nodes.keys_of(slow)
        for name in slow["zone"].unique().to_list():
            if name in unsafe:
                zones.zone(name)            # eviction looks at the whole zone: every node joins it
            else:
                zones.pull(name, slow.filter(pl.col("zone") == name)["key"].unique())
        for row, slots, keys, t in (slow.sort("row", "slot").group_by("row", maintain_order=True)
                                    .agg(pl.col("slot"), pl.col("key"), pl.col("t").first()).iter_rows()):
            loc = loc_of[row]
            limits = sim.limits_at(loc)
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
    row_type = events["row"].dtype
    gone = pl.concat([pl.Series(rejected, dtype=row_type), *[r.cast(row_type) for r in rejected_runs]])
    for part, _ in calm:
        # a chain that accepts every request still does without those other zones rejected (longer
        # gaps): it ends empty at its last accounted request
        accounted = part.filter(~pl.col("row").is_in(gone.implode())) if gone.len() else part
        nodes.store(accounted.tail(1).select("node", pl.lit(0, dtype=pl.Int64).alias("W"), "t"), zones)
    if bound is not None:
        touched = pl.Series([], dtype=pl.Int64)
        if gone.len():
            touched = bound.filter(inert & pl.col("row").is_in(gone.implode()))["node"].unique()
        is_touched = pl.col("node").is_in(touched.implode())
        last = pl.col("node") != pl.col("node").shift(-1, fill_value=-1)
        nodes.store(bound.filter(inert & last & ~is_touched), zones)
        if touched.len():
            # still sorted by node, row, with the states these keys had before the batch
            accounted = (bound.filter(is_touched & ~pl.col("row").is_in(gone.implode()))
                         .select(*events.columns, "e0", "t0", "known"))
            if accounted.height:
                nodes.store(_last_states(_excess(accounted)), zones)
    frames = ([] if vector_hits is None else [vector_hits]) + zero_hits
    if results:
        rows = list(results)
        frames.append(pl.DataFrame({"row": pl.Series(rows, dtype=events["row"].dtype),
                                    "status": [results[r][0] for r in rows], "zone": [results[r][1] for r in rows]},
                                   schema={"row": events["row"].dtype, "status": pl.Utf8, "zone": pl.Utf8}))
    if not frames:
        return None
    return pl.concat([f.cast({"row": events["row"].dtype, "status": pl.Utf8, "zone": pl.Utf8}) for f in frames])
