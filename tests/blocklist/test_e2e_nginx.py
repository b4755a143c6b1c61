"""Real nginx on 127.0.0.1 vs simulate: blocked IPs/UAs, throttling after the burst, allowlisted
clients passing, and the simulator predicting every response of the same request sequence."""

from __future__ import annotations

import http.client
import ipaddress
import random
import time
from collections import Counter
from datetime import datetime, timezone

import polars as pl

import pytest

from nginx_conf import RunningNginx, nginx_test, write_conf

from proxygen.blocklist.render import render_data
from proxygen.blocklist.store import load_blocklists
from proxygen.model.allowlists import Allowlists
from proxygen.simulate.engine import Simulator
from proxygen.simulate.rules import BlocklistRules
from tests.ports import free_port

pytestmark = [pytest.mark.nginx, pytest.mark.e2e]

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)

BLOCKLIST = """\
zones:
  crawl: {rate: 1r/m, burst: 3, nodelay: true}
  fast: {rate: 2r/s, burst: 1, nodelay: true}
  shared: {rate: 1r/m, burst: 2, nodelay: true, per: rule}
entries:
  - ip: 203.0.113.7
    action: block
    reason: scraper
  - cidr: 198.51.100.0/24
    action: block
    status: 444
    reason: hosting range used by a distributed crawl
  - user_agent: EvilBot
    action: block
    reason: ignores robots.txt
  - user_agent: Exact Scraper 1.0
    match: exact
    action: block
    reason: exact UA
  - user_agent: StopMe
    action: tarpit
    reason: tarpit test
  - cidr: 192.0.2.0/24
    action: throttle
    zone: crawl
    reason: throttle test
  - ip: 192.0.2.99
    action: throttle
    zone: fast
    reason: leak test
  - cidr: 100.64.0.0/16
    action: throttle
    zone: shared
    reason: one bucket for the whole network
  - ip: 203.0.113.200
    action: block
    reason: expired
    expires: 2026-01-01
"""

ALLOW = Allowlists.model_validate({
    "networks": [{"cidr": "192.0.2.50/32", "reason": "monitoring"},
                 {"cidr": "198.51.100.10/32", "reason": "partner"}],
    "user_agents": [{"pattern": "OFF-Smoothie", "match": "contains", "reason": "our app"}],
})


def _sequence():
    """(ip, user agent, pause-before seconds) in sending order."""
    seq = []
    add = lambda ip, ua="Mozilla/5.0 (X11) Firefox/120.0", pause=0.0: seq.append((ip, ua, pause))
    add("203.0.113.7")                       # 403
    add("198.51.100.20")                     # 444
    add("198.51.100.10")                     # allowlisted inside the 444 range: 200
    add("10.1.2.3", "Mozilla/5.0 EvilBot/2")  # 403 by UA
    add("10.1.2.3", "exact scraper 1.0")      # 403: exact matches ignore case, like nginx's hash
    add("10.1.2.3", "Exact Scraper 1.0 extra")  # 200: not an exact match
    add("10.1.2.4", "StopMe/1.0")             # tarpit
    add("10.1.2.5", "EvilBot OFF-Smoothie")   # allowlisted UA: 200
    add("203.0.113.200")                      # expired rule: 200
    for _ in range(6):
        add("192.0.2.1")                      # 4 pass (burst 3), then 429
    for _ in range(3):
        add("192.0.2.2")                      # own bucket: 3 more pass
    for _ in range(5):
        add("192.0.2.50")                     # allowlisted inside the throttled range: all 200
    for i in range(5):
        add(f"100.64.{i}.1")                  # shared bucket: 3 pass, then 429 whatever the address
    add("192.0.2.99")
    add("192.0.2.99")
    add("192.0.2.99")                         # 429 (burst 1)
    add("192.0.2.99", pause=1.2)              # bucket fully leaked: 200 (excess 0)
    add("192.0.2.99")                         # excess ~1000 <= burst: 200
    add("192.0.2.99")                         # 429 again
    return seq


def _send(port, ip, ua):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/", headers={"X-Forwarded-For": ip, "User-Agent": ua})
        resp = conn.getresponse()
        body = resp.read().decode()
        if resp.status == 200 and body.strip() == "tarpit":
            return "tarpitted"
        return resp.status
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return 444
    finally:
        conn.close()


def _predicted(outcome):
    if outcome.kind == "tarpitted":
        return "tarpitted"
    if outcome.kind in ("blocked", "throttled"):
        return outcome.status
    return 200


@pytest.fixture
def blocklist_dir(tmp_path):
    d = tmp_path / "blocklists"
    d.mkdir()
    (d / "manual.yml").write_text(BLOCKLIST)
    return d


def test_nginx_and_simulate_agree_request_for_request(blocklist_dir, tmp_path):
    data = render_data(load_blocklists(blocklist_dir), None, NOW, allowlists=ALLOW)
    prefix = tmp_path / "nginx"
    port = free_port()
    conf = write_conf(prefix, data, port)
    check = nginx_test(conf, prefix)
    assert check.returncode == 0, check.stderr
    sim = Simulator(BlocklistRules(data))
    actual, predicted, sent = [], [], []
    server = RunningNginx(prefix, conf, port)
    try:
        for ip, ua, pause in _sequence():
            if pause:
                time.sleep(pause)
            sent_ms = int(time.monotonic() * 1000)
            sent.append((sent_ms, ip, ua))
            actual.append(_send(port, ip, ua))
            predicted.append(_predicted(sim.request(sent_ms, ip, ua, "/")))
    finally:
        server.stop()
    # The log replay path (what `crawlers simulate` runs) predicts the same counts per client.
    frame = pl.DataFrame({"client_ip": [s[1] for s in sent], "user_agent": [s[2] for s in sent],
                          "path": ["/"] * len(sent),
                          "time": [datetime.fromtimestamp(s[0] / 1000, tz=timezone.utc) for s in sent]})
    report = Simulator(BlocklistRules(data)).run([frame])
    by_client: dict[str, Counter] = {}
    for (_, ip, _), status in zip(sent, actual):
        by_client.setdefault(ip, Counter())[status] += 1
    replayed = {c.ip: Counter({s: n for s, n in (("allowed", c.counts["allowed"]), ("throttled", c.counts["throttled"]),
                                                 ("blocked", c.counts["blocked"]), ("tarpitted", c.counts["tarpitted"]))
                                if n}) for c in report.clients()}
    kinds = {200: "allowed", 429: "throttled", 403: "blocked", 444: "blocked", "tarpitted": "tarpitted"}
    as_outcomes = {}
    for ip, counts in by_client.items():
        as_outcomes[ip] = Counter()
        for status, n in counts.items():
            as_outcomes[ip][kinds[status]] += n
    assert replayed == as_outcomes
    seq = _sequence()
    assert [(s[0], a) for s, a in zip(seq, actual)] == [(s[0], p) for s, p in zip(seq, predicted)]
    # and the behaviour itself is what the rules say
    assert actual[:9] == [403, 444, 200, 403, 403, 200, "tarpitted", 200, 200]
    assert actual[9:15] == [200, 200, 200, 200, 429, 429]
    assert actual[15:18] == [200, 200, 200]
    assert actual[18:23] == [200] * 5
    assert actual[23:28] == [200, 200, 200, 429, 429]
    assert actual[28:] == [200, 200, 429, 200, 200, 429]


def test_100000_entry_blocklist_passes_nginx_t(tmp_path):
    rng = random.Random(7)
    lines = ["zones:", "  crawl: {rate: 30r/m, burst: 10}", "entries:"]
    seen = set()
    while len(seen) < 100_000:
        addr = ipaddress.IPv4Address(rng.randrange(0x0B000000, 0xDF000000))
        if rng.random() < 0.2:
            key = f"cidr: {ipaddress.ip_network(f'{addr}/24', strict=False)}"
        else:
            key = f"ip: {addr}"
        if key in seen:
            continue
        seen.add(key)
        action = "action: throttle\n    zone: crawl" if rng.random() < 0.1 else "action: block"
        lines.append(f"  - {key}\n    {action}\n    reason: r")
    for i in range(3000):
        lines.append(f"  - user_agent: \"Scraper-{i:05d}/{'x' * (i % 300)}\"\n    match: exact\n    action: block\n"
                     "    reason: r")
    d = tmp_path / "blocklists"
    d.mkdir()
    (d / "analyzer.yml").write_text("\n".join(lines) + "\n")
    data = render_data(load_blocklists(d), None, NOW, allowlists=ALLOW)
    assert len(data.geo) > 50_000 and len(data.ua_exact) == 3000
    prefix = tmp_path / "nginx"
    conf = write_conf(prefix, data, free_port())
    check = nginx_test(conf, prefix)
    assert check.returncode == 0, check.stderr
