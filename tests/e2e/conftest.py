"""Fixtures for the end-to-end suite: real nginx on 127.0.0.1 high ports, stopped in finalizers."""

import shutil

import pytest

from harness import HostConfig

# What certbot's include contains on OFF's proxies (the file is not in their repository).
LETSENCRYPT_OPTIONS = """\
ssl_session_cache shared:le_nginx_SSL:10m;
ssl_session_timeout 1440m;
ssl_session_tickets off;
ssl_protocols TLSv1.2 TLSv1.3;
ssl_prefer_server_ciphers off;
"""
STUBS = {"/etc/letsencrypt/options-ssl-nginx.conf": LETSENCRYPT_OPTIONS}


def pytest_collection_modifyitems(items):
    if shutil.which("nginx") or shutil.os.path.exists("/usr/sbin/nginx"):
        return
    skip = pytest.mark.skip(reason="nginx is not installed (run scripts/bootstrap.sh)")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


def run_host(request, source_dir, tmp_path_factory, **kw):
    """Prepare ``source_dir`` and start nginx on it; stops nginx and the backends at scope end."""
    workdir = tmp_path_factory.mktemp("nginx")
    config = HostConfig(source_dir, workdir, stubs={**STUBS, **kw.pop("stubs", {})}, **kw)
    request.addfinalizer(config.close)
    running = config.start()
    request.addfinalizer(running.stop)
    return running
