"""The batch replay's shortcuts (burst-0 keys as accepted-request chains, per-context rule evaluation,
a log second split over two batches) give exactly the answers of one-request-at-a-time replay."""

import random
from datetime import datetime, timezone

import polars as pl
import pytest

from proxygen.blocklist.render import render_data
from proxygen.blocklist.store import load_blocklists
from proxygen.simulate.engine import OUTCOMES, LimitSpec, LocationLimits, Simulator, SiteLimits, ZoneSpec
from proxygen.simulate.rules import BlocklistRules
from throttles import throttle_blocklist

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)
T0 = int(NOW.timestamp() * 1000)
BLOCKLIST = throttle_blocklist({"crawl": "{rate: 30r/m, burst: 0, nodelay: true}"}, {"10.0.0.0/29": "crawl"})
# OFF's shape: global zones with burst 0 (one bucket for everyone), per-IP zones with a burst, and a
# location combining both.
SITE = SiteLimits("s", zones={
    "glob": ZoneSpec("glob", 1_000_000, "all"),                 # 60000r/m: 1 ms apart
    "search": ZoneSpec("search", 10_000, "all"),                # 600r/m: 100 ms apart
    "ip": ZoneSpec("ip", 250, "$binary_remote_addr"),           # 15r/m
    "odd": ZoneSpec("odd", 3_000, "all"),                       # 180r/m: m0 = 334 ms (rounded up)
}, locations=[
    LocationLimits("/search", (LimitSpec("search", 0, True),), False, 503),
    LocationLimits("/product", (LimitSpec("glob", 0, True),), False, 503),
    LocationLimits("/facets", (LimitSpec("ip", 3, True), LimitSpec("glob", 0, True)), False, 503),
    LocationLimits("/odd", (LimitSpec("odd", 0, True),), False, 503),
    LocationLimits("/mixed", (LimitSpec("odd", 2, True),), False, 503),   # same zone, another burst
    LocationLimits("/", (LimitSpec("ip", 10, True),), False, 429),
])
# Uncoupled: each global bucket alone on its requests (the chains); coupled: a request can meet a
# global bucket and a busy per-client one (replayed one request at a time), and a zone has another burst
# in another location (no chain for it).
UNCOUPLED = ["/search", "/product/1", "/odd", "/"]
COUPLED = ["/search", "/product/1", "/facets/x", "/odd", "/mixed", "/"]


def _rules(tmp_path):
    (tmp_path / "manual.yml").write_text(BLOCKLIST)
    return BlocklistRules(render_data(load_blocklists(tmp_path), None, NOW))


def _traffic(seed, n, whole_seconds, backwards=False, coupled=True):
    rng = random.Random(seed)
    ips = [f"10.0.0.{i}" for i in range(6)] + [f"192.0.2.{i}" for i in range(30)]
    t = T0
    rows = []
    for _ in range(n):
        t += rng.choice([0, 0, 1, 1, 2, 5, 30, 90, 100, 101, 333, 334, 700, 2500])
        if backwards and rng.random() < 0.005:
            t -= rng.choice([3, 500, 70_000])
        ip = rng.choice(ips)
        paths = COUPLED if coupled else ["/"] if ip.startswith("10.") else UNCOUPLED
        rows.append((t - t % 1000 if whole_seconds else t, ip, rng.choice(["Mozilla", "curl"]), rng.choice(paths)))
    return rows


def _frames(rows, parts):
    size = -(-len(rows) // parts)
    return [pl.DataFrame({
        "client_ip": [r[1] for r in part], "user_agent": [r[2] for r in part], "path": [r[3] for r in part],
        "time": [datetime.fromtimestamp(r[0] / 1000, tz=timezone.utc) for r in part]})
        for part in (rows[i:i + size] for i in range(0, len(rows), size))]


def _one_by_one(rules, rows):
    sim = Simulator(rules, SITE)
    expected: dict[str, dict[str, int]] = {}
    for t, ip, ua, path in rows:
        expected.setdefault(ip, {k: 0 for k in OUTCOMES})[sim.request(t, ip, ua, path).kind] += 1
    return expected, sim


@pytest.mark.parametrize("seed, backwards, coupled", [(1, False, False), (2, False, False), (3, True, False),
                                                      (4, False, True), (5, True, True)])
def test_burst_zero_buckets_equal_request_by_request(tmp_path, seed, backwards, coupled):
    rules = _rules(tmp_path)
    rows = _traffic(seed, 4000, whole_seconds=False, backwards=backwards, coupled=coupled)
    expected, single = _one_by_one(rules, rows)
    sim = Simulator(rules, SITE)
    sim.batch_rows = 900                        # several batches: every bucket's state carries over
    report = sim.run(_frames(rows, 5))
    assert {c.ip: c.counts for c in report.clients()} == expected
    assert report.totals["throttled"] > 500 and report.totals["allowed"] > 500
    # and the buckets end where one-by-one replay leaves them
    for zone in ("glob", "search", "odd", "blocklist:crawl"):
        assert dict(sim.zones.zone(zone)) == dict(single.zones.zone(zone)), zone


def test_a_log_second_split_over_batches_is_spread_once(tmp_path):
    """Log lines have whole seconds; each second's requests are spread over it in log order, the
    same whether the second falls inside one batch or across two."""
    rules = _rules(tmp_path)
    rows = _traffic(5, 3000, whole_seconds=True)
    whole = Simulator(rules, SITE).run(_frames(rows, 1))
    small = Simulator(rules, SITE)
    small.batch_rows = 250
    split = small.run(_frames(rows, 12))
    assert {c.ip: c.counts for c in split.clients()} == {c.ip: c.counts for c in whole.clients()}
    assert whole.totals["throttled"] > 100



def test_request_contexts_are_equal_exactly_when_their_columns_are():
    from proxygen.simulate.engine import _combined_codes

    rng = random.Random(9)
    # six columns of ~2,000 distinct values each: the product overflows 64 bits, so codes are re-ranked
    rows = [[f"v{rng.randrange(2000)}" for _ in range(6)] for _ in range(4000)]
    rows += rows[:500]                                         # exact repeats
    rows += [r[:5] + [r[5] + "x"] for r in rows[:200]]         # differ in the last column only
    df = pl.DataFrame({f"c{i}": [r[i] for r in rows] for i in range(6)})
    codes = _combined_codes(df, [f"c{i}" for i in range(6)]).to_list()
    by_code, by_row = {}, {}
    for code, row in zip(codes, map(tuple, rows)):
        assert by_code.setdefault(code, row) == row
        assert by_row.setdefault(row, code) == code
