"""blocklists/ rendered by the build: rules appear in the host's config and real nginx accepts it."""

from __future__ import annotations

import copy
import os
import shutil

import pytest

from proxygen.compile.build import build
from proxygen.model import load_repository
from proxygen.nginx import check_hosts

from .conftest import write_repo

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


def _asn_repo(tmp_path, asn_db):
    from pathlib import Path

    from .conftest import SETTINGS

    settings = copy.deepcopy(SETTINGS)
    settings.setdefault("crawlers", {})["asn_db"] = asn_db
    write_repo(tmp_path, settings=settings)
    shutil.copy(Path(__file__).resolve().parents[2] / "examples" / "synthetic-asn.mmdb", tmp_path / "asn.mmdb")
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
