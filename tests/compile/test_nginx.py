"""The real `nginx -t` (Debian's nginx) on the built output of every host."""

from __future__ import annotations

import copy
import shutil
import os

import pytest

from proxygen.model import load_repository
from proxygen.nginx import check_hosts

from .conftest import FULL_SITE, REPO, SETTINGS, write_repo

pytestmark = [
    pytest.mark.nginx,
    pytest.mark.skipif(shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"),
                       reason="nginx not installed"),
]


def test_every_shipped_host_passes_nginx_t():
    repo = load_repository(REPO)
    results = check_hosts(repo)
    assert sorted(r.host for r in results) == sorted(repo.settings.hosts)
    for r in results:
        assert r.ok, f"{r.host}: {r.output}"


def test_site_using_every_field_passes_nginx_t(tmp_path):
    write_repo(tmp_path)
    for r in check_hosts(load_repository(tmp_path)):
        assert r.ok, f"{r.host}: {r.output}"


def test_nginx_t_reports_a_real_error(tmp_path):
    """The check can fail: a map with the same source value twice is refused by nginx."""
    site = copy.deepcopy(FULL_SITE)
    site["maps"][0]["entries"].append({"exact": "200", "value": "1"})
    write_repo(tmp_path, sites={"full": site})
    [edge] = [r for r in check_hosts(load_repository(tmp_path), "edge")]
    assert not edge.ok and 'conflicting parameter "200"' in edge.output, edge.output
