"""simulate: log batches give the same answers as request-by-request replay; site declarations'
zones, maps, rules and locations are evaluated the nginx way."""

from datetime import datetime, timedelta, timezone

import polars as pl

from proxygen.blocklist.render import render_data
from proxygen.blocklist.store import load_blocklists
from proxygen.model.allowlists import Allowlists
from proxygen.model.settings import Settings
from proxygen.model.site import Site
from proxygen.simulate.engine import OUTCOMES, LimitSpec, LocationLimits, Simulator, SiteLimits, ZoneSpec
from proxygen.simulate.rules import BlocklistRules
from proxygen.simulate.sites import SiteRules

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)
BLOCKLIST = """\
zones:
  crawl: {rate: 6r/m, burst: 2}
entries:
  - cidr: 192.0.2.0/24
    action: throttle
    zone: crawl
    reason: r
  - user_agent: EvilBot
    action: block
    reason: r
"""


def _data(tmp_path, allow=None):
    (tmp_path / "manual.yml").write_text(BLOCKLIST)
    return render_data(load_blocklists(tmp_path), None, NOW, allowlists=allow)


def _frame(rows):
    return pl.DataFrame({
        "client_ip": [r[1] for r in rows],
        "time": [NOW + timedelta(seconds=r[0]) for r in rows],
        "user_agent": [r[2] for r in rows],
        "path": [r[3] for r in rows],
        "method": ["GET"] * len(rows),
    })


BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
ROWS = ([(i * 2, "192.0.2.1", BROWSER, "/") for i in range(20)]
        + [(i, "198.51.100.1", "EvilBot/1", "/") for i in range(5)]
        + [(i * 0.1, "203.0.113.9", "curl/8", "/api/x") for i in range(30)]
        + [(i * 30, "203.0.113.10", "Mozilla/5.0 (X11; Linux) Firefox/120.0", "/") for i in range(4)])
SITE_LIMITS = SiteLimits("s", zones={"api": ZoneSpec("api", 1000, "$binary_remote_addr")},
                         locations=[LocationLimits("/api/", (LimitSpec("api", 5, True),), False, 503),
                                    LocationLimits("/")])


def test_batches_and_single_requests_agree(tmp_path):
    data = _data(tmp_path)
    rows = sorted(ROWS)
    batch = Simulator(BlocklistRules(data), SITE_LIMITS).run([_frame(rows[:25]), _frame(rows[25:])])
    single = Simulator(BlocklistRules(data), SITE_LIMITS)
    expected: dict[str, dict[str, int]] = {}
    for t, ip, ua, path in rows:
        o = single.request(int((NOW + timedelta(seconds=t)).timestamp() * 1000), ip, ua, path)
        expected.setdefault(ip, {n: 0 for n in OUTCOMES})[o.kind] += 1
    got = {c.ip: c.counts for c in batch.clients()}
    assert got == expected
    # and the numbers themselves: 6r/m (100 milli/s), burst 2, one request every 2 s: t=0, 2, 4 pass
    # (excess 0, 800, 1600); t=6, 8 fail (2400, 2200); t=10 passes at exactly 2000; then every 10 s.
    assert expected["192.0.2.1"]["allowed"] == 6 and expected["192.0.2.1"]["throttled"] == 14
    assert expected["198.51.100.1"] == {**{n: 0 for n in OUTCOMES}, "blocked": 5}
    assert expected["203.0.113.9"]["throttled"] == 30 - 6 - 2  # 1 r/s, burst 5, over 3 s
    rules = batch.rules()
    assert rules["192.0.2.0/24"]["throttled"] == 14 and rules["ua~contains:EvilBot"]["blocked"] == 5
    assert rules["api"]["throttled"] == 22


def test_collateral_lists_allowlisted_and_low_rate_browsers(tmp_path):
    allow = Allowlists.model_validate({"networks": [{"cidr": "203.0.113.9/32", "reason": "partner"}]})
    data = _data(tmp_path, allow)
    report = Simulator(BlocklistRules(data), SITE_LIMITS).run([_frame(sorted(ROWS))])
    why = {c.client.ip: c.why for c in report.collateral(allowlists=allow)}
    # the partner is exempt from blocklists/ but not from the site's per-IP /api/ zone: reported
    assert why["203.0.113.9"].startswith("allowlisted network 203.0.113.9/32")
    assert "192.0.2.1" in why and why["192.0.2.1"].startswith("browser at")
    assert "198.51.100.1" not in why           # EvilBot is no browser
    assert "203.0.113.10" not in why           # never hit


SETTINGS = {
    "hosts": {"edge": {"nginx_version": "1.22.1", "sites": ["shop"]}},
    "rate_limit_zones": {"per_ip": {"key": "$rl_key", "rate": "60r/m"},
                         "global": {"key": "$global_key", "rate": "120r/m"}},
    "allowlists": {"networks": [{"cidr": "10.0.0.0/8", "reason": "internal"}]},
    "http": {"access_log_format": "combined"},
}
SITE = {
    "name": "shop", "server_names": ["shop.example.org"],
    "rules": [{"variable": "$bad_ua", "equals": "1", "return": 403}],
    "maps": [
        {"variable": "$bad_ua", "source": "$http_user_agent", "default": "0",
         "entries": [{"regex": "scrapy", "ignore_case": True, "value": "1"}]},
        {"variable": "$rl_key", "source": "$proxygen_allowlisted_ip", "default": "$binary_remote_addr",
         "entries": [{"exact": "1", "value": ""}]},
        {"variable": "$global_key", "source": "$request_method", "default": "",
         "entries": [{"exact": "get", "value": "all"}]},
    ],
    "rate_limits": [{"zone": "per_ip", "burst": 1, "nodelay": True}],
    "rate_limit_status": 429,
    "locations": [
        {"path": "/", "proxy": {"url": "http://127.0.0.1:8080"}},
        {"path": "/search", "proxy": {"url": "http://127.0.0.1:8080"},
         "rate_limits": [{"zone": "global", "nodelay": True}], "rate_limit_dry_run": True},
        {"path": "^/s", "match": "regex", "proxy": {"url": "http://127.0.0.1:8080"}},
        {"path": "/stop", "match": "exact", "return": 200},
    ],
}


def test_site_declaration_zones_maps_rules_and_locations():
    settings = Settings.model_validate(SETTINGS)
    site = SiteRules(Site.model_validate(SITE), settings)
    paths = {p: site.location_for(p) for p in ["/", "/product/1", "/search?q", "/s", "/stop", "/stopx"]}
    # exact wins; a regex beats a prefix; otherwise the longest prefix
    assert paths == {"/": 0, "/product/1": 0, "/search?q": 2, "/s": 2, "/stop": 3, "/stopx": 2}
    sim = Simulator(None, site)
    t = 1_000_000
    kinds = [sim.request(t, "198.51.100.1", "Mozilla/5.0", "/p").kind for _ in range(3)]
    assert kinds == ["allowed", "allowed", "throttled"]      # site-level zone, burst 1, status 429
    assert sim.request(t, "198.51.100.1", "Mozilla/5.0", "/p").status == 429
    assert [sim.request(t, "10.1.1.1", "Mozilla/5.0", "/p").kind for _ in range(5)] == ["allowed"] * 5  # empty key
    o = sim.request(t, "198.51.100.2", "Scrapy/2.0", "/p")
    assert (o.kind, o.status, o.rule) == ("blocked", 403, "shop: site rules[0] ($bad_ua)")
    # /stop answers with `return`, which nginx runs before limit_req: never limited
    assert sim.request(t, "198.51.100.1", "Mozilla/5.0", "/stop").kind == "allowed"
    # /stopx (the regex ^/s, no limit_req of its own) inherits the site's per-IP zone
    assert sim.request(t, "198.51.100.1", "Mozilla/5.0", "/stopx").kind == "throttled"
    # a location-level limit replaces the site's (nginx inheritance) and its dry run is reported
    sim2 = Simulator(None, SiteRules(Site.model_validate({**SITE, "locations": [SITE["locations"][1]]}), settings))
    kinds = [sim2.request(t, f"198.51.100.{i}", "Mozilla/5.0", "/search", "GET").kind for i in range(4)]
    assert kinds == ["allowed", "dry_run_throttled", "dry_run_throttled", "dry_run_throttled"]
    assert sim2.request(t, "198.51.100.9", "Mozilla/5.0", "/search", "POST").kind == "allowed"  # key empty
