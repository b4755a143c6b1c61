"""blocklists/ through the compiled config: a blocked address gets 403 from the built scaleway-proxy."""

import shutil

import pytest

from conftest import REPO_ROOT, run_built_host

pytestmark = pytest.mark.e2e

BLOCKLIST = """\
zones:
  crawl: {rate: 1r/m, burst: 2, nodelay: true, per: client}
entries:
  - cidr: 198.51.100.0/24
    action: throttle
    zone: crawl
    reason: "hosting range crawl"
    created: 2026-11-01
  - ip: 203.0.113.7
    action: block
    status: 403
    reason: "hammering search"
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


def test_blocked_address_gets_403_others_reach_the_backend(scaleway):
    blocked = scaleway.request("world.openfoodfacts.org", "/product/1", client_ip="203.0.113.7")
    assert blocked.status == 403
    other = scaleway.request("world.openfoodfacts.org", "/product/1", client_ip="203.0.113.8")
    assert other.status == 200 and other.echoed["path"] == "/product/1"



def _five(nginx, path, ip):
    return [nginx.request("world.openfoodfacts.org", path, client_ip=ip).status for _ in range(5)]


def test_throttled_range_gets_429_after_its_burst(scaleway):
    assert _five(scaleway, "/some-page", "198.51.100.9") == [200, 200, 200, 429, 429]
    # another client of the range has its own bucket (per: client); outside the range, no limit
    assert scaleway.request("world.openfoodfacts.org", "/some-page", client_ip="198.51.100.10").status == 200
    assert _five(scaleway, "/some-page", "203.0.113.9") == [200] * 5


def test_location_with_its_own_limits_still_throttles_with_its_own_status(scaleway):
    # The product location has limit_req of its own, so the blocklist's lines are repeated in it;
    # nginx has one limit_req_status per location: the site's 503 there, not 429.
    assert _five(scaleway, "/product/2", "198.51.100.11") == [200, 200, 200, 503, 503]
