"""Dry-run throttle zones as the build places them, under real nginx, against simulate.

nginx has one limit_req_dry_run per block, so the build renders a dry-run zone only where every limit
of the block is dry-run (RenderData.placement). A repository is built with the compiler (an enforced
zone + a dry-run zone; or every zone dry-run), its host runs under real nginx, and one request
sequence goes to a location without limits, one with enforced limits of its own and one with dry-run
limits of its own. simulate, prepared the way `proxygen crawlers simulate --site` prepares it, must
predict every response, and the requests nginx logs as "dry run" rejections, client by client.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from harness import HostConfig  # noqa: E402

from proxygen.compile.build import build  # noqa: E402
from proxygen.compile.output import write_build  # noqa: E402
from proxygen.model import load_repository  # noqa: E402
from proxygen.simulate.run import prepare  # noqa: E402
from throttles import edge_settings  # noqa: E402

pytestmark = [pytest.mark.nginx, pytest.mark.e2e]

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)
HOST = "shop.example.org"
BACKEND = {"url": "http://10.0.0.3:9000"}
SETTINGS = edge_settings("1r/m")
SITE = {
    "server_names": [HOST],
    "crawler_defence": True,
    "pages": ["stop-crawling.txt"],
    "locations": [
        {"path": "/", "proxy": BACKEND},                                      # no limits of its own
        {"path": "/api/", "proxy": BACKEND,                                   # enforced limits of its own
         "rate_limits": [{"zone": "per-ip", "burst": 3, "nodelay": True}]},
        {"path": "/dry/", "proxy": BACKEND,                                   # dry-run limits of its own
         "rate_limits": [{"zone": "per-ip", "nodelay": True}], "rate_limit_dry_run": True},
    ],
}
MIXED = """\
zones:
  enforced: {rate: 1r/m, burst: 2, nodelay: true}
  trial: {rate: 1r/m, burst: 1, nodelay: true, dry_run: true}
entries:
  - cidr: 192.0.2.0/24
    action: throttle
    zone: enforced
    reason: enforced throttle
  - cidr: 198.51.100.0/24
    action: throttle
    zone: trial
    reason: dry-run throttle
  - user_agent: MixBot
    action: throttle
    zone: trial
    reason: dry-run throttle by user agent
"""
ALL_DRY = MIXED.replace("enforced: {rate: 1r/m, burst: 2, nodelay: true}",
                        "enforced: {rate: 1r/m, burst: 2, nodelay: true, dry_run: true}")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
PATHS = {"/": "/page", "/api/": "/api/x", "/dry/": "/dry/x"}
# (client kind, user agent, address prefix): kind "both" is in the enforced range with the dry-run UA
CLIENTS = [("enforced", BROWSER, "192.0.2."), ("trial", BROWSER, "198.51.100."),
           ("both", "MixBot/1.0", "192.0.2."), ("none", BROWSER, "203.0.113.")]
PER_CLIENT = 6


def _plan():
    """(location, kind, ip, user agent, path): six requests per client, one client per location and kind."""
    plan, n = [], 1
    for loc, path in PATHS.items():
        for kind, ua, prefix in CLIENTS:
            plan += [(loc, kind, f"{prefix}{n}", ua, path)] * PER_CLIENT
            n += 1
    return plan


def _repo(root: Path, blocklist: str, other_site: dict | None = None) -> Path:
    (root / "sites").mkdir(parents=True)
    settings = SETTINGS
    if other_site is not None:
        settings = {**SETTINGS, "hosts": {"edge": {"nginx_version": "1.22.1", "sites": ["shop", "other"]}}}
        (root / "sites/other.yml").write_text(yaml.safe_dump(other_site))
    (root / "proxygen.yml").write_text(yaml.safe_dump(settings))
    (root / "sites/shop.yml").write_text(yaml.safe_dump(SITE))
    (root / "blocklists").mkdir()
    (root / "blocklists/manual.yml").write_text(blocklist)
    return root


def _run_nginx(tmp_path, repo: Path, plan, sim):
    """Send `plan` to the built host under nginx; returns (statuses, predicted outcomes, sent ms, error log)."""
    out = tmp_path / "build"
    result = build(load_repository(repo), "edge")
    write_build(result, out)
    config = HostConfig(out / "edge", tmp_path / "nginx")
    actual, predicted, sent = [], [], []
    try:
        running = config.start()
        try:
            for _, _, ip, ua, path in plan:
                t = int(time.monotonic() * 1000)
                sent.append(t)
                actual.append(running.request(HOST, path, port=80, client_ip=ip, user_agent=ua).status)
                predicted.append(sim.request(t, ip, ua, path, "GET"))
            log = running.error_log()
        finally:
            running.stop()
    finally:
        config.close()
    return actual, predicted, sent, log, result.hosts["edge"].warnings


def _dry_run_rejections(log: str) -> Counter:
    """Requests nginx logged as rejected in dry run, per client address."""
    return Counter(re.findall(r"limiting requests, dry run, excess: [0-9.]+ by zone \"[^\"]+\", client: ([0-9.]+),",
                              log))


def _by_client(plan, values) -> dict:
    out: dict = {}
    for (loc, kind, *_), v in zip(plan, values):
        out.setdefault((loc, kind), []).append(v)
    return out


def _agree(tmp_path, blocklist: str, other_site: dict | None = None):
    repo = _repo(tmp_path / "repo", blocklist, other_site)
    plan = _plan()
    prepared = prepare(config=repo / "proxygen.yml", site="shop", now=NOW, good_bots=[])
    actual, outcomes, sent, log, warnings = _run_nginx(tmp_path, repo, plan, prepared.simulator)
    predicted = [o.status or 200 for o in outcomes]
    # request for request: the status nginx answered is the one simulate predicted
    assert [(p[0], p[1], a) for p, a in zip(plan, actual)] == [(p[0], p[1], s) for p, s in zip(plan, predicted)]
    # and the requests nginx logs as dry-run rejections are the ones simulate calls dry-run throttled
    dry_logged = _dry_run_rejections(log)
    dry_predicted = Counter(ip for (_, _, ip, _, _), o in zip(plan, outcomes) if o.kind == "dry_run_throttled")
    assert dry_logged == dry_predicted
    # the log replay (what `crawlers simulate` runs on a file) gives the same per-client outcomes
    frame = pl.DataFrame({"client_ip": [p[2] for p in plan], "user_agent": [p[3] for p in plan],
                          "path": [p[4] for p in plan], "method": ["GET"] * len(plan),
                          "time": [datetime.fromtimestamp(t / 1000, tz=timezone.utc) for t in sent]})
    report = prepare(config=repo / "proxygen.yml", site="shop", now=NOW, good_bots=[]).simulator.run([frame])
    replayed = {c.ip: {k: v for k, v in c.counts.items() if v} for c in report.clients()}
    expected = {}
    for (_, _, ip, _, _), o in zip(plan, outcomes):
        expected.setdefault(ip, Counter())[o.kind] += 1
    assert replayed == {ip: dict(c) for ip, c in expected.items()}
    return _by_client(plan, actual), dry_logged, plan, warnings


def _simulate_warnings(tmp_path) -> list[str]:
    return prepare(config=tmp_path / "repo/proxygen.yml", site="shop", now=NOW, good_bots=[]).simulator.warnings


THROTTLED = [200, 200, 200, 429, 429, 429]     # enforced zone: 1 + burst 2 pass
OWN_API = [200, 200, 200, 200, 429, 429]       # the site's own per-IP limit on /api/: 1 + burst 3 pass


def test_mixed_enforced_and_dry_run_zones_agree_with_nginx(tmp_path):
    statuses, dry_logged, plan, warnings = _agree(tmp_path, MIXED)
    # the enforced zone rejects everywhere (in /dry/ it runs dry with the location's own limits)
    assert statuses[("/", "enforced")] == THROTTLED
    assert statuses[("/api/", "enforced")] == THROTTLED
    assert statuses[("/dry/", "enforced")] == [200] * PER_CLIENT
    # the dry-run zone is not in the server block (the enforced one is) nor in /api/: it never rejects
    assert statuses[("/", "trial")] == [200] * PER_CLIENT
    assert statuses[("/api/", "trial")] == OWN_API
    assert statuses[("/", "both")] == THROTTLED
    assert statuses[("/", "none")] == [200] * PER_CLIENT
    assert statuses[("/api/", "none")] == OWN_API
    # only /dry/ logs dry-run rejections: 5 of 6 per client (the site's burst-0 limit), nothing elsewhere
    ips = {(loc, kind): ip for loc, kind, ip, _, _ in plan}
    assert {ip for ip in dry_logged} == {ips[("/dry/", k)] for k, *_ in CLIENTS}
    assert all(n == PER_CLIENT - 1 for n in dry_logged.values())
    assert any(w.startswith("zone trial: dry_run: not in the crawler-defence server block") for w in warnings)
    note = ("blocklists/ zone trial (dry_run) applies on site shop only where the build renders it "
            "(location /dry/)")
    assert any(w.startswith(note) for w in _simulate_warnings(tmp_path))


def test_all_dry_run_zones_agree_with_nginx(tmp_path):
    statuses, dry_logged, plan, _ = _agree(tmp_path, ALL_DRY)
    # the server block is dry-run: nothing rejects where it applies
    for kind, *_ in CLIENTS:
        assert statuses[("/", kind)] == [200] * PER_CLIENT
    # /api/ keeps its own limit enforced (limit_req_dry_run off) and the dry-run zones are not in it
    for kind, *_ in CLIENTS:
        assert statuses[("/api/", kind)] == OWN_API
    ips = {(loc, kind): ip for loc, kind, ip, _, _ in plan}
    assert dry_logged[ips[("/", "enforced")]] == PER_CLIENT - 3     # burst 2
    assert dry_logged[ips[("/", "trial")]] == PER_CLIENT - 2        # burst 1
    assert ips[("/", "none")] not in dry_logged and ips[("/api/", "trial")] not in dry_logged


# Another crawler-defence site of the host with limits at server level: the shared snippet cannot be
# dry-run (it would make that site's own limits dry-run), so the dry-run zones only apply in /dry/.
OTHER = {"server_names": ["other.example.org"], "crawler_defence": True, "pages": ["stop-crawling.txt"],
         "rate_limits": [{"zone": "per-ip", "burst": 50, "nodelay": True}],
         "locations": [{"path": "/", "proxy": BACKEND}]}


def test_all_dry_run_zones_beside_a_site_with_server_level_limits_agree_with_nginx(tmp_path):
    statuses, dry_logged, plan, warnings = _agree(tmp_path, ALL_DRY, OTHER)
    for kind, *_ in CLIENTS:
        assert statuses[("/", kind)] == [200] * PER_CLIENT
        assert statuses[("/api/", kind)] == OWN_API
    ips = {(loc, kind): ip for loc, kind, ip, _, _ in plan}
    assert not any(ips[("/", kind)] in dry_logged for kind, *_ in CLIENTS)
    assert {ip for ip in dry_logged} == {ips[("/dry/", k)] for k, *_ in CLIENTS}
    assert any("sites/other.yml set rate_limits or rate_limit_dry_run at server level" in w for w in warnings)
