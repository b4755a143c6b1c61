"""Time `proxygen build` (load + render + re-check) on OFF's sites and on N synthetic sites.

    .venv/bin/python bench/bench_build.py            # OFF's set, then 100, 300, 1000 synthetic sites
    .venv/bin/python bench/bench_build.py 250 2000   # chosen sizes

Synthetic sites have the shapes of the real ones (TLS, an upstream, 4 locations with a rate
limit, a cache, static files, a redirect). The peer in the same run is the real `nginx -t`
on the same output: the ratio says what proxygen's own checking costs next to nginx's.
Targets: OFF's whole set < 1 s, 1,000 sites < 10 s, growing linearly.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def synthetic_site(i: int) -> dict:
    return {
        "server_names": [f"svc{i}.example.org", f"*.svc{i}.example.org"],
        "tls": {"certificate": f"svc{i}.example.org"},
        "upstreams": {f"svc{i}": {"servers": [{"address": f"10.1.{i // 250}.{i % 250}:8080", "max_fails": 3,
                                                "fail_timeout": "30s"}]}},
        "header_set": "backend",
        "logs": {"access": {"format": "main", "buffer": "64K", "flush": "1s"}},
        "headers": [{"name": "X-Content-Type-Options", "value": "nosniff"}],
        "locations": [
            {"path": "/api/", "rate_limits": [{"zone": "per-ip", "burst": 10, "nodelay": True}],
             "rate_limit_status": 429, "cache": {"zone": "c1", "key": "$host$request_uri",
                                                 "valid": [{"codes": [200], "time": "5s"}]},
             "proxy": {"upstream": f"svc{i}"}},
            {"path": r"^/(css|js|images)/", "match": "regex", "static": {"root": "/srv/static",
                                                                         "try_files": ["$uri"], "fallback": "@app"}},
            {"path": "@app", "match": "named", "proxy": {"upstream": f"svc{i}"}},
            {"path": "/old", "match": "exact", "redirect": {"to": f"https://svc{i}.example.org/new"}},
            {"path": "/", "timeouts": {"read": "90s"}, "proxy": {"upstream": f"svc{i}", "uri": "$request_uri"}},
        ],
    }


def synthetic_repo(root: Path, n: int, hosts: int = 4) -> None:
    (root / "sites").mkdir(parents=True)
    names = [f"svc{i}" for i in range(n)]
    settings = {
        "hosts": {f"proxy{h}": {"nginx_version": "1.22.1", "sites": names[h::hosts]} for h in range(hosts)},
        "log_formats": {"main": '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'},
        "rate_limit_zones": {"per-ip": {"key": "$binary_remote_addr", "rate": "15r/m"}},
        "cache_zones": {"c1": {"path": "c1"}},
        "header_sets": {"backend": {"Host": "$host", "X-Real-IP": "$remote_addr",
                                    "X-Forwarded-For": "$proxy_add_x_forwarded_for"}},
    }
    (root / "proxygen.yml").write_text(yaml.safe_dump(settings))
    for i, name in enumerate(names):
        (root / "sites" / f"{name}.yml").write_text(yaml.safe_dump(synthetic_site(i)))


def measure(root: Path) -> dict:
    from proxygen.compile.build import build
    from proxygen.compile.output import write_build
    from proxygen.model import load_repository
    from proxygen.nginx import check_hosts

    t0 = time.perf_counter()
    repo = load_repository(root)
    t1 = time.perf_counter()
    result = build(repo)
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        write_build(result, out)
    t3 = time.perf_counter()
    checks = check_hosts(repo)
    t4 = time.perf_counter()
    assert all(c.ok for c in checks), [c.output for c in checks if not c.ok]
    return {"sites": len(repo.sites), "files": result.file_count, "load": t1 - t0, "build": t2 - t1,
            "write": t3 - t2, "total": t3 - t0, "nginx_t": t4 - t3,
            "lines": sum(t.count("\n") for h in result.hosts.values() for t in h.files.values())}


def report(label: str, m: dict) -> None:
    print(f"{label:>18}: {m['sites']:5d} sites {m['files']:5d} files {m['lines']:7d} lines | load {m['load']:.2f}s "
          f"build+check {m['build']:.2f}s write {m['write']:.2f}s = {m['total']:.2f}s | nginx -t {m['nginx_t']:.2f}s "
          f"(ratio {m['total'] / m['nginx_t']:.1f}x) | {1000 * m['total'] / m['sites']:.1f} ms/site")


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [100, 300, 1000]
    from proxygen.compile.render import environment

    environment()  # compile templates once, as a long build would
    report("OFF (repository)", measure(REPO))
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            synthetic_repo(Path(tmp), n)
            report(f"synthetic {n}", measure(Path(tmp)))


if __name__ == "__main__":
    main(sys.argv[1:])
