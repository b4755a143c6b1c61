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


REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
HTML = "/opt/openfoodfacts-infrastructure/html"
PAGES = {
    "502.html": "<h1>502: Open Food Facts backend is down</h1>\n",
    "503.html": "<h1>503: Open Food Facts is busy</h1>\n",
    "stop-crawling.txt": "Please do not crawl: use the data exports at https://world.openfoodfacts.org/data\n",
    "contact-us.txt": "Please contact us: contact@openfoodfacts.org\n",
}


@pytest.fixture(scope="session")
def built_repo(tmp_path_factory):
    """`proxygen build` of this repository's proxygen.yml + sites/ into a temp dir (once per run)."""
    from proxygen.compile.build import build
    from proxygen.compile.output import write_build
    from proxygen.model import load_repository

    out = tmp_path_factory.mktemp("build")
    write_build(build(load_repository(REPO_ROOT)), out)
    return out


def run_built_host(request, built_repo, tmp_path_factory, host, **kw):
    """Run one built host under nginx, with the shared pages (error pages, stop-crawling) in place."""
    running = run_host(request, built_repo / host, tmp_path_factory, **kw)
    html = running.config.fs_path(HTML)
    html.mkdir(parents=True, exist_ok=True)
    for name, text in PAGES.items():
        (html / name).write_text(text)
    return running


def burst_from_one_client(nginx, host, path, n, client_ip, *, workers=8, timeout=10.0, **kw):
    """Send `n` requests from one client IP, `workers` at a time; return (responses, seconds).

    A request still waiting when `timeout` runs out (e.g. queued by a limit_req burst without
    nodelay) is returned as None.
    """
    import socket
    import time
    from concurrent.futures import ThreadPoolExecutor

    def one(_):
        try:
            return nginx.request(host, path, client_ip=client_ip, timeout=timeout, **kw)
        except (socket.timeout, TimeoutError):
            return None

    start = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        responses = list(pool.map(one, range(n)))
    return responses, time.monotonic() - start


def assert_per_ip_limit(responses, seconds, *, burst, per_minute):
    """nodelay limit: 1 + burst requests pass at once, plus what the bucket drains meanwhile; the rest
    are refused by nginx itself with 429."""
    passed = [r for r in responses if r.status == 200]
    refused = [r for r in responses if r.status == 429]
    assert len(passed) + len(refused) == len(responses), sorted({r.status for r in responses})
    drained = int(per_minute / 60 * seconds) + 1
    assert 1 + burst <= len(passed) <= 1 + burst + drained, (len(passed), seconds)
    assert refused and all(r.header("X-Echo-Backend") is None for r in refused)
