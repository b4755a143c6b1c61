"""Which status a throttled request gets: nginx has one `limit_req_status` per location (inherited from
the server unless the location sets its own), and it answers every limit_req there, the blocklist's
throttle zones included. simulate reports that status, per request and per rule; real nginx agrees."""

from __future__ import annotations

import http.client
import time
from datetime import datetime, timezone

import polars as pl
import pytest

from nginx_conf import RunningNginx, nginx_test, write_conf

from proxygen.blocklist.render import render_data
from proxygen.blocklist.store import load_blocklists
from proxygen.model.settings import Settings
from proxygen.model.site import Site
from proxygen.simulate.engine import LimitSpec, LocationLimits, Simulator, SiteLimits, ZoneSpec
from proxygen.simulate.rules import BlocklistRules
from tests.ports import free_port
from proxygen.simulate.sites import SiteRules

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)
BLOCKLIST = """\
zones:
  crawl: {rate: 1r/m, burst: 2, nodelay: true}
entries:
  - cidr: 192.0.2.0/24
    action: throttle
    zone: crawl
    reason: throttle test
"""
SETTINGS = {
    "hosts": {"edge": {"nginx_version": "1.22.1", "sites": ["shop"]}},
    "rate_limit_zones": {"glob": {"key": "$glob_key", "rate": "60000r/m"},
                         "api": {"key": "$binary_remote_addr", "rate": "60r/m"}},
    "http": {"access_log_format": "combined"},
}
SITE = {
    "name": "shop", "server_names": ["shop.example.org"], "crawler_defence": True,
    "maps": [{"variable": "$glob_key", "source": "$request_method", "default": "", "entries": [
        {"exact": "GET", "value": "all"}]}],
    "locations": [
        {"path": "/", "proxy": {"url": "http://127.0.0.1:8080"}},
        # own limit_req and its own status: OFF's global zones answer 503
        {"path": "/product/", "proxy": {"url": "http://127.0.0.1:8080"},
         "rate_limits": [{"zone": "glob", "burst": 100, "nodelay": True}], "rate_limit_status": 503},
        # own limit_req, no status of its own: the server's (429, from the crawler-defence snippet)
        {"path": "/api/", "proxy": {"url": "http://127.0.0.1:8080"},
         "rate_limits": [{"zone": "api", "burst": 100, "nodelay": True}]},
        # no limit_req of its own but a status: it answers the inherited blocklist limit with it
        {"path": "/search", "proxy": {"url": "http://127.0.0.1:8080"}, "rate_limit_status": 503},
    ],
}


def _rules(tmp_path):
    (tmp_path / "manual.yml").write_text(BLOCKLIST)
    return BlocklistRules(render_data(load_blocklists(tmp_path), None, NOW))


def _site_rules(**overrides):
    return SiteRules(Site.model_validate({**SITE, **overrides}), Settings.model_validate(SETTINGS))


def _statuses(sim, ip, path, n=5, t=1_000_000):
    return [sim.request(t, ip, "Mozilla/5.0", path).status for _ in range(n)]


def test_a_blocklist_throttle_answers_with_each_locations_status(tmp_path):
    sim = Simulator(_rules(tmp_path), _site_rules())
    # burst 2: three requests pass, then the blocklist zone rejects, with the location's status
    assert _statuses(sim, "192.0.2.1", "/product/1") == [None, None, None, 503, 503]
    assert _statuses(sim, "192.0.2.2", "/api/x") == [None, None, None, 429, 429]
    assert _statuses(sim, "192.0.2.3", "/search?q=x") == [None, None, None, 503, 503]
    assert _statuses(sim, "192.0.2.4", "/about") == [None, None, None, 429, 429]


def test_the_sites_own_server_status_is_inherited(tmp_path):
    sim = Simulator(_rules(tmp_path), _site_rules(rate_limit_status=503))
    assert _statuses(sim, "192.0.2.4", "/about") == [None, None, None, 503, 503]
    assert _statuses(sim, "192.0.2.5", "/api/x") == [None, None, None, 503, 503]
    # a location's own status still wins
    sim = Simulator(_rules(tmp_path), _site_rules(rate_limit_status=503, locations=[
        {**SITE["locations"][2], "rate_limit_status": 429}]))
    assert _statuses(sim, "192.0.2.5", "/api/x") == [None, None, None, 429, 429]


def test_log_replay_reports_the_same_statuses_per_rule(tmp_path):
    rules = _rules(tmp_path)
    rows = [(ip, path) for ip, path in (("192.0.2.1", "/product/1"), ("192.0.2.2", "/api/x"),
                                         ("192.0.2.3", "/search"), ("192.0.2.4", "/about"))
            for _ in range(5)]
    frame = pl.DataFrame({"client_ip": [r[0] for r in rows], "user_agent": ["Mozilla/5.0"] * len(rows),
                          "path": [r[1] for r in rows], "method": ["GET"] * len(rows),
                          "time": [NOW] * len(rows)})
    report = Simulator(rules, _site_rules()).run([frame])
    assert report.statuses() == {"192.0.2.0/24": {429: 4, 503: 4}}
    assert report.rules()["192.0.2.0/24"]["throttled"] == 8


# -- real nginx


def _conf(prefix, data, port):
    """The placements the build renders: the blocklist's limit_req at server level with status 429,
    repeated first in a location with limit_req of its own; limit_req_status per location."""
    bl = "limit_req zone=crawl burst=2 nodelay;"
    zones = """\
    map $request_method $glob_key { default ""; GET all; }
    limit_req_zone $glob_key zone=glob:1m rate=60000r/m;
    limit_req_zone $binary_remote_addr zone=api:1m rate=60r/m;"""
    locations = f"""\
        location / {{ try_files /ok.txt =500; }}
        location /product/ {{ {bl} limit_req zone=glob burst=100 nodelay; limit_req_status 503;
                             try_files /ok.txt =500; }}
        location /api/ {{ {bl} limit_req zone=api burst=100 nodelay; try_files /ok.txt =500; }}
        location /search {{ limit_req_status 503; try_files /ok.txt =500; }}"""
    return write_conf(prefix, data, port, http_extra=zones, locations=locations)


def _get(port, ip, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"X-Forwarded-For": ip, "User-Agent": "Mozilla/5.0"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


@pytest.mark.nginx
@pytest.mark.e2e
def test_real_nginx_answers_what_simulate_predicts(tmp_path):
    blocklists = tmp_path / "blocklists"
    blocklists.mkdir()
    (blocklists / "manual.yml").write_text(BLOCKLIST)
    data = render_data(load_blocklists(blocklists), None, NOW)
    prefix = tmp_path / "nginx"
    port = free_port()
    conf = _conf(prefix, data, port)
    check = nginx_test(conf, prefix)
    assert check.returncode == 0, check.stderr
    sim = Simulator(BlocklistRules(data), SiteLimits("shop", zones={
        "glob": ZoneSpec("glob", 1_000_000, "all"), "api": ZoneSpec("api", 1000, "$binary_remote_addr")},
        locations=[LocationLimits("/"),
                   LocationLimits("/product/", (LimitSpec("glob", 100, True),), status=503),
                   LocationLimits("/api/", (LimitSpec("api", 100, True),)),
                   LocationLimits("/search", status=503)]))
    plan = [(ip, path) for ip, path in (("192.0.2.1", "/product/1"), ("192.0.2.2", "/api/x"),
                                         ("192.0.2.3", "/search"), ("192.0.2.4", "/about"),
                                         ("198.51.100.1", "/product/2")) for _ in range(5)]
    actual, predicted = [], []
    server = RunningNginx(prefix, conf, port)
    try:
        for ip, path in plan:
            sent = int(time.monotonic() * 1000)
            actual.append(_get(port, ip, path))
            predicted.append(sim.request(sent, ip, "Mozilla/5.0", path, "GET").status or 200)
    finally:
        server.stop()
    assert actual == predicted
    assert actual == ([200, 200, 200, 503, 503] + [200, 200, 200, 429, 429] + [200, 200, 200, 503, 503]
                      + [200, 200, 200, 429, 429] + [200] * 5)
