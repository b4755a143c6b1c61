"""The vectorised batch replay gives exactly the answers of one-request-at-a-time replay, on random
traffic mixing blocklist throttles, site zones shared by several limits, rejections, delays, dry runs,
zones whose idle-node eviction matters, and a clock that sometimes goes backwards."""

import random
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from proxygen.blocklist.render import render_data
from proxygen.blocklist.store import load_blocklists
from proxygen.simulate.engine import OUTCOMES, LimitSpec, LocationLimits, Simulator, SiteLimits, ZoneSpec
from proxygen.simulate.rules import BlocklistRules
from throttles import throttle_blocklist

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)
BLOCKLIST = throttle_blocklist({"crawl": "{rate: 30r/m, burst: 3}",
                                "shared": "{rate: 60r/m, burst: 5, per: rule}"},
                               {"10.0.0.0/30": "crawl", "10.0.1.0/30": "shared"},
                               "  - user_agent: Bad\n    action: block\n    reason: r\n")
SITE = SiteLimits("s", zones={
    "ip": ZoneSpec("ip", 1000, "$binary_remote_addr"),           # 60r/m
    "glob": ZoneSpec("glob", 5000, "all"),                       # 300r/m, one bucket
    "slow": ZoneSpec("slow", 66, "$binary_remote_addr"),         # 4r/m burst 5: eviction observable
}, locations=[
    LocationLimits("/api/", (LimitSpec("ip", 4, True),), False, 429),
    LocationLimits("/facets", (LimitSpec("ip", 2, True), LimitSpec("glob", 3, True)), False, 503),
    LocationLimits("/wiki", (LimitSpec("slow", 5),), False, 429),
    LocationLimits("/dry", (LimitSpec("ip", 1),), True, 429),
    LocationLimits("/health", returns=True),
    LocationLimits("/"),
])


def _traffic(seed, n=3000, busy=True):
    """busy: few clients in bursts (most keys get rejections: replayed one by one); otherwise many
    clients at moderate rates (most keys pass: the vectorised path)."""
    rng = random.Random(seed)
    ips = [f"10.0.0.{i}" for i in range(4)] + [f"10.0.1.{i}" for i in range(4)]
    ips += [f"192.0.2.{i}" for i in range(12 if busy else 400)]
    paths = (["/", "/api/x", "/facets/y", "/wiki/z", "/dry/q", "/health"] if busy
             else ["/", "/api/x", "/api/y", "/dry/q", "/health"])
    gaps = [0] * 8 + [1, 7, 50, 200, 900, 3000, 61000] if busy else [0, 1, 3, 10, 40]
    t = int(NOW.timestamp() * 1000)
    rows = []
    for _ in range(n):
        t += rng.choice(gaps) if rng.random() > 0.01 else -rng.choice([5, 70000] if busy else [5, 2000])
        rows.append((t, rng.choice(ips), rng.choice(["Mozilla", "Bad/1", "curl"]), rng.choice(paths)))
    return rows


@pytest.mark.parametrize("seed, busy", [(1, True), (3, True), (6, True), (4, False), (5, False)])
def test_batch_replay_equals_request_by_request(tmp_path, seed, busy):
    (tmp_path / "manual.yml").write_text(BLOCKLIST)
    data = render_data(load_blocklists(tmp_path), None, NOW)
    rows = _traffic(seed, busy=busy)
    one = Simulator(BlocklistRules(data), SITE)
    expected: dict[str, dict[str, int]] = {}
    for t, ip, ua, path in rows:
        kind = one.request(t, ip, ua, path).kind
        expected.setdefault(ip, {k: 0 for k in OUTCOMES})[kind] += 1
    frames = []
    for part in (rows[:1000], rows[1000:2200], rows[2200:]):   # state must carry across batches
        frames.append(pl.DataFrame({
            "client_ip": [r[1] for r in part], "user_agent": [r[2] for r in part], "path": [r[3] for r in part],
            "time": [datetime.fromtimestamp(r[0] / 1000, tz=timezone.utc) for r in part]}))
    sim = Simulator(BlocklistRules(data), SITE)
    sim.batch_rows = 700                      # replay in several internal batches: state carries over
    report = sim.run(frames)
    got = {c.ip: c.counts for c in report.clients()}
    assert got == expected
    totals = report.totals
    # the traffic exercises every outcome the simulator has
    wanted = ("allowed", "delayed", "throttled", "blocked", "dry_run_throttled") if busy else ("allowed", "blocked")
    assert all(totals[k] > 0 for k in wanted), {k: totals[k] for k in wanted}
