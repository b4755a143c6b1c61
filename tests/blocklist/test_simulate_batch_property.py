"""The batch replay's shortcuts give exactly the answers of one-request-at-a-time replay, for any
request sequence: property tests over random traffic (single-key burst-0 buckets replayed as
accepted-request chains, chains coupled with per-client buckets, the Lindley bound with segment-wise
cumulative operations, clocks going back, state carried across batches), and the helpers' fallbacks
(hash collisions, out-of-order seconds, sums too large for the shifted running minimum)."""

import random
from datetime import datetime, timezone

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxygen.blocklist.render import render_data
from proxygen.blocklist.store import load_blocklists
from proxygen.simulate import batch, engine
from proxygen.simulate.engine import (OUTCOMES, LimitSpec, LocationLimits, Simulator, SiteLimits, ZoneSpec,
                                      _contexts, _spread_seconds)
from proxygen.simulate.rules import BlocklistRules
from throttles import throttle_blocklist

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)
T0 = int(NOW.timestamp() * 1000)
BLOCKLIST = throttle_blocklist({"crawl": "{rate: 60r/m, burst: 2}",
                                "net": "{rate: 120r/m, burst: 0, nodelay: true, per: rule}"},
                               {"10.0.0.0/30": "crawl", "10.0.1.0/30": "net"})
# Global (single-key) buckets of burst 0 at several rates, per-client buckets with a burst, with
# nodelay and with delays, a location combining a global and a per-client bucket (coupling), one
# zone with burst 0 in one location and a burst in another (no chain for it), a dry-run location.
SITE = SiteLimits("s", zones={
    "glob": ZoneSpec("glob", 1_000_000, "all"),          # 60000r/m: 1 ms apart
    "search": ZoneSpec("search", 10_000, "all"),         # 600r/m: 100 ms apart
    "odd": ZoneSpec("odd", 3_000, "all"),                # 180r/m: 334 ms apart (rounded up)
    "ip": ZoneSpec("ip", 1_000, "$binary_remote_addr"),  # 60r/m
    "slowip": ZoneSpec("slowip", 250, "$binary_remote_addr"),
}, locations=[
    LocationLimits("/search", (LimitSpec("search", 0, True),), False, 503),
    LocationLimits("/product", (LimitSpec("glob", 0, True),), False, 503),
    LocationLimits("/facets", (LimitSpec("ip", 3, True), LimitSpec("glob", 0, True)), False, 503),
    LocationLimits("/odd", (LimitSpec("odd", 0, True),), False, 503),
    LocationLimits("/mixed", (LimitSpec("odd", 2, True),), False, 503),
    LocationLimits("/delay", (LimitSpec("slowip", 4, False, 2),), False, 429),
    LocationLimits("/dry", (LimitSpec("ip", 1),), True, 429),
    LocationLimits("/", (LimitSpec("ip", 5, True),), False, 429),
])
PATHS = ["/search", "/product/1", "/facets/x", "/odd", "/mixed", "/delay", "/dry", "/", "/health"]
IPS = [f"10.0.0.{i}" for i in range(3)] + [f"10.0.1.{i}" for i in range(2)] + [f"192.0.2.{i}" for i in range(6)]


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    directory = tmp_path_factory.mktemp("blocklists")
    (directory / "manual.yml").write_text(BLOCKLIST)
    return BlocklistRules(render_data(load_blocklists(directory), None, NOW))


request = st.tuples(
    st.sampled_from([0, 0, 1, 1, 2, 3, 50, 99, 100, 101, 333, 334, 335, 1000, 4000, 61_000,
                     -1, -500, -70_000]),            # gap before the request (ms; negative: clock back)
    st.sampled_from(IPS), st.sampled_from(["Mozilla", "curl"]),
    st.lists(st.sampled_from(PATHS), min_size=1, max_size=1).map(lambda p: p[0]))


def _states(sim, zone):
    """A zone's nodes, without the [0, 0] nodes nginx leaves for an earlier limit of a rejected
    request (the batch replay does not create them; they behave as a missing node)."""
    return {k: v for k, v in sim.zones.zone(zone).items() if v != [0, 0]}


def _run(rules, traffic, cuts, only=None):
    """(per-client outcomes and zone states one request at a time, the same from batches)."""
    t, rows = T0, []
    for gap, ip, ua, path in traffic:
        if only is not None:
            path = only
        t += gap
        rows.append((t, ip, ua, path))
    single = Simulator(rules, SITE)
    expected: dict[str, dict[str, int]] = {}
    for when, ip, ua, path in rows:
        expected.setdefault(ip, {k: 0 for k in OUTCOMES})[single.request(when, ip, ua, path).kind] += 1
    bounds = sorted({0, len(rows), *[c % (len(rows) + 1) for c in cuts]})
    frames = [pl.DataFrame({
        "client_ip": [r[1] for r in part], "user_agent": [r[2] for r in part], "path": [r[3] for r in part],
        "time": pl.Series([datetime.fromtimestamp(r[0] / 1000, tz=timezone.utc) for r in part],
                          dtype=pl.Datetime("us", "UTC"))})
        for part in (rows[a:b] for a, b in zip(bounds, bounds[1:])) if part]
    sim = Simulator(rules, SITE)
    sim.batch_rows = 1                      # every given frame is replayed as its own batch
    with pytest.MonkeyPatch.context() as patch:
        # these times are exact milliseconds: a batch whose times happen to be whole seconds must not
        # be spread as a log's would be (spreading has its own test below)
        patch.setattr(engine, "_spread_seconds", lambda t: t)
        report = sim.run(frames)
    return expected, single, {c.ip: c.counts for c in report.clients()}, sim


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(traffic=st.lists(request, min_size=1, max_size=160), cuts=st.lists(st.integers(0, 400), max_size=3))
def test_batches_equal_request_by_request(rules, traffic, cuts):
    # the zones' final states can differ by nodes nginx would evict, which behave as missing ones:
    # every later request's outcome (across batches) is what checks the carried state
    expected, single, got, sim = _run(rules, traffic, cuts)
    assert got == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(traffic=st.lists(request, min_size=1, max_size=200), cuts=st.lists(st.integers(0, 400), max_size=3),
       path=st.sampled_from(["/product/1", "/search", "/odd", "/facets/x"]))
def test_global_bucket_chains_equal_request_by_request(rules, traffic, cuts, path):
    """Every request to one location: a single global key per batch (a chain that may accept every
    request, or reject some, alone or beside a per-client bucket)."""
    expected, single, got, sim = _run(rules, traffic, cuts, only=path)
    assert got == expected
    for zone in ("glob", "search", "odd"):            # one key each: never evicted
        assert _states(sim, zone) == _states(single, zone), zone


def test_chains_are_taken_and_exact_on_busy_global_traffic(rules, monkeypatch):
    """Traffic where the global buckets both accept everything (a quiet minute) and reject (a burst):
    the chain shortcut runs, and the answers still equal request-by-request replay."""
    taken = []
    real = batch._single_key_chains

    def spy(frame, nodes, zones):
        mask, chains = real(frame, nodes, zones)
        taken.extend(bool(accepted.all()) for _, accepted in chains)
        return mask, chains

    monkeypatch.setattr(batch, "_single_key_chains", spy)
    rng = random.Random(4)
    traffic = [(rng.choice([500, 1200]), rng.choice(IPS), "Mozilla", rng.choice(["/product/1", "/search"]))
               for _ in range(300)]
    traffic += [(rng.choice([0, 1, 2]), rng.choice(IPS), "curl", rng.choice(["/product/1", "/search", "/facets/x"]))
                for _ in range(600)]
    expected, single, got, sim = _run(rules, traffic, [300, 700])
    assert got == expected
    assert True in taken and False in taken          # chains that accepted all, and chains that rejected
    assert sum(c["throttled"] for c in got.values()) > 100


def test_contexts_fall_back_to_exact_codes_on_a_hash_collision(monkeypatch):
    real_codes = engine._combined_codes
    rng = random.Random(2)
    df = pl.DataFrame({c: [f"{c}{rng.randrange(40)}" for _ in range(2000)] for c in ("a", "b", "c")})
    reference = {}
    want = [reference.setdefault(row, len(reference)) for row in df.iter_rows()]
    ctx, firsts = _contexts(df, ("a", "b", "c"))
    assert ctx.to_list() == want and firsts.len() == len(reference)
    # every value hashing alike: grouped by hash, every row would share one context
    monkeypatch.setattr(pl.Expr, "hash", lambda self, *a, **k: (self.str.len_bytes() * 0).cast(pl.UInt64))
    monkeypatch.setattr(pl.Series, "hash", lambda self, *a, **k: pl.repeat(7, self.len(), dtype=pl.UInt64,
                                                                              eager=True))
    fallback = []
    monkeypatch.setattr(engine, "_combined_codes", lambda *a: fallback.append(1) or real_codes(*a))
    ctx, firsts = _contexts(df, ("a", "b", "c"))
    assert fallback
    codes = ctx.to_list()
    assert len(set(codes)) == len(reference)
    rows = list(df.iter_rows())
    assert all(rows[firsts[c]] == row for c, row in zip(codes, rows))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 4)), min_size=1, max_size=60), st.booleans())
def test_spread_seconds_equals_the_windowed_formula(seconds, shuffle):
    times = [T0 + 1000 * s for s, n in seconds for _ in range(n)]
    if shuffle:
        random.Random(len(times)).shuffle(times)
    t = pl.Series(times, dtype=pl.Int64)
    want = pl.DataFrame({"t": t}).select(
        pl.col("t") + pl.int_range(pl.len()).over("t") * 1000 // pl.len().over("t")).to_series()
    assert _spread_seconds(t).to_list() == want.to_list()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(-10**12, 10**3), min_size=1, max_size=8), min_size=1, max_size=12))
def test_segment_running_sums_and_minima(segments):
    """Both the shifted global running minimum and its windowed fallback (huge sums) per segment."""
    x = pl.Series([v for seg in segments for v in seg], dtype=pl.Int64)
    seg = pl.Series([i for i, s in enumerate(segments) for _ in s], dtype=pl.UInt32)
    starts = seg != seg.shift(1, fill_value=-1)
    sums, low = batch._cum_per_segment(x, seg, starts)
    want_s, want_m = [], []
    for s in segments:
        total, least = 0, None
        for v in s:
            total += v
            least = total if least is None else min(least, total)
            want_s.append(total)
            want_m.append(least)
    assert sums.to_list() == want_s and low.to_list() == want_m


def test_by_node_sorts_only_what_is_out_of_order():
    frame = pl.DataFrame({"row": [0, 2, 4, 1, 0, 3, 2], "zi": [0, 0, 0, 1, 1, 1, 1],
                          "node": [5, 5, 5, (1 << 32) + 9, (1 << 32) + 3, (1 << 32) + 3, (1 << 32) + 9]})
    out = batch._by_node(frame)
    assert out.select("node", "row").rows() == sorted(frame.select("node", "row").rows())
    huge = frame.with_columns(pl.col("node") + (1 << 61))      # node and row do not fit one Int64 key
    assert batch._by_node(huge).select("node", "row").rows() == sorted(huge.select("node", "row").rows())


def test_replay_restores_the_cycle_collector(rules):
    import gc

    frame = pl.DataFrame({"client_ip": ["192.0.2.1"], "user_agent": ["curl"], "path": ["/"],
                          "time": pl.Series([NOW], dtype=pl.Datetime("us", "UTC"))})
    assert gc.isenabled()
    Simulator(rules, SITE).run([frame])
    assert gc.isenabled()

    def broken():
        yield frame
        raise OSError("log unreadable")

    with pytest.raises(OSError):
        Simulator(rules, SITE).run(broken())
    assert gc.isenabled()
    gc.disable()
    try:
        Simulator(rules, SITE).run([frame])
        assert not gc.isenabled()           # left as the caller had it
    finally:
        gc.enable()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(traffic=st.lists(request, min_size=2, max_size=120), split=st.integers(1, 119))
def test_requests_after_a_batch_replay_see_its_state(rules, traffic, split):
    """Bucket states a batch replay leaves (kept as frames until read) are what request-by-request
    replay continues from."""
    split = min(split, len(traffic) - 1)
    t, rows = T0, []
    for gap, ip, ua, path in traffic:
        t += gap
        rows.append((t, ip, ua, path))
    single = Simulator(rules, SITE)
    want = [single.request(*row).kind for row in rows]
    mixed = Simulator(rules, SITE)
    head = rows[:split]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "_spread_seconds", lambda t: t)
        report = mixed.run([pl.DataFrame({
            "client_ip": [r[1] for r in head], "user_agent": [r[2] for r in head], "path": [r[3] for r in head],
            "time": pl.Series([datetime.fromtimestamp(r[0] / 1000, tz=timezone.utc) for r in head],
                              dtype=pl.Datetime("us", "UTC"))})])
    expected: dict[str, dict[str, int]] = {}
    for (_, ip, _, _), kind in zip(head, want):
        expected.setdefault(ip, {k: 0 for k in OUTCOMES})[kind] += 1
    assert {c.ip: c.counts for c in report.clients()} == expected
    assert [mixed.request(*row).kind for row in rows[split:]] == want[split:]


def test_deferred_nodes_are_newer_than_the_dictionary_and_join_it_when_read():
    from proxygen.simulate.limit_req import Zones

    zones = Zones()
    zones.table("z").update({"a": [1, 1], "b": [2, 2]})
    zones.defer("z", pl.DataFrame({"key": ["b", "c"], "excess": [20, 30], "last": [21, 31]}))
    zones.defer("z", pl.DataFrame({"key": ["c", "d"], "excess": [300, 400], "last": [301, 401]}))
    zones.pull("z", pl.Series(["c"]))
    assert zones.table("z")["c"] == [300, 301] and "d" not in zones.table("z")
    assert dict(zones.zone("z")) == {"a": [1, 1], "b": [20, 21], "c": [300, 301], "d": [400, 401]}
    assert not zones.deferred.get("z", pl.DataFrame()).height


def test_collateral_reasons_for_many_clients_equal_the_per_client_reason(rules):
    """The reasons worked out per user agent, with allowlisted networks searched only for addresses
    inside one, are the per-client legit_reason: the first listed network (not the most specific),
    user agents allowlisted alone or only from given networks, browsers by rate."""
    from proxygen.model.allowlists import Allowlists
    from proxygen.simulate.report import legit_reason

    allow = Allowlists.model_validate({
        "networks": [{"cidr": "192.0.2.0/24", "reason": "outer"}, {"cidr": "192.0.2.0/28", "reason": "inner"}],
        "user_agents": [{"pattern": "PartnerApp", "reason": "app"},
                        {"pattern": "Mozilla", "reason": "office", "networks": ["192.0.2.0/30"]}]})
    uas = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0", "PartnerApp/2", "curl/8", "Mozilla"]
    rng = random.Random(6)
    rows, t = [], T0
    for _ in range(400):
        t += rng.choice([0, 1, 5, 900])
        rows.append((t, rng.choice(IPS), rng.choice(uas), rng.choice(["/facets/x", "/", "/search"])))
    frame = pl.DataFrame({"client_ip": [r[1] for r in rows], "user_agent": [r[2] for r in rows],
                          "path": [r[3] for r in rows],
                          "time": pl.Series([datetime.fromtimestamp(r[0] / 1000, tz=timezone.utc) for r in rows],
                                            dtype=pl.Datetime("us", "UTC"))})
    report = Simulator(rules, SITE).run([frame])
    many = [(c.client.ip, c.why) for c in report.collateral(allowlists=allow, browser_max_per_minute=1000)]
    one = [(row.ip, why) for row in report.clients(only_hit=True)
           if (why := legit_reason(row, allow, None, 1000))]
    assert many == one
    reasons = {why.split(" (")[0] for _, why in many}
    assert any(w.startswith("allowlisted network 192.0.2.0/24") for w in reasons), reasons
    assert not any("192.0.2.0/28" in w for w in reasons)
