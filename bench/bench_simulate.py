"""Throughput of `proxygen crawlers simulate` on the 1M-line synthetic benchmark log.

Generates the seeded synthetic OFF log (proxygen.synth, `main` format) once into bench/out/, then runs,
alternately and best of --repeat each:

- peer: the bare read+parse pipeline (`open_logs(...).batches()` with the columns simulate reads,
  every row counted);
- simulate: the same batches through blocklists (a few thousand networks, UA rules and a throttle zone)
  and the openfoodfacts site declaration (its per-IP and global limit_req zones, maps and rules), with
  nginx's leaky bucket for every request;

and prints lines/s for both and their ratio, and "rules only": simulate on batches parsed beforehand.
Target: simulate >= 500,000 lines/s.

    .venv/bin/python bench/bench_simulate.py --lines 1000000
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proxygen.blocklist.render import render_data  # noqa: E402
from proxygen.blocklist.store import load_blocklists  # noqa: E402
from proxygen.logs import open_logs  # noqa: E402
from proxygen.model import load_repository  # noqa: E402
from proxygen.simulate.engine import Simulator  # noqa: E402
from proxygen.simulate.rules import BlocklistRules  # noqa: E402
from proxygen.simulate.run import SIMULATE_COLUMNS  # noqa: E402
from proxygen.simulate.sites import SiteRules  # noqa: E402
from proxygen.synth import generate  # noqa: E402


def write_blocklist(directory: Path, log: Path, seed: int) -> None:
    """A blocklist like a busy month's: throttle 5% of the log's clients, block 2,000 random /24s, 20 UAs."""
    rng = random.Random(seed)
    with open(log, encoding="utf-8") as fh:
        ips = sorted({line.split(" ", 1)[0] for _, line in zip(range(200_000), fh)})
    lines = ["zones:", "  crawl: {rate: 30r/m, burst: 20}", "entries:"]
    for ip in rng.sample(ips, max(1, len(ips) // 20)):
        lines += [f"  - ip: {ip}", "    action: throttle", "    zone: crawl", "    reason: bench"]
    seen = set()
    while len(seen) < 2000:
        net = ipaddress.ip_network(f"{ipaddress.IPv4Address(rng.randrange(0x0B000000, 0xDF000000))}/24", strict=False)
        if net in seen:
            continue
        seen.add(net)
        lines += [f"  - cidr: {net}", "    action: block", "    reason: bench"]
    for i in range(20):
        lines += [f"  - user_agent: BenchBot{i}", "    action: block", "    reason: bench"]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "analyzer.yml").write_text("\n".join(lines) + "\n")


def parse_only(log: Path) -> int:
    return sum(frame.height for frame in open_logs([str(log)], "main").batches(columns=SIMULATE_COLUMNS))


def simulate(log: Path, blocklists: Path, repo, frames=None) -> int:
    data = render_data(load_blocklists(blocklists), None, datetime(2026, 11, 27, tzinfo=timezone.utc),
                       allowlists=repo.settings.allowlists)
    sim = Simulator(BlocklistRules(data), SiteRules(repo.sites["openfoodfacts"], repo.settings))
    source = frames if frames is not None else open_logs([str(log)], "main").batches(columns=SIMULATE_COLUMNS)
    report = sim.run(source)
    return report.totals["requests"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    out = ROOT / "bench/out"
    out.mkdir(parents=True, exist_ok=True)
    log = out / f"synthetic-{args.lines}-{args.seed}.log"
    if not log.exists():
        generate(log, lines=args.lines, seed=args.seed)
    blocklists = out / "simulate-blocklists"
    write_blocklist(blocklists, log, args.seed)
    repo = load_repository(ROOT)
    frames = list(open_logs([str(log)], "main").batches(columns=SIMULATE_COLUMNS))
    best = {"peer": float("inf"), "simulate": float("inf"), "rules only": float("inf")}
    cpu = {}
    counts = {}
    for _ in range(args.repeat):
        for name, fn in (("peer", lambda: parse_only(log)), ("simulate", lambda: simulate(log, blocklists, repo)),
                         ("rules only", lambda: simulate(log, blocklists, repo, frames))):
            t, c = time.perf_counter(), time.process_time()
            counts[name] = fn()
            elapsed = time.perf_counter() - t
            if elapsed < best[name]:
                best[name], cpu[name] = elapsed, time.process_time() - c
    lines = counts["peer"]
    print(f"log: {log.name}: {lines:,} parsed lines (simulate replayed {counts['simulate']:,})")
    for name in ("peer", "simulate", "rules only"):
        print(f"{name:10s} best of {args.repeat}: {best[name]:.2f} s = {lines / best[name]:,.0f} lines/s "
              f"(CPU {cpu[name]:.2f} s, all threads)")
    print(f"simulate / parse-only time ratio: {best['simulate'] / best['peer']:.2f}")


if __name__ == "__main__":
    main()
