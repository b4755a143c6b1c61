"""Time `proxygen lint` on the shipped repository (target: under 2 s).

    .venv/bin/python bench/bench_lint.py [--repeat 5]

Measures the whole command as a contributor or CI runs it (`proxygen lint`, a fresh
process: imports, load, build of every host, every rule), the same through the Python API
(warm), and, as the peer in the same run, the real `nginx -t` over the same hosts
(`proxygen lint --nginx` minus plain lint): the ratio says what the rules cost next to
nginx's own check.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _cli(*args: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "proxygen", "lint", *args], cwd=REPO, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"proxygen lint {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from proxygen.lint import RULES, lint

    cli = [_cli() for _ in range(args.repeat)]
    with_nginx = [_cli("--nginx") for _ in range(args.repeat)]
    api = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        report = lint(REPO)
        api.append(time.perf_counter() - start)
    rules = sum(1 for r in RULES if r.check is not None)
    lint_s, nginx_s = statistics.median(cli), statistics.median(with_nginx) - statistics.median(cli)
    print(f"repository: {report.hosts} hosts, {report.sites} sites, {report.files} generated files, "
          f"{rules} rules with checks, {len(report.findings)} findings")
    print(f"proxygen lint (CLI, fresh process): median {lint_s:.2f} s  (min {min(cli):.2f}, max {max(cli):.2f})")
    print(f"lint API, warm process:            median {statistics.median(api):.2f} s")
    print(f"nginx -t on the same hosts (peer): {nginx_s:.2f} s  -> lint / nginx -t = {lint_s / nginx_s:.1f}x")
    print(f"target < 2 s: {'met' if lint_s < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
