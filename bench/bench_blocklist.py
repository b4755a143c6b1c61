"""Loading a 100,000-entry blocklist (validated, every entry with its file:line position).

Writes a seeded analyzer-shaped file once into bench/out/ (the product's own writer,
proxygen.blocklist.edit.dump_file: addresses, networks, IPv6, ASNs, user agents; reasons, evidence,
dates), then runs, alternately and best of --repeat each:

- peer: `yaml.load(text, CSafeLoader)`, libyaml's parser with the safe constructor: no positions,
  no validation;
- composed: the same file through the positional composer alone (what every file went through
  before the line-by-line reader), without validation;
- load_blocklists: the product path (line-by-line reading with positions, entry validation,
  duplicate and zone checks).

    .venv/bin/python bench/bench_blocklist.py --entries 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from proxygen.blocklist import yamlpos  # noqa: E402
from proxygen.blocklist.edit import dump_file  # noqa: E402
from proxygen.blocklist.entry import Entry, ThrottleZone  # noqa: E402
from proxygen.blocklist.store import load_blocklists  # noqa: E402


def entries(n: int, seed: int) -> list[Entry]:
    rng = random.Random(seed)
    created = datetime(2026, 11, 20, tzinfo=timezone.utc)
    out, seen = [], set()
    while len(out) < n:
        kind = rng.random()
        if kind < 0.60:
            key_type, key = "ip", str(ipaddress.IPv4Address(rng.randrange(0x0B000000, 0xDF000000)))
        elif kind < 0.85:
            plen = rng.choice([16, 20, 24, 24, 28])
            net = ipaddress.ip_network(f"{ipaddress.IPv4Address(rng.randrange(0x0B000000, 0xDF000000))}/{plen}",
                                       strict=False)
            key_type, key = "cidr", str(net)
        elif kind < 0.92:
            net = ipaddress.ip_network(f"2001:db8:{rng.randrange(65536):x}:{rng.randrange(65536):x}::/64")
            key_type, key = "cidr", str(net)
        elif kind < 0.97:
            key_type, key = "asn", str(rng.randrange(1000, 400000))
        else:
            key_type, key = "user_agent", f"Crawler{rng.randrange(10**6)}/1.{rng.randrange(10)}"
        if (key_type, key) in seen:
            continue
        seen.add((key_type, key))
        action = rng.choice(["block", "block", "throttle", "tarpit"])
        out.append(Entry(key_type=key_type, key=key, action=action, reason="1,200 req/min on /cgi/search.pl",
                         source="analyzer", status=rng.choice([403, 444]) if action == "block" else None,
                         zone="crawl" if action == "throttle" else None,
                         match="contains" if key_type == "user_agent" else None,
                         evidence=f"{rng.randrange(1000, 90000)} requests in 20 min: 98% search",
                         created=created, expires=created + timedelta(days=rng.choice([7, 30]))))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    directory = ROOT / f"bench/out/blocklist-{args.entries}-{args.seed}"
    path = directory / "analyzer.yml"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        zones = {"crawl": ThrottleZone(name="crawl", rate="30r/m", burst=20)}
        path.write_text(dump_file(zones, entries(args.entries, args.seed), "# bench\n"), encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    runs = {
        "peer": lambda: len(yaml.load(text, Loader=yaml.CSafeLoader)["entries"]),
        "composed": lambda: len(yamlpos.load_composed(text, "analyzer.yml").value["entries"].value),
        "load_blocklists": lambda: len(load_blocklists(directory).entries),
    }
    best = {name: float("inf") for name in runs}
    counts = {}
    for _ in range(args.repeat):
        for name, fn in runs.items():
            t = time.perf_counter()
            counts[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t)
    print(f"{path.relative_to(ROOT)}: {counts['load_blocklists']:,} entries, {text.count(chr(10)):,} lines")
    for name in runs:
        print(f"{name:16s} best of {args.repeat}: {best[name]:.2f} s")
    print(f"load_blocklists / peer time ratio: {best['load_blocklists'] / best['peer']:.2f}")


if __name__ == "__main__":
    main()
