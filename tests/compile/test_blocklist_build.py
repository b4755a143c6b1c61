"""blocklists/ rendered by the build: rules appear in the host's config and real nginx accepts it."""

from __future__ import annotations

import copy
import os
import shutil

import pytest

from proxygen.compile.build import build
from proxygen.errors import ProxygenError
from proxygen.model import load_repository
from proxygen.nginx import check_hosts

from .conftest import write_repo


def _nginx_t(repo):
    results = check_hosts(repo)
    assert results
    for r in results:
        assert r.ok, f"{r.host}: {r.output}"


needs_nginx = pytest.mark.skipif(shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"),
                                 reason="nginx not installed")


BLOCKLIST = """\
zones:
  crawl: {rate: 30r/m, burst: 10, nodelay: true, per: client}
  shared: {rate: 60r/m, burst: 5, per: rule}
entries:
  - ip: 203.0.113.7
    action: block
    status: 403
    reason: "hammering search"
    created: 2026-11-01
  - user_agent: "EvilScraper/1.0"
    action: block
    status: 444
    reason: "ignores robots.txt"
    created: 2026-11-01
  - cidr: 198.51.100.0/24
    action: throttle
    zone: crawl
    reason: "hosting range crawl"
    created: 2026-11-01
  - cidr: 100.64.0.0/24
    action: throttle
    zone: shared
    reason: "one crawler spread over a range"
    created: 2026-11-01
  - asn: 64500
    action: block
    status: 403
    reason: "no ASN database configured in this repository"
    created: 2026-11-01
"""


@pytest.fixture
def repo(tmp_path):
    write_repo(tmp_path)
    (tmp_path / "blocklists").mkdir()
    (tmp_path / "blocklists" / "manual.yml").write_text(BLOCKLIST)
    return load_repository(tmp_path)


def test_blocklist_rules_are_rendered(repo):
    edge = build(repo, "edge").hosts["edge"]
    http = edge.files["crawler-defence/http.conf"]
    assert "203.0.113.7/32 block403;" in http
    assert '"~EvilScraper/1\\\\.0" block444;' in http   # `contains` match: an escaped regex
    assert "198.51.100.0/24 t:crawl;" in http
    assert "t:shared:100.64.0.0/24" in http
    assert "limit_req_zone $proxygen_throttle_crawl zone=crawl:10m rate=30r/m;" in http
    assert "10.0.0.0/8 allow;" in http          # the allowlisted network is exempt
    server = edge.files["snippets/crawler-defence.conf"]
    assert "return 403;" in server and "return 444;" in server
    assert "limit_req zone=crawl burst=10 nodelay;" in server
    # A location with its own limit_req inherits none: the blocklist's come first in it.
    site = edge.files["sites/full.conf"]
    api = site[site.index("location /api/"):]
    api = api[:api.index("}")]
    assert api.index("zone=crawl") < api.index("zone=shared") < api.index("zone=per-ip")
    assert any("ASN" in w and "64500" in w for w in edge.warnings)


@pytest.mark.nginx
@pytest.mark.skipif(shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"),
                    reason="nginx not installed")
def test_blocklist_config_passes_nginx_t(repo):
    results = check_hosts(repo)
    assert results
    for r in results:
        assert r.ok, f"{r.host}: {r.output}"


def test_server_level_rate_limit_status_with_throttles_is_a_clear_error(tmp_path):
    from proxygen.errors import ProxygenError

    from .conftest import FULL_SITE

    site = copy.deepcopy(FULL_SITE)
    site["rate_limit_status"] = 503
    write_repo(tmp_path, sites={"full": site})
    (tmp_path / "blocklists").mkdir()
    (tmp_path / "blocklists" / "manual.yml").write_text(BLOCKLIST)
    with pytest.raises(ProxygenError, match=r"sites/full.yml: rate_limit_status"):
        build(load_repository(tmp_path), "edge")


def test_throttle_zone_named_like_a_rate_limit_zone_is_a_clear_error(tmp_path):
    from proxygen.errors import ProxygenError

    from .conftest import SETTINGS

    settings = copy.deepcopy(SETTINGS)
    settings["rate_limit_zones"]["crawl"] = {"key": "$binary_remote_addr", "rate": "5r/s"}
    write_repo(tmp_path, settings)
    (tmp_path / "blocklists").mkdir()
    (tmp_path / "blocklists" / "manual.yml").write_text(BLOCKLIST)
    with pytest.raises(ProxygenError, match=r"crawl also declared in proxygen.yml rate_limit_zones"):
        build(load_repository(tmp_path), "edge")


ASN_BLOCKLIST = """\
entries:
  - asn: 136907
    action: block
    status: 403
    reason: "distributed crawl from one cloud ASN"
    created: 2026-11-01
"""


def _asn_repo(tmp_path, asn_db, copy_to="asn.mmdb"):
    """A repository whose blocklist has one ASN entry, with crawlers.asn_db = `asn_db` and the
    bundled test database copied to `copy_to`."""
    from pathlib import Path

    from .conftest import SETTINGS

    settings = copy.deepcopy(SETTINGS)
    settings.setdefault("crawlers", {})["asn_db"] = asn_db
    write_repo(tmp_path, settings=settings)
    shutil.copy(Path(__file__).resolve().parents[2] / "examples" / "synthetic-asn.mmdb", tmp_path / copy_to)
    (tmp_path / "blocklists").mkdir()
    (tmp_path / "blocklists" / "manual.yml").write_text(ASN_BLOCKLIST)
    return load_repository(tmp_path)


def test_asn_entry_is_expanded_from_the_configured_database(tmp_path):
    edge = build(_asn_repo(tmp_path, "asn.mmdb"), "edge").hosts["edge"]
    http = edge.files["crawler-defence/http.conf"]
    assert "124.243.128.0/18" in http and "159.138.0.0/16" in http
    assert not any("ASN" in w for w in edge.warnings)


def test_configured_but_missing_asn_database_is_a_clear_error(tmp_path):
    from proxygen.errors import ProxygenError

    with pytest.raises(ProxygenError, match=r"crawlers.asn_db: cannot open .*missing.mmdb"):
        build(_asn_repo(tmp_path, "missing.mmdb"), "edge")


def test_asn_database_and_build_date_are_recorded_in_the_geo(tmp_path):
    import maxminddb
    from datetime import datetime, timezone

    edge = build(_asn_repo(tmp_path, "asn.mmdb"), "edge").hosts["edge"]
    http = edge.files["crawler-defence/http.conf"]
    with maxminddb.open_database(str(tmp_path / "asn.mmdb")) as db:
        built = datetime.fromtimestamp(db.metadata().build_epoch, tz=timezone.utc).date().isoformat()
    geo = http[http.index("geo $proxygen_bl_ip"):]
    geo = geo[:geo.index("}")]
    assert f"    # database asn.mmdb (GeoLite2-ASN), built {built}\n" in geo
    assert "    # AS136907: 2 networks\n" in geo


@needs_nginx
def test_asn_expanded_config_passes_nginx_t(tmp_path):
    _nginx_t(_asn_repo(tmp_path, "asn.mmdb"))


# --- the tarpit page


def test_crawler_defence_without_the_stop_crawling_page_is_a_positioned_error(tmp_path):
    from proxygen.errors import DeclarationError

    from .conftest import FULL_SITE

    site = copy.deepcopy(FULL_SITE)
    site["pages"] = []
    write_repo(tmp_path, sites={"full": site})
    with pytest.raises(DeclarationError, match=r"^sites/full.yml:\d+:\d+: crawler_defence: the crawler-defence "
                                               r"snippet rewrites tarpitted requests to /stop-crawling.txt"):
        build(load_repository(tmp_path), "edge")


def test_a_static_location_of_its_own_serves_the_stop_crawling_page(tmp_path):
    from .conftest import FULL_SITE

    site = copy.deepcopy(FULL_SITE)
    site["pages"] = []
    site["locations"].append({"path": "/stop-crawling.txt", "match": "exact",
                              "return": {"status": 429, "text": "please stop"}})
    write_repo(tmp_path, sites={"full": site})
    assert "sites/full.conf" in build(load_repository(tmp_path), "edge").hosts["edge"].files
    # ... but not one that proxies to the backend
    site["locations"][-1] = {"path": "/stop-crawling.txt", "match": "exact", "proxy": {"upstream": "pool"}}
    write_repo(tmp_path, sites={"full": site})
    with pytest.raises(ProxygenError, match="crawler_defence: the crawler-defence snippet"):
        build(load_repository(tmp_path), "edge")


# --- dry-run throttle zones: rendered only where every limit of the block is dry-run

TRIAL = """\
zones:
  trial: {rate: 10r/m, burst: 5, dry_run: true}
%s
entries:
  - cidr: 198.51.100.0/24
    action: throttle
    zone: trial
    reason: "trying a limit before enforcing it"
    created: 2026-11-01
  - cidr: 198.51.101.0/24
    action: throttle
    zone: %s
    reason: "hosting range crawl"
    created: 2026-11-01
"""
ALL_DRY = TRIAL % ("", "trial")
MIXED = TRIAL % ("  crawl: {rate: 30r/m, burst: 10}", "crawl")


def _dry_repo(tmp_path, blocklist, server_limits=False, api_dry_run=True):
    from .conftest import FULL_SITE

    site = copy.deepcopy(FULL_SITE)   # /api/ has limits of its own and rate_limit_dry_run: true
    site["locations"].insert(1, {"path": "/search", "rate_limits": [{"zone": "per-ip", "burst": 5}],
                                 "proxy": {"upstream": "pool"}})   # limits of its own, enforced
    site["locations"][0]["rate_limit_dry_run"] = api_dry_run
    if server_limits:
        site["rate_limits"] = [{"zone": "per-ip", "burst": 20}]
    write_repo(tmp_path, sites={"full": site})
    (tmp_path / "blocklists").mkdir()
    (tmp_path / "blocklists" / "manual.yml").write_text(blocklist)
    return load_repository(tmp_path)


def _location(conf: str, path: str) -> str:
    block = conf[conf.index(f"location {path} {{"):]
    return block[:block.index("}")]


@needs_nginx
def test_all_dry_run_zones_run_dry_at_server_level_and_leave_enforced_locations_alone(tmp_path):
    repo = _dry_repo(tmp_path, ALL_DRY)
    edge = build(repo, "edge").hosts["edge"]
    server = edge.files["snippets/crawler-defence.conf"]
    assert "limit_req zone=trial burst=5 nodelay;\nlimit_req_status 429;\nlimit_req_dry_run on;\n" in server
    site = edge.files["sites/full.conf"]
    # A dry-run location takes the zone; an enforced one is set back to enforcing, without it.
    api = _location(site, "/api/")
    assert "limit_req zone=trial" in api and api.count("limit_req_dry_run") == 1 and "limit_req_dry_run on;" in api
    search = _location(site, "/search")
    assert "zone=trial" not in search and "limit_req_dry_run off;" in search and "zone=per-ip burst=5;" in search
    assert [w for w in edge.warnings if w.startswith("zone trial")] == [
        "zone trial: dry_run: not applied where a location's own limit_req is enforced (nginx's limit_req_dry_run "
        "covers every limit of a location): sites/full.yml location /search; replay a log with "
        "`proxygen crawlers simulate LOG --site full` to see what it would do"]
    _nginx_t(repo)


@needs_nginx
def test_dry_run_zone_beside_an_enforced_one_goes_only_into_dry_run_locations(tmp_path):
    repo = _dry_repo(tmp_path, MIXED)
    edge = build(repo, "edge").hosts["edge"]
    server = edge.files["snippets/crawler-defence.conf"]
    assert "limit_req zone=crawl burst=10 nodelay;" in server
    assert "zone=trial" not in server and "\nlimit_req_dry_run on;" not in server
    site = edge.files["sites/full.conf"]
    api = _location(site, "/api/")
    assert api.index("zone=crawl") < api.index("zone=trial") < api.index("zone=per-ip")
    search = _location(site, "/search")
    assert "zone=crawl" in search and "zone=trial" not in search and "limit_req_dry_run" not in search
    assert "limit_req_zone $proxygen_throttle_trial zone=trial:10m" in edge.files["crawler-defence/http.conf"]
    trial = [w for w in edge.warnings if w.startswith("zone trial")]
    assert len(trial) == 1 and "since zone(s) crawl are enforced there" in trial[0]
    assert "applied only in dry-run sites/full.yml location /api/;" in trial[0]
    assert ("sites/full.yml location /api/: rate_limit_dry_run: true also makes blocklists/ throttle zone(s) "
            "crawl dry-run there") in edge.warnings
    _nginx_t(repo)


@needs_nginx
def test_server_level_site_limits_keep_dry_run_zones_out_of_the_server_block(tmp_path):
    repo = _dry_repo(tmp_path, ALL_DRY, server_limits=True)
    edge = build(repo, "edge").hosts["edge"]
    server = edge.files["snippets/crawler-defence.conf"]
    assert "zone=trial" not in server and "\nlimit_req_dry_run on;" not in server
    trial = [w for w in edge.warnings if w.startswith("zone trial")]
    assert len(trial) == 1 and "sites/full.yml set rate_limits or rate_limit_dry_run at server level" in trial[0]
    _nginx_t(repo)


def test_dry_run_zone_used_nowhere_is_not_declared(tmp_path):
    repo = _dry_repo(tmp_path, MIXED, api_dry_run=False)   # no dry-run location left
    edge = build(repo, "edge").hosts["edge"]
    http = edge.files["crawler-defence/http.conf"]
    assert "zone=trial" not in http and "limit_req_zone $proxygen_throttle_crawl" in http
    assert any(w.startswith("zone trial: dry_run: not in the crawler-defence server block") and "; not rendered;" in w
               for w in edge.warnings)
