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


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user")
def test_sandbox_passes_nginx_t_as_an_unprivileged_user():
    """The sandbox needs no privilege: high ports, paths in the prefix, no `user` directive."""
    import pwd
    import subprocess

    from proxygen.compile.build import build
    from proxygen.nginx import _certificates, find_nginx, installed_version, run_test, sandbox_adapters

    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    repo = load_repository(REPO)
    nginx = find_nginx()
    host = repo.settings.hosts["scaleway-proxy"]
    import shutil as sh
    import tempfile
    from pathlib import Path

    prefix = Path(tempfile.mkdtemp(prefix="proxygen-unprivileged-"))  # pytest's tmp is root-only
    try:
        _check_as_nobody(repo, host, nginx, prefix)
    finally:
        sh.rmtree(prefix)


def _check_as_nobody(repo, host, nginx, prefix):
    import subprocess

    from proxygen.compile.build import build
    from proxygen.nginx import _certificates, installed_version, run_test, sandbox_adapters

    adapt_host, adapt_settings = sandbox_adapters(prefix, installed_version(nginx))
    out = build(repo, host.name, adapt=lambda h: adapt_host(h).model_copy(update={"user": None}),
                adapt_settings=adapt_settings).hosts[host.name]
    assert "listen 80" not in "".join(out.files.values())
    assert run_test(out.files, prefix, nginx, _certificates(repo, host), host.name, "", "").ok
    subprocess.run(["chown", "-R", "nobody:nogroup", str(prefix)], check=True)
    proc = subprocess.run(["su", "nobody", "-s", "/bin/sh", "-c",
                           f"{nginx} -t -q -e stderr -p {prefix}/ -c {prefix}/nginx.conf"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_real_certificates_are_used_when_present(tmp_path):
    """On the proxy itself the real certificate files are checked; only missing ones get stand-ins."""
    import subprocess

    from proxygen.nginx import throwaway_certificate

    live = tmp_path / "live"
    cert, key = throwaway_certificate(live / "full.example.org")
    settings = copy.deepcopy(SETTINGS)
    settings["hosts"]["edge"]["paths"] = {"certificates": str(live)}
    write_repo(tmp_path, settings=settings)
    [edge] = check_hosts(load_repository(tmp_path), "edge")
    assert edge.ok and edge.stand_ins == []
    # a certificate that is not one: nginx refuses it, so the real files really were used
    cert.write_text("not a certificate\n")
    [edge] = check_hosts(load_repository(tmp_path), "edge")
    assert not edge.ok and "fullchain.pem" in edge.output
    # elsewhere (CI), stand-ins are used and reported
    settings["hosts"]["edge"]["paths"] = {"certificates": str(tmp_path / "nowhere")}
    write_repo(tmp_path, settings=settings)
    [edge] = check_hosts(load_repository(tmp_path), "edge")
    assert edge.ok and edge.stand_ins == ["full.example.org"]
