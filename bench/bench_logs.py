"""Benchmark proxygen's log reading + aggregation against GoAccess 1.7 and awk on the same file, same run.

    .venv/bin/python bench/bench_logs.py                      # 1,000,000 lines: lines/s and ratio to GoAccess
    .venv/bin/python bench/bench_logs.py --repeat 3           # proxygen and GoAccess alternated 3 times
    .venv/bin/python bench/bench_logs.py --lines 10000000 --memory-only   # peak RSS on 10M lines, >= 1M IPs
    .venv/bin/python bench/bench_logs.py --phases             # one run, timed stage by stage
    .venv/bin/python bench/bench_logs.py --gzip --repeat 3    # the same log gzipped, as logrotate leaves it

The log is OFF-shaped synthetic traffic in OFF's `main` format (proxygen.synth, fixed seed), written
once into --workdir and reused. proxygen runs end to end in a child process: read, parse, aggregate
per IP / prefix / ASN / UA with per-minute series, ASN lookups in the generator's .mmdb. Figures are
wall-clock seconds of one run each (the machine is shared: run it when it is quiet, and compare the
ratio, which is measured in the same run). With --repeat N, proxygen and GoAccess run alternately N
times; each pair gives a ratio and the median ratio is reported, so a burst of load from elsewhere
does not decide the result. The proxygen child also reports its CPU time (user + system, all threads),
which other load disturbs less than wall-clock time. The first round also times `awk` counting one field
and proxygen's reading and parsing alone (no aggregation): the floors the end-to-end figure sits on.
Inputs under 512 MiB run with polars' default allocator, larger ones return memory eagerly (see
`proxygen.logs.source.EAGER_MEMORY_RETURN_BYTES`): the 1M-line log gets the former, the 10M-line one the latter.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from proxygen.logs import aggregate, open_logs
source = open_logs([sys.argv[1]], "main")
traffic = aggregate(source, asn_db=sys.argv[2])
elapsed = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": elapsed, "cpu_seconds": usage.ru_utime + usage.ru_stime, "parsed": traffic.totals.parsed, "malformed": traffic.totals.malformed,
                  "ips": traffic.by_ip.height, "prefixes": traffic.by_prefix.height, "asns": traffic.by_asn.height,
                  "uas": traffic.by_ua.height,
                  "max_rss_mib": usage.ru_maxrss / 1024}))
"""

PARSE_ONLY = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from proxygen.logs import open_logs
source = open_logs([sys.argv[1]], "main")
rows = sum(b.height for b in source.batches({"client_ip", "time", "path", "query", "status", "bytes", "user_agent"}))
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_seconds": usage.ru_utime + usage.ru_stime, "rows": rows}))
"""

PHASES = r"""
import importlib, json, resource, sys, time
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
t0 = time.perf_counter()
marks = []
def mark(name):
    marks.append((name, time.perf_counter() - t0, cpu()))
from proxygen.logs import aggregate, open_logs
module = importlib.import_module("proxygen.logs.aggregate")
def after(name, label):  # mark when the private stage function returns (once)
    original = getattr(module, name)
    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        if not any(m[0] == label for m in marks):
            mark(label)
        return result
    setattr(module, name, wrapped)
def before(name, label):
    original = getattr(module, name)
    def wrapped(*args, **kwargs):
        if not any(m[0] == label for m in marks):
            mark(label)
        return original(*args, **kwargs)
    setattr(module, name, wrapped)
after("_read_whole", "lines read and grouped")
after("_read_batched", "lines read, batches merged")
before("_group_activity", "IP-level tables done")
before("_group_table", "prefix/ASN activity done")
source = open_logs([sys.argv[1]], "main")
batches = source.batches
def timed(*args, **kwargs):
    yield from batches(*args, **kwargs)
    mark("batches read and parsed")
source.batches = timed
aggregate(source, asn_db=sys.argv[2])
mark("end")
print(json.dumps(sorted(marks, key=lambda m: m[1])))
"""

GOACCESS_FORMAT = '%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %^'


def ensure_log(workdir: Path, lines: int, seed: int) -> tuple[Path, Path]:
    from proxygen.synth import generate, write_asn_mmdb

    log = workdir / f"off-main-{lines}-{seed}.log"
    mmdb = workdir / "synthetic-asn.mmdb"
    if not log.exists():
        t = time.perf_counter()
        print(f"generating {lines:,} lines into {log} ...", flush=True)
        generate(log, lines=lines, seed=seed)
        print(f"  done in {time.perf_counter() - t:.1f} s ({log.stat().st_size / 2**20:.0f} MiB)", flush=True)
    if not mmdb.exists():
        write_asn_mmdb(mmdb)
    return log, mmdb


def run_proxygen(log: Path, mmdb: Path) -> dict:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(log), str(mmdb)], capture_output=True, text=True,
                         cwd=ROOT)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        sys.exit(f"proxygen run failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_seconds"] = wall
    return result


def run_goaccess(log: Path, workdir: Path) -> float | None:
    if shutil.which("goaccess") is None:
        print("goaccess not installed: skipped (apt-get install goaccess)")
        return None
    t = time.perf_counter()
    out = subprocess.run(["goaccess", str(log), f"--log-format={GOACCESS_FORMAT}", "--date-format=%d/%b/%Y",
                          "--time-format=%T", "--no-progress", "-o", str(workdir / "goaccess.json")],
                         capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if out.returncode != 0:
        print(f"goaccess failed: {out.stderr[:500]}")
        return None
    return seconds


def run_parse_only(log: Path) -> dict:
    """The reading and parsing alone (the columns the aggregation asks for), in a fresh process."""
    out = subprocess.run([sys.executable, "-c", PARSE_ONLY, str(log)], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_phases(log: Path, mmdb: Path) -> None:
    """Wall-clock and CPU seconds at the end of each stage of one proxygen run (its private stage
    functions are wrapped: this is a profile for developers, not a figure for the README table)."""
    out = subprocess.run([sys.executable, "-c", PHASES, str(log), str(mmdb)], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    previous = (0.0, 0.0)
    for name, wall, cpu in json.loads(out.stdout.strip().splitlines()[-1]):
        print(f"  {name:30s} at {wall:5.2f} s (CPU {cpu:5.2f} s): +{wall - previous[0]:.2f} s, "
              f"+{cpu - previous[1]:.2f} s CPU")
        previous = (wall, cpu)


def run_gzip(log: Path, mmdb: Path, repeat: int) -> None:
    """proxygen on the gzipped log (made once beside it, gzip -6) against `zcat` of the same file: the
    decompression alone, the floor of any reader of rotated logs."""
    gz = log.with_name(log.name + ".gz")
    if not gz.exists():
        with open(log, "rb") as src, open(gz.with_name(gz.name + ".part"), "wb") as raw:
            subprocess.run(["gzip", "-6", "-c"], stdin=src, stdout=raw, check=True)
        gz.with_name(gz.name + ".part").replace(gz)
    print(f"gzip file {gz.stat().st_size / 2**20:.0f} MiB")
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        subprocess.run(["zcat", str(gz)], stdout=subprocess.DEVNULL, check=True)
        zcat = time.perf_counter() - t
        pg = run_proxygen(gz, mmdb)
        print(f"proxygen on .gz: {pg['seconds']:.2f} s = {pg['parsed'] / pg['seconds']:,.0f} lines/s "
              f"(CPU {pg['cpu_seconds']:.2f} s; peak RSS {pg['max_rss_mib']:.0f} MiB); zcat alone {zcat:.2f} s")


def run_awk(log: Path) -> float:
    t = time.perf_counter()
    subprocess.run(["awk", "{c[$1]++} END {for (k in c) n++; print n}", str(log)], capture_output=True, check=True)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default=str(ROOT / "build" / "bench"))
    parser.add_argument("--memory-only", action="store_true", help="only proxygen: time and peak RSS")
    parser.add_argument("--repeat", type=int, default=1, help="alternate proxygen and GoAccess N times")
    parser.add_argument("--phases", action="store_true",
                        help="only proxygen, once: where the time goes, stage by stage")
    parser.add_argument("--gzip", action="store_true",
                        help="only proxygen, on the log gzipped (as logrotate leaves it), beside zcat of it")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    log, mmdb = ensure_log(workdir, args.lines, args.seed)
    print(f"machine: {os.cpu_count()} CPUs; log {log.stat().st_size / 2**20:.0f} MiB, {args.lines:,} lines")
    if args.phases:
        run_phases(log, mmdb)
        return
    if args.gzip:
        run_gzip(log, mmdb, args.repeat)
        return

    ratios = []
    for round_no in range(1, max(1, args.repeat) + 1):
        if args.repeat > 1:
            print(f"-- round {round_no}")
        pg = run_proxygen(log, mmdb)
        rate = pg["parsed"] / pg["seconds"]
        print(f"proxygen (read+parse+aggregate+ASN): {pg['seconds']:.2f} s = {rate:,.0f} lines/s "
              f"(process incl. start-up {pg['process_seconds']:.2f} s; CPU {pg['cpu_seconds']:.2f} s); "
              f"peak RSS {pg['max_rss_mib']:.0f} MiB; "
              f"{pg['parsed']:,} parsed, {pg['malformed']} malformed, {pg['ips']:,} IPs, {pg['prefixes']:,} prefixes, "
              f"{pg['asns']} ASNs, {pg['uas']:,} UAs")
        if args.memory_only:
            continue
        ga = run_goaccess(log, workdir)
        if round_no == 1:
            awk = run_awk(log)
            print(f"awk count per IP (floor, one field): {awk:.2f} s = {args.lines / awk:,.0f} lines/s")
            bare = run_parse_only(log)
            print(f"proxygen read+parse only (no aggregation): {bare['seconds']:.2f} s = "
                  f"{bare['rows'] / bare['seconds']:,.0f} lines/s (CPU {bare['cpu_seconds']:.2f} s)")
        if ga is not None:
            ratios.append(ga / pg["seconds"])
            print(f"GoAccess 1.7: {ga:.2f} s = {args.lines / ga:,.0f} lines/s")
            print(f"ratio proxygen / GoAccess: {ratios[-1]:.1f}x")
    if len(ratios) > 1:
        print(f"median ratio over {len(ratios)} rounds: {statistics.median(ratios):.1f}x "
              f"(each: {', '.join(f'{r:.1f}x' for r in ratios)})")


if __name__ == "__main__":
    main()
