"""On synthetic OFF traffic through the repository's openfoodfacts declaration (per-IP and global
zones, maps, rules) and a blocklist, the batch replay of a log gives every client exactly the
outcomes, and every rule exactly the statuses, of one-request-at-a-time replay."""

import ipaddress
import random
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from proxygen.blocklist.render import render_data
from proxygen.blocklist.store import load_blocklists
from proxygen.logs import open_logs
from proxygen.model import load_repository
from proxygen.simulate.engine import OUTCOMES, Simulator
from proxygen.simulate.rules import BlocklistRules
from proxygen.simulate.run import SIMULATE_COLUMNS
from proxygen.simulate.sites import SiteRules
from proxygen.synth import generate

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)


def _blocklist(directory, ips, rng):
    lines = ["zones:", "  crawl: {rate: 30r/m, burst: 5}", "  net: {rate: 120r/m, burst: 10, per: rule}", "entries:"]
    for ip in rng.sample(ips, len(ips) // 10):
        lines += [f"  - ip: {ip}", "    action: throttle", "    zone: crawl", "    reason: r"]
    v4 = [ip for ip in ips if ":" not in ip]
    for ip in rng.sample(v4, 5):
        net = ipaddress.ip_network(f"{ip}/16", strict=False)
        lines += [f"  - cidr: {net}", "    action: throttle", "    zone: net", "    reason: r"]
    for ip in rng.sample(v4, 20):
        lines += [f"  - cidr: {ipaddress.ip_network(f'{ip}/24', strict=False)}", "    action: block", "    reason: r"]
    directory.mkdir()
    (directory / "bench.yml").write_text("\n".join(lines) + "\n")


def test_batch_replay_of_synthetic_off_traffic_equals_request_by_request(tmp_path):
    log = tmp_path / "access.log"
    generate(log, lines=30_000, seed=3)
    frames = list(open_logs([str(log)], "main").batches(columns=SIMULATE_COLUMNS))
    whole = pl.concat(frames)
    rng = random.Random(3)
    _blocklist(tmp_path / "blocklists", sorted(set(whole["client_ip"].drop_nulls().to_list())), rng)
    repo = load_repository(ROOT)
    data = render_data(load_blocklists(tmp_path / "blocklists"), None, NOW, allowlists=repo.settings.allowlists)

    def simulator():
        return Simulator(BlocklistRules(data), SiteRules(repo.sites["openfoodfacts"], repo.settings))

    batch = simulator()
    batch.batch_rows = 7_000                 # several batches; seconds split between them
    report = batch.run(frames)

    # one request at a time, with the same spreading of each logged second over its 1000 ms
    rows = whole.select(pl.col("client_ip").fill_null(""), pl.col("time").dt.epoch("ms").alias("t"),
                        pl.col("user_agent").fill_null(""), pl.col("path").fill_null("/"),
                        pl.col("method").fill_null("GET"))
    rows = rows.with_columns((pl.col("t") + pl.int_range(pl.len()).over("t") * 1000 // pl.len().over("t")).alias("t"))
    single = simulator()
    expected: dict[str, dict[str, int]] = {}
    statuses: dict[str, dict[int, int]] = {}
    for ip, t, ua, path, method in rows.iter_rows():
        outcome = single.request(t, ip, ua, path, method)
        expected.setdefault(ip, {k: 0 for k in OUTCOMES})[outcome.kind] += 1
        if outcome.status is not None and outcome.rule is not None:
            per = statuses.setdefault(outcome.rule, {})
            per[outcome.status] = per.get(outcome.status, 0) + 1
    assert {c.ip: c.counts for c in report.clients()} == expected
    assert report.statuses() == statuses
    totals = report.totals
    assert totals["throttled"] > 500 and totals["blocked"] > 100, totals
    assert {s for per in statuses.values() for s in per} >= {403, 429, 503}
