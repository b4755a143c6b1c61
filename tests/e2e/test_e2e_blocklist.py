"""blocklists/ through the compiled config: the built scaleway-proxy with a blocklist, under real nginx.

One nginx for the module (each test uses its own client addresses, so buckets never collide)."""

import http.client
import re
import shutil
import ssl

import pytest

from conftest import PAGES, REPO_ROOT, run_built_host
from harness import _connect

pytestmark = pytest.mark.e2e

HOST = "world.openfoodfacts.org"
BLOCKLIST = """\
zones:
  crawl: {rate: 1r/m, burst: 2, nodelay: true, per: client}
  shared: {rate: 1r/m, burst: 2, nodelay: true, per: rule}
entries:
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
  - ip: 203.0.113.7
    action: block
    status: 403
    reason: "hammering search"
    created: 2026-11-01
  - ip: 203.0.113.44
    action: block
    status: 444
    reason: "ignores 403s"
    created: 2026-11-01
  - ip: 203.0.113.66
    action: tarpit
    reason: "crawls product pages in a loop"
    created: 2026-11-01
  - user_agent: EvilScraper
    action: block
    status: 403
    reason: "ignores robots.txt"
    created: 2026-11-01
  - cidr: 151.115.0.0/16
    action: block
    status: 403
    reason: "a hosting provider's range (its 151.115.132.0/24 is allowlisted in proxygen.yml)"
    created: 2026-11-01
"""


@pytest.fixture(scope="module")
def scaleway(request, tmp_path_factory):
    from proxygen.compile.build import build
    from proxygen.compile.output import write_build
    from proxygen.model import load_repository

    repo = tmp_path_factory.mktemp("repo")
    shutil.copy(REPO_ROOT / "proxygen.yml", repo / "proxygen.yml")
    shutil.copytree(REPO_ROOT / "sites", repo / "sites")
    (repo / "blocklists").mkdir()
    (repo / "blocklists" / "manual.yml").write_text(BLOCKLIST)
    out = tmp_path_factory.mktemp("build")
    write_build(build(load_repository(repo), "scaleway-proxy"), out)
    return run_built_host(request, out, tmp_path_factory, "scaleway-proxy")


def _backend_requests(nginx) -> int:
    return sum(len(b.requests) for b in nginx.config.backends.values())


def _get(nginx, path="/product/1", ip="192.0.2.200", **kw):
    return nginx.request(HOST, path, client_ip=ip, **kw)


def test_blocked_address_gets_403_others_reach_the_backend(scaleway):
    before = _backend_requests(scaleway)
    blocked = _get(scaleway, ip="203.0.113.7")
    assert blocked.status == 403 and blocked.header("X-Echo-Backend") is None
    assert _backend_requests(scaleway) == before
    other = _get(scaleway, ip="203.0.113.8")
    assert other.status == 200 and other.echoed["path"] == "/product/1"


def test_blocked_user_agent_gets_403_from_any_address(scaleway):
    before = _backend_requests(scaleway)
    for ip in ("192.0.2.10", "192.0.2.11"):
        r = _get(scaleway, ip=ip, user_agent="Mozilla/5.0 (compatible; EvilScraper/2.1)")
        assert r.status == 403 and r.header("X-Echo-Backend") is None
    assert _backend_requests(scaleway) == before
    assert _get(scaleway, ip="192.0.2.10").status == 200   # the same address with a browser's UA


def _raw_exchange(nginx, ip: str) -> bytes:
    """Send one request over TLS and return every byte nginx sends back before closing."""
    sock = _connect(nginx.config, 443, None, HOST, True, 5.0)
    received = b""
    try:
        sock.sendall(f"GET /product/1 HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: proxygen-e2e\r\n"
                     f"X-Forwarded-For: {ip}\r\nConnection: close\r\n\r\n".encode())
        while True:
            try:
                chunk = sock.recv(4096)
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
    finally:
        sock.close()
    return received


def test_444_closes_the_connection_without_a_response(scaleway):
    before = _backend_requests(scaleway)
    assert _raw_exchange(scaleway, "203.0.113.44") == b""
    assert _backend_requests(scaleway) == before
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, ssl.SSLEOFError)):
        _get(scaleway, ip="203.0.113.44")
    # the same exchange from another address gets a whole response
    assert _raw_exchange(scaleway, "203.0.113.45").startswith(b"HTTP/1.1 200 ")


def test_tarpit_serves_the_stop_crawling_page_and_never_reaches_the_backend(scaleway):
    before = _backend_requests(scaleway)
    for path in ("/product/1", "/api/v2/product/1.json", "/cgi/search.pl?q=x", "/"):
        r = _get(scaleway, path, ip="203.0.113.66")
        assert r.status == 200, path
        assert r.body.decode() == PAGES["stop-crawling.txt"], path
        assert r.header("X-Echo-Backend") is None
    assert _backend_requests(scaleway) == before


def _five(nginx, path, ip):
    return [_get(nginx, path, ip=ip).status for _ in range(5)]


def test_throttled_range_gets_429_after_its_burst_with_a_bucket_per_client(scaleway):
    # Two clients of the range, interleaved: each has its own bucket (per: client).
    a, b = [], []
    for _ in range(5):
        a.append(_get(scaleway, "/some-page", ip="198.51.100.9").status)
        b.append(_get(scaleway, "/some-page", ip="198.51.100.10").status)
    assert a == [200, 200, 200, 429, 429]
    assert b == [200, 200, 200, 429, 429]
    # outside the range, no limit
    assert _five(scaleway, "/some-page", "203.0.113.9") == [200] * 5


def test_per_rule_zone_shares_one_bucket_across_the_range(scaleway):
    # per: rule -- the whole /24 is one bucket: a second address is limited by the first one's requests.
    assert _five(scaleway, "/some-page", "100.64.0.1")[:3] == [200, 200, 200]
    assert _get(scaleway, "/some-page", ip="100.64.0.2").status == 429


def test_location_with_its_own_limits_still_throttles_with_its_own_status(scaleway):
    # The product location has limit_req of its own, so the blocklist's lines are repeated in it;
    # nginx has one limit_req_status per location: the site's 503 there, not 429.
    assert _five(scaleway, "/product/2", "198.51.100.11") == [200, 200, 200, 503, 503]


def test_allowlisted_clients_pass_every_rule(scaleway):
    # An allowlisted network inside a blocked range: the range is blocked, the allowlisted part is not.
    assert _get(scaleway, ip="151.115.1.1").status == 403
    ok = _get(scaleway, ip="151.115.132.5")
    assert ok.status == 200 and ok.echoed["path"] == "/product/1"
    # An allowlisted network with a blocked user agent, and an allowlisted user agent from a blocked address.
    assert _get(scaleway, ip="10.1.2.3", user_agent="EvilScraper").status == 200
    assert _get(scaleway, ip="203.0.113.7", user_agent="Smoothie/3.1 (Android)").status == 200
    assert _get(scaleway, ip="203.0.113.66", user_agent="Smoothie/3.1 (Android)").echoed["path"] == "/product/1"
    # ... and is never throttled by a blocklist zone.
    assert _five(scaleway, "/some-page", "151.115.132.6") == [200] * 5


# --- a dry-run zone (every zone dry-run: limit_req_dry_run on in the server block)

DRY_RUN_BLOCKLIST = """\
zones:
  trial: {rate: 1r/m, burst: 1, nodelay: true, dry_run: true}
entries:
  - cidr: 198.51.100.0/24
    action: throttle
    zone: trial
    reason: "trying a limit before enforcing it"
    created: 2026-11-01
"""


@pytest.fixture(scope="module")
def scaleway_dry_run(request, tmp_path_factory):
    from proxygen.compile.build import build
    from proxygen.compile.output import write_build
    from proxygen.model import load_repository

    repo = tmp_path_factory.mktemp("repo-dry")
    shutil.copy(REPO_ROOT / "proxygen.yml", repo / "proxygen.yml")
    shutil.copytree(REPO_ROOT / "sites", repo / "sites")
    (repo / "blocklists").mkdir()
    (repo / "blocklists" / "manual.yml").write_text(DRY_RUN_BLOCKLIST)
    out = tmp_path_factory.mktemp("build-dry")
    write_build(build(load_repository(repo), "scaleway-proxy"), out)
    return run_built_host(request, out, tmp_path_factory, "scaleway-proxy")


def test_dry_run_zone_never_rejects_and_is_logged(scaleway_dry_run):
    # The assets location has no limit_req of its own: it inherits the server's dry-run zone.
    statuses = [_get(scaleway_dry_run, f"/css/{i}.css", ip="198.51.100.20").status for i in range(5)]
    assert statuses == [200] * 5
    # 1 request plus a burst of 1 pass; the 3 others would have been rejected: nginx logs each.
    logged = re.findall(r'limiting requests, dry run, excess: [0-9.]+ by zone "trial", client: 198\.51\.100\.20,',
                        scaleway_dry_run.error_log())
    assert len(logged) == 3


def test_dry_run_server_block_leaves_the_sites_own_limits_enforced(scaleway_dry_run):
    # Location / has its own per-IP limit (15r/m, burst 10): it gets limit_req_dry_run off, so the
    # site's limit still answers 429 after 11 requests instead of turning dry-run with the server block.
    statuses = [_get(scaleway_dry_run, "/some-page", ip="198.51.100.21").status for _ in range(12)]
    assert statuses == [200] * 11 + [429]
