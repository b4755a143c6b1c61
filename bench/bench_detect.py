"""Detection quality and speed of `proxygen crawlers analyze` on labelled synthetic logs.

Quality (default): for each seed, generate a labelled log (proxygen.synth) and its ASN database, run the
analysis with default settings and NO allowlists (the detectors alone must spare legitimate clients),
apply the proposed block/throttle rules to every request, and report per scenario how many requests the
rules touch. Targets: rules cover >= 95% of abusive requests and touch <= 0.5% of legitimate ones.

    .venv/bin/python bench/bench_detect.py --lines 200000 --seeds 1,2,3

Speed (--speed): on a 1M-line log, the full analysis against the bare read+aggregate pipeline
(`aggregate(open_logs(...))` with the same route classes and ASN database), best of --repeat runs each,
alternated; wall-clock and process CPU time (CPU time is less disturbed by other load on the machine).
Target: wall-clock ratio <= 1.5.

    .venv/bin/python bench/bench_detect.py --speed --lines 1000000
    .venv/bin/python bench/bench_detect.py --speed --lines 1000000 --rotating-ua   # a user agent per request
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proxygen.analyze.run import analyze, detector_flags  # noqa: E402
from proxygen.logs import aggregate, open_logs  # noqa: E402
from proxygen.logs.asn import AsnDb  # noqa: E402
from proxygen.model.crawlers import CrawlerSettings  # noqa: E402
from proxygen.synth import generate, write_asn_mmdb  # noqa: E402


def touched_by_label(log: Path, labels: Path, proposals, db: AsnDb) -> Counter:
    """Requests per (label, frozenset of the ids of the rules that touch them)."""
    import polars as pl

    ip_rules = {}   # ip -> rule ids
    nets, asns, uas = [], {}, []
    for i, p in enumerate(proposals):
        if p["key_type"] == "ip":
            ip_rules.setdefault(p["key"], set()).add(i)
        elif p["key_type"] == "cidr":
            nets.append((i, ipaddress.ip_network(p["key"], strict=False)))
        elif p["key_type"] == "asn":
            asns.setdefault(int(p["key"]), set()).add(i)
        elif p["key_type"] == "ua":
            uas.append((i, p.get("ua_match", "contains"), p["key"].lower()))
    label_list = labels.read_text().splitlines()
    sets: dict[frozenset, int] = {frozenset(): 0}
    set_list = [frozenset()]
    ip_cache: dict[str, int] = {}
    ua_cache: dict[str, int] = {}

    def set_id(ids) -> int:
        key = frozenset(ids)
        if key not in sets:
            sets[key] = len(set_list)
            set_list.append(key)
        return sets[key]

    def ip_ids(ip: str) -> int:
        ids = set(ip_rules.get(ip, ()))
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return set_id(ids)
        ids |= {i for i, n in nets if addr.version == n.version and addr in n}
        if asns:
            ids |= asns.get(db.lookup(ip).asn, set())
        return set_id(ids)

    def ua_ids(ua: str | None) -> int:
        low = (ua or "").strip().lower()
        return set_id({i for i, how, key in uas if ((low == key) if how == "exact" else (key in low))})

    counts: Counter = Counter()
    for batch in open_logs([str(log)]).batches():
        for ip in batch["client_ip"].unique().to_list():
            if ip not in ip_cache:
                ip_cache[ip] = ip_ids(ip)
        for ua in batch["user_agent"].unique().to_list():
            if ua not in ua_cache:
                ua_cache[ua] = ua_ids(ua)
        frame = pl.DataFrame({
            "label": [label_list[n - 1] for n in batch["line_number"].to_list()],
            "ipset": batch["client_ip"].replace_strict(ip_cache, return_dtype=pl.Int64),
            "uaset": batch["user_agent"].replace_strict(ua_cache, return_dtype=pl.Int64, default=0),
        })
        for label, a, b, n in frame.group_by("label", "ipset", "uaset").len().iter_rows():
            counts[(label, set_list[a] | set_list[b])] += n
    return counts


def quality(lines: int, seeds: list[int], workdir: Path, use_asn: bool = True) -> bool:
    db_path = workdir / "synth-asn.mmdb"
    write_asn_mmdb(db_path)
    db = AsnDb.open(str(db_path))
    ok = True
    grand: Counter = Counter()
    for seed in seeds:
        log = workdir / f"synth-{seed}.log"
        labels = generate(log, lines=lines, seed=seed)
        result = analyze([str(log)], asn_db=db_path if use_asn else None)
        proposals = result.proposals()
        counts = touched_by_label(log, labels, proposals, db)
        grand.update(counts)
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(Counter(p["key_type"] for p in proposals).items()))
        ok &= report(f"seed {seed}: {lines:,} lines, {len(proposals)} rules ({kinds})"
                     + ("" if use_asn else ", no ASN database"), counts)
    if len(seeds) > 1:
        ok &= report(f"all seeds ({', '.join(map(str, seeds))})", grand)
    return ok


def report(title: str, counts: Counter) -> bool:
    """Per scenario: recall (abuse) or false-positive rate (legit), and the precision of the rules that
    touch it (share of abusive requests among everything those rules touch)."""
    totals, touched = Counter(), Counter()
    for (label, rules), n in counts.items():
        totals[label] += n
        if rules:
            touched[label] += n
    print(f"\n{title}")
    print(f"  {'scenario':24} {'requests':>9} {'touched':>9} {'share':>8}  {'is the':14} {'precision':>9}")
    for label in sorted(totals, key=lambda x: (not x.startswith("abuse"), x)):
        share = touched[label] / totals[label] if totals[label] else 0
        rules = set().union(*[r for (lab, r), n in counts.items() if lab == label and r]) if touched[label] else set()
        hit_by = [(lab, n) for (lab, r), n in counts.items() if r & rules]
        all_hit = sum(n for _, n in hit_by)
        precision = sum(n for lab, n in hit_by if lab.startswith("abuse")) / all_hit if all_hit else float("nan")
        kind = "recall" if label.startswith("abuse") else "false-pos rate"
        prec = f"{precision:.2%}" if all_hit else "-"
        print(f"  {label:24} {totals[label]:>9,} {touched[label]:>9,} {share:>8.2%}  {kind:14} {prec:>9}")
    abuse_t = sum(v for k, v in totals.items() if k.startswith("abuse"))
    abuse_h = sum(v for k, v in touched.items() if k.startswith("abuse"))
    legit_t = sum(v for k, v in totals.items() if k.startswith("legit"))
    legit_h = sum(v for k, v in touched.items() if k.startswith("legit"))
    recall = abuse_h / abuse_t if abuse_t else 1.0
    fp = legit_h / legit_t if legit_t else 0.0
    precision = abuse_h / (abuse_h + legit_h) if abuse_h + legit_h else 1.0
    passed = recall >= 0.95 and fp <= 0.005
    print(f"  abusive requests covered: {recall:.2%} (target >= 95%); legitimate requests touched: {fp:.3%} "
          f"(target <= 0.5%); precision {precision:.2%} -> {'PASS' if passed else 'FAIL'}")
    return passed


def rotating_user_agents(log: Path) -> Path:
    """The log with a random suffix on every user agent (seeded): nearly every request has a user agent of
    its own, as from a crawler that rotates them to look like many clients."""
    import random

    out = log.with_name(log.stem + "-rotating.log")
    if not out.exists():
        rng = random.Random(3)
        with open(log, encoding="utf-8") as src, open(out.with_name(out.name + ".part"), "w", encoding="utf-8") as dst:
            for line in src:
                parts = line.split('"')  # OFF's main format: the user agent is the third quoted field
                parts[5] += f" r/{rng.getrandbits(40):x}"
                dst.write('"'.join(parts))
        out.with_name(out.name + ".part").replace(out)
    return out


def speed(lines: int, workdir: Path, repeat: int, rotating: bool = False) -> bool:
    db_path = workdir / "synth-asn.mmdb"
    write_asn_mmdb(db_path)
    log = workdir / f"speed-{lines}.log"
    if not log.exists():
        generate(log, lines=lines, seed=1)
    if rotating:
        log = rotating_user_agents(log)
    settings = CrawlerSettings()

    def bare():
        return aggregate(open_logs([str(log)]), route_classes=settings.route_class_pairs(), asn_db=str(db_path))

    def full():
        return analyze([str(log)], settings=settings, asn_db=db_path)

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    times = {"bare": [], "full": []}
    cpus = {"bare": [], "full": []}
    for _ in range(repeat):
        for name, fn in (("bare", bare), ("full", full)):
            c0, t0 = cpu(), time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
            cpus[name].append(cpu() - c0)
    b, f = min(times["bare"]), min(times["full"])
    cb, cf = min(cpus["bare"]), min(cpus["full"])
    ratio = f / b
    print(f"\nspeed on {lines:,} lines ({log.stat().st_size / 2**20:.0f} MiB"
          f"{', a user agent of its own on nearly every request' if rotating else ''}), best of {repeat}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs:")
    print(f"  bare read+aggregate: {b:.2f} s wall, {cb:.2f} s CPU ({lines / b:,.0f} lines/s)")
    print(f"  full analysis (flags {sorted(detector_flags())}, detectors, findings, samples): "
          f"{f:.2f} s wall, {cf:.2f} s CPU ({lines / f:,.0f} lines/s)")
    print(f"  ratio {ratio:.2f} wall, {cf / cb:.2f} CPU (target <= 1.5 wall) -> {'PASS' if ratio <= 1.5 else 'FAIL'}")
    return ratio <= 1.5


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--speed", action="store_true", help="measure speed instead of quality")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="keep generated logs here (default: a temp dir)")
    parser.add_argument("--no-asn", action="store_true", help="analyze without the ASN database")
    parser.add_argument("--rotating-ua", action="store_true",
                        help="with --speed: every user agent made unique (a crawler rotating them)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="proxygen-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if args.speed:
            ok = speed(args.lines, workdir, args.repeat, rotating=args.rotating_ua)
        else:
            ok = quality(args.lines, [int(s) for s in args.seeds.split(",")], workdir, use_asn=not args.no_asn)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
