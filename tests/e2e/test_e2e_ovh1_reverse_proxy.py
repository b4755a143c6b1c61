"""Behaviour of the ovh1-reverse-proxy host (community services) as built from sites/, under real nginx."""

import pytest

from conftest import run_built_host

pytestmark = pytest.mark.e2e

CONNECT = "connect.openfoodfacts.org"


@pytest.fixture(scope="module")
def ovh1(request, built_repo, tmp_path_factory):
    running = run_built_host(request, built_repo, tmp_path_factory, "ovh1-reverse-proxy")
    running.config.write_htpasswd("/etc/nginx/off.htpasswd", {"alice": "monitoring-secret"})
    return running


# --------------------------------------------------------------------- connect (Odoo)

def test_connect_http_redirects_to_https(ovh1):
    r = ovh1.request(CONNECT, "/web/login?db=x", port=80)
    assert (r.status, r.header("Location")) == (301, "https://connect.openfoodfacts.org/web/login?db=x")


def test_connect_odoo_proxy_headers(ovh1):
    r = ovh1.request(CONNECT, "/odoo/action-12", client_ip="203.0.113.9")
    echo = r.echoed
    assert echo["backend"] == "upstream:odoo#0" and echo["uri"] == "/odoo/action-12"
    assert r.echoed_header("X-Forwarded-Host") == CONNECT
    assert r.echoed_header("X-Forwarded-Proto") == "https"
    assert r.echoed_header("X-Real-IP") == "203.0.113.9"


def test_connect_longpolling_uses_the_chat_port(ovh1):
    assert ovh1.request(CONNECT, "/longpolling/poll").echoed["backend"] == "upstream:odoochat#0"


def test_connect_database_manager_is_forbidden(ovh1):
    before = len(ovh1.config.backend("upstream:odoo").requests)
    r = ovh1.request(CONNECT, "/web/database/manager")
    assert r.status == 403 and r.header("X-Echo-Backend") is None
    assert len(ovh1.config.backend("upstream:odoo").requests) == before


def test_connect_static_files_get_expires(ovh1):
    r = ovh1.request(CONNECT, "/web/static/src/img/logo.png")
    assert r.echoed["backend"] == "upstream:odoo#0"
    assert r.header("Cache-Control") == "max-age=864000"


def test_connect_hsts(ovh1):
    assert ovh1.request(CONNECT, "/").header("Strict-Transport-Security") == "max-age=63072000"


def test_connect_unbuffered_upload_within_default_limit(ovh1):
    r = ovh1.request(CONNECT, "/web/binary/upload_attachment", method="POST", body_size=5_000_000)
    assert r.status == 200 and r.echoed["body_length"] == 5_000_000


# --------------------------------------------------------------------- crm (redirect-only)

def test_crm_redirects_to_connect(ovh1):
    r = ovh1.request("crm.openfoodfacts.org", "/odoo/crm?stage=2")
    assert (r.status, r.header("Location")) == (301, "https://connect.openfoodfacts.org/odoo/crm?stage=2")
    assert r.header("X-Echo-Backend") is None


def test_crm_plain_http_reaches_connect_via_https(ovh1):
    # today port 80 redirects straight to connect; the build first upgrades to https on the same
    # name (so HSTS applies to crm too), then redirects: same destination, one more hop
    r = ovh1.request("crm.openfoodfacts.org", "/odoo/crm?stage=2", port=80)
    assert (r.status, r.header("Location")) == (301, "https://crm.openfoodfacts.org/odoo/crm?stage=2")


# --------------------------------------------------------------------- monitoring (Prometheus, basic auth)

def test_prometheus_requires_basic_auth(ovh1):
    host = "prometheus.openfoodfacts.org"
    r = ovh1.request(host, "/graph")
    assert r.status == 401 and "Basic" in r.header("WWW-Authenticate")
    assert ovh1.request(host, "/graph", basic_auth=("alice", "wrong")).status == 401
    ok = ovh1.request(host, "/api/v1/query?query=up", basic_auth=("alice", "monitoring-secret"))
    assert ok.status == 200 and ok.echoed["uri"] == "/api/v1/query?query=up"
