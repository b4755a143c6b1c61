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

With --write it then measures writing, best of --repeat each:

- peer (write): `yaml.dump` of the same entries as plain dicts with libyaml's CSafeDumper (no
  comments kept, no checks);
- dump_file: the product's serializer alone (what analyzer.yml and `blocklist add` blocks are made of);
- rewrite_file: what `--emit` and `blocklist remove/prune` do to analyzer.yml: serialize, re-parse and
  check the text holds exactly the entries, write atomically;
- add_to_file: `blocklist add` of one entry to a hand-edited file already holding the N entries;
- merge_proposals: N proposals merged into an empty blocklists/ directory (the `--emit` path: load,
  safety checks, aggregation, write);
- merge_into_existing (with --merge-into-existing M): M new proposals merged into an analyzer.yml
  already holding the N entries.

    .venv/bin/python bench/bench_blocklist.py --entries 100000 --repeat 3
    .venv/bin/python bench/bench_blocklist.py --entries 100000 --repeat 2 --write --merge-into-existing 10000
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from proxygen.blocklist import yamlpos  # noqa: E402
from proxygen.blocklist.edit import add_to_file, dump_file, entry_fields, rewrite_file  # noqa: E402
from proxygen.blocklist.entry import Entry, ThrottleZone  # noqa: E402
from proxygen.blocklist.merge import Proposal, merge_proposals  # noqa: E402
from proxygen.blocklist.store import load_blocklists  # noqa: E402

ZONES = {"crawl": ThrottleZone(name="crawl", rate="30r/m", burst=20)}
NOW = datetime(2026, 11, 21, tzinfo=timezone.utc)


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
    ap.add_argument("--write", action="store_true", help="also measure writing (see above)")
    ap.add_argument("--merge-into-existing", type=int, default=0, metavar="M",
                    help="with --write: also merge M new proposals into an analyzer.yml of N entries")
    ap.add_argument("--no-load", action="store_true", help="skip the load measurements")
    args = ap.parse_args()
    directory = ROOT / f"bench/out/blocklist-{args.entries}-{args.seed}"
    path = directory / "analyzer.yml"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_file(ZONES, entries(args.entries, args.seed), "# bench\n"), encoding="utf-8")
    if not args.no_load:
        measure_load(args, directory, path)
    if args.write:
        measure_write(args)


def best_of(repeat: int, runs: dict) -> tuple[dict, dict]:
    """Each run's best time over `repeat` rounds (runs alternate within a round) and its last result."""
    best = {name: float("inf") for name in runs}
    results = {}
    for _ in range(repeat):
        for name, fn in runs.items():
            t = time.perf_counter()
            results[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best, results


def proposals(items: list[Entry]) -> list[Proposal]:
    """The entries as the analyzer would propose them (throttles use the default analyzer zone)."""
    keys = {"user_agent": "ua"}
    return [Proposal(key_type=keys.get(e.key_type, e.key_type), key=e.key, action=e.action, reason=e.reason,
                     evidence=e.evidence or "", status=e.status or 403) for e in items]


def measure_write(args) -> None:
    items = entries(args.entries, args.seed)
    plain = [dict(entry_fields(e)) for e in items]
    work = Path(tempfile.mkdtemp(prefix="bench-blocklist-write-"))
    try:
        target = work / "rewrite" / "analyzer.yml"
        target.parent.mkdir()
        manual_dir = work / "manual"
        manual_dir.mkdir()
        manual = manual_dir / "manual.yml"
        manual_text = "# hand-edited\n" + dump_file(ZONES, items)
        extra = Entry(key_type="ip", key="192.0.2.77", action="block", reason="bench: one more", status=403,
                      created=NOW)
        merge_dir = work / "merge"
        props = proposals(items)

        def fresh_merge():
            shutil.rmtree(merge_dir, ignore_errors=True)
            merge_dir.mkdir()
            return len(merge_proposals(merge_dir, props, now=NOW, cap=len(props) + 1).added)

        def add_one():
            manual.write_text(manual_text, encoding="utf-8")
            add_to_file(manual, extra)
            return 1

        runs = {
            "peer (write)": lambda: len(yaml.dump({"entries": plain}, Dumper=yaml.CSafeDumper, sort_keys=False)),
            "dump_file": lambda: len(dump_file(ZONES, items, "# bench\n")),
            "rewrite_file": lambda: rewrite_file(target, ZONES, items, "# bench\n") or len(items),
            "add_to_file": add_one,
            "merge_proposals": fresh_merge,
        }
        if args.merge_into_existing:
            base_dir = work / "existing-base"
            base_dir.mkdir()
            merge_proposals(base_dir, props, now=NOW, cap=10**9)
            more = proposals(entries(args.entries + args.merge_into_existing, args.seed + 1000))
            existing_ids = {(p.key_type, p.key) for p in props}
            more = [p for p in more if (p.key_type, p.key) not in existing_ids][: args.merge_into_existing]
            into = work / "existing"

            def merge_existing():
                shutil.rmtree(into, ignore_errors=True)
                shutil.copytree(base_dir, into)
                return len(merge_proposals(into, more, now=NOW, cap=10**9).added)

            runs["merge_into_existing"] = merge_existing
        best, results = best_of(args.repeat, runs)
        print(f"writing {len(items):,} entries ({len(dump_file(ZONES, items)):,} bytes)")
        for name in runs:
            print(f"{name:20s} best of {args.repeat}: {best[name]:.2f} s   ({results[name]:,})")
        print(f"dump_file / peer (write) time ratio: {best['dump_file'] / best['peer (write)']:.2f}")
        print(f"rewrite_file / peer (write) time ratio: {best['rewrite_file'] / best['peer (write)']:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure_load(args, directory: Path, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    runs = {
        "peer": lambda: len(yaml.load(text, Loader=yaml.CSafeLoader)["entries"]),
        "composed": lambda: len(yamlpos.load_composed(text, "analyzer.yml").value["entries"].value),
        "load_blocklists": lambda: len(load_blocklists(directory).entries),
    }
    best, counts = best_of(args.repeat, runs)
    print(f"{path.relative_to(ROOT)}: {counts['load_blocklists']:,} entries, {text.count(chr(10)):,} lines")
    for name in runs:
        print(f"{name:16s} best of {args.repeat}: {best[name]:.2f} s")
    print(f"load_blocklists / peer time ratio: {best['load_blocklists'] / best['peer']:.2f}")


if __name__ == "__main__":
    main()
