"""blocklists/ through the compiled config: a blocked address gets 403 from the built scaleway-proxy."""

import shutil

import pytest

from conftest import REPO_ROOT, run_built_host

pytestmark = pytest.mark.e2e

BLOCKLIST = """\
entries:
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
