"""Behaviour of off2-reverse-proxy, off1-reverse-proxy and the Hetzner proxies, built from sites/."""

import time

import pytest

from conftest import PAGES, assert_per_ip_limit, burst_from_one_client, run_built_host

pytestmark = pytest.mark.e2e


def _redirects_to_https(nginx, host):
    r = nginx.request(host, "/a/b?c=d", port=80)
    return r.status == 301 and r.header("Location") == f"https://{host}/a/b?c=d"


# ===================================================================== off2-reverse-proxy

@pytest.fixture(scope="module")
def off2(request, built_repo, tmp_path_factory):
    running = run_built_host(request, built_repo, tmp_path_factory, "off2-reverse-proxy")
    running.config.write_htpasswd("/etc/nginx/.htpasswd/new-org", {"off": "off"})
    return running


@pytest.mark.parametrize("domain,backend", [
    ("openpetfoodfacts.org", "openpetfoodfacts-backend"),
    ("openproductsfacts.org", "openproductsfacts-backend"),
    ("openfoodsupplementsfacts.org", "openfoodsupplementsfacts-backend"),
])
def test_siblings_redirect_hsts_backend_and_body_limit(off2, domain, backend):
    for host in (domain, f"fr.{domain}"):
        assert _redirects_to_https(off2, host)
    r = off2.request(f"world.{domain}", "/product/1/x", client_ip="198.51.100.1")
    assert r.echoed["backend"] == f"upstream:{backend}#0" and r.echoed["path"] == "/product/1/x"
    assert r.echoed_header("X-Forwarded-Proto") == "https"
    assert r.header("Strict-Transport-Security") == "max-age=63072000"  # fixed: was lost in locations
    big = off2.request(f"world.{domain}", "/cgi/product_image_upload.pl", method="POST",
                       body_size=21 * 1024 * 1024, client_ip="198.51.100.2")
    assert big.status == 413  # fixed: the location's 512M overrode 20M


@pytest.mark.parametrize("ua", ["-", "Mozilla/5.0 (compatible)", "python-requests/2.32.2"])
def test_ofsf_stop_crawling_user_agents(off2, ua):
    r = off2.request("world.openfoodsupplementsfacts.org", "/", user_agent=ua, client_ip="198.51.100.3")
    assert r.status == 200 and r.body == PAGES["stop-crawling.txt"].encode()  # fixed: the page path was wrong


def test_siblings_log_backend_errors(off2):
    off2.request("world.openpetfoodfacts.org", "/missing", client_ip="198.51.100.4", headers={"X-Echo-Status": "404"})
    log = off2.config.prefix / "logs" / "openpetfoodfacts.org.access-errors.log"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (not log.exists() or "/missing" not in log.read_text()):
        time.sleep(0.2)
    assert "/missing" in log.read_text()  # fixed: `access_log off;` cancelled this log


def test_new_openfoodfacts_auth_on_pages_not_on_api(off2):
    for host in ("new.openfoodfacts.org", "world.new.openfoodfacts.org"):
        assert _redirects_to_https(off2, host)
        assert off2.request(host, "/", client_ip="198.51.100.5").status == 401
        assert off2.request(host, "/", client_ip="198.51.100.5", basic_auth=("off", "off")).status == 200
        r = off2.request(host, "/api/v2/product/1", client_ip="198.51.100.5")
        assert r.status == 200 and r.echoed["backend"] == "upstream:off-new-backend#0"


@pytest.mark.parametrize("host,kw", [
    ("world.openpetfoodfacts.org", {}), ("world.openproductsfacts.org", {}),
    ("world.openfoodsupplementsfacts.org", {}), ("fr.openbeautyfacts.com", {}),
    ("world.new.openfoodfacts.org", {"basic_auth": ("off", "off")}),
])
def test_siblings_per_ip_limit_429(off2, host, kw):
    # 240 r/m per IP, burst 120, nodelay: 121 pass at once, then 429 (was dry-run with 444: never enforced)
    ip = f"203.0.113.{len(host)}"
    responses, seconds = burst_from_one_client(off2, host, "/product/1", 140, ip, **kw)
    assert_per_ip_limit(responses, seconds, burst=120, per_minute=240)
    assert off2.request(host, "/product/1", client_ip="203.0.113.250", **kw).status == 200  # another client
    # the API and asset locations are not limited (as today)
    assert off2.request(host, "/api/v2/product/1", client_ip=ip, **kw).status == 200


def test_stub_status_for_the_local_exporter(off2):
    # hosts.off2-reverse-proxy.stub_status: its own server on 127.0.0.1:8080 (the harness maps the port)
    r = off2.request("localhost", "/stub_status", port=8080)
    assert r.status == 200 and r.body.startswith(b"Active connections:")
    assert b"server accepts handled requests" in r.body
    # the public listens do not serve it: unknown names are refused, sites proxy the path to their backend
    r = off2.request("world.openpetfoodfacts.org", "/stub_status", client_ip="198.51.100.9")
    assert r.echoed["path"] == "/stub_status"


def test_keycloak_auth(off2):
    assert _redirects_to_https(off2, "auth.openfoodfacts.org")
    r = off2.request("auth.openfoodfacts.org", "/realms/openfoodfacts/protocol/openid-connect/auth?client_id=x")
    assert r.echoed["backend"] == "upstream:keycloak#0"
    assert r.echoed["uri"] == "/realms/openfoodfacts/protocol/openid-connect/auth?client_id=x"
    assert r.echoed_header("X-Forwarded-Proto") == "https"


# ===================================================================== off1-reverse-proxy (images)

@pytest.fixture(scope="module")
def off1(request, built_repo, tmp_path_factory):
    running = run_built_host(request, built_repo, tmp_path_factory, "off1-reverse-proxy")
    product = running.config.fs_path("/mnt/off/images/products/301/762/042/2003")
    product.mkdir(parents=True)
    (product / "1.400.jpg").write_bytes(b"\xff\xd8thumbnail")
    (product / "1.jpg").write_bytes(b"\xff\xd8full image")
    return running


@pytest.mark.parametrize("host", ["images.openfoodfacts.org", "static.openfoodfacts.org"])
def test_images_file_from_disk_with_licence_and_cors(off1, host):
    assert _redirects_to_https(off1, host)
    r = off1.request(host, "/images/products/301/762/042/2003/1.400.jpg")
    assert r.status == 200 and r.body == b"\xff\xd8thumbnail" and r.header("X-Echo-Backend") is None
    assert "creativecommons.org/licenses/by-sa/3.0" in r.header("Link")
    assert r.header("Access-Control-Allow-Origin") == "*"
    assert r.header("Access-Control-Allow-Methods") == "GET, POST, OPTIONS"


def test_images_missing_file_falls_back_to_product_opener(off1):
    r = off1.request("images.openfoodfacts.org", "/images/products/301/762/042/2003/2.400.jpg")
    assert r.echoed["backend"] == "upstream:off-images-backend#0"
    assert r.echoed_header("Host") == "cache.openfoodfacts.org"
    assert r.echoed["http_version"] == "HTTP/1.1"
    assert r.header("X-From", "").startswith("127.0.0.1:")


def test_images_hotlinking_referer_is_refused(off1):
    r = off1.request("images.openfoodfacts.org", "/images/products/301/762/042/2003/1.400.jpg",
                     headers={"Referer": "https://www.jobothoniel.com/page"})
    assert r.status == 403


def test_images_size_limits_are_dry_run(off1):
    # images-big: 100 r/m, burst 100. Dry-run as today: nothing refused, nginx logs what it would do
    path = "/images/products/301/762/042/2003/1.jpg"
    responses, _ = burst_from_one_client(off1, "images.openfoodfacts.org", path, 110, "203.0.113.40")
    assert {r.status for r in responses} == {200}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and 'limiting requests, dry run' not in off1.error_log():
        time.sleep(0.1)
    log = off1.error_log()
    assert 'limiting requests, dry run' in log and 'zone "images-big"' in log
    assert 'zone "images-small"' not in log  # a thumbnail-sized request count is far below 6000 r/m


def test_images_fallback_is_cached(off1):
    backend = off1.config.backend("upstream:off-images-backend")
    path = "/images/products/301/762/042/2003/3.400.jpg"
    first = off1.request("images.openfoodfacts.org", path)
    second = off1.request("images.openfoodfacts.org", path)
    assert first.header("X-Cache-Status") == "MISS" and second.header("X-Cache-Status") == "HIT"
    assert [r["path"] for r in backend.requests].count(path) == 1


# ===================================================================== hetzner proxies

@pytest.fixture(scope="module")
def hetzner(request, built_repo, tmp_path_factory):
    running = run_built_host(request, built_repo, tmp_path_factory, "hetzner-proxy")
    running.config.write_htpasswd("/etc/nginx/.htpasswd/hetzner-exporters", {"prometheus": "scrape"})
    return running


@pytest.mark.parametrize("exporter,backend", [("hetzner-docker-staging", "addr:10.12.1.201:8202"),
                                              ("hetzner-docker-prod", "addr:10.12.1.202:8202")])
def test_hetzner_exporters(hetzner, exporter, backend):
    host = "hetzner-exporters.openfoodfacts.org"
    assert _redirects_to_https(hetzner, host)
    assert hetzner.request(host, f"/{exporter}/metrics").status == 401
    r = hetzner.request(host, f"/{exporter}/metrics", basic_auth=("prometheus", "scrape"))
    assert r.echoed["backend"] == backend and r.echoed["uri"] == "/metrics"
    assert hetzner.request(host, "/other/metrics", basic_auth=("prometheus", "scrape")).status == 404


@pytest.fixture(scope="module")
def hetzner02(request, built_repo, tmp_path_factory):
    return run_built_host(request, built_repo, tmp_path_factory, "hetzner-02-proxy")


@pytest.mark.parametrize("host", [
    "api.folksonomy.openfoodfacts.net", "api.folksonomy.new.openproductsfacts.net",
    "api.folksonomy.openproductsfacts.net", "api.folksonomy.openbeautyfacts.net",
    "api.folksonomy.openpetfoodfacts.net",
])
def test_folksonomy_staging_all_flavours(hetzner02, host):
    assert _redirects_to_https(hetzner02, host)  # fixed: only one of the five names was redirected
    r = hetzner02.request(host, "/keys")
    assert r.echoed["backend"] == "upstream:folksonomy-staging#0" and r.echoed_header("Host") == host


@pytest.mark.parametrize("host", ["world.openpetfoodfacts.org", "world.openproductsfacts.org",
                                  "world.openfoodsupplementsfacts.org", "world.new.openfoodfacts.org"])
def test_off2_backend_502_gets_the_shared_page(off2, host):
    r = off2.request(host, f"/api/v2/product/err-{host}", client_ip="198.51.100.6", headers={"X-Echo-Status": "502"})
    assert r.status == 502 and r.body == PAGES["502.html"].encode()


# --------------------------------------------------------------------- off2: small sites of the 2024 proxy-off files

@pytest.mark.parametrize("host", ["howmuchsugar.in", "combiendesucres.fr", "madenear.me",
                                  "cestemballepresdechezvous.fr", "madenear.me.uk"])
def test_small_product_opener_sites(off2, host):
    assert _redirects_to_https(off2, host)
    r = off2.request(host, "/", client_ip="198.51.100.7")
    assert r.status == 200 and r.echoed_header("Host") == host
    assert r.header("X-Frame-Options") == "DENY" and r.header("Strict-Transport-Security") == "max-age=63072000"


@pytest.mark.parametrize("host,target", [
    ("www.howmuchsugar.in", "https://howmuchsugar.in"), ("howmuchsugar.info", "https://howmuchsugar.in"),
    ("combiendesucre.fr", "https://combiendesucres.fr"), ("www.madenear.com", "https://madenear.me"),
    ("www.madenearme.uk", "https://madenear.me.uk"),
    ("www.cestfabriquepresdechezvous.info", "https://cestemballepresdechezvous.fr"),
])
def test_other_names_redirect_to_the_main_name(off2, host, target):
    r = off2.request(host, "/fr/produit?x=1", port=80)
    assert (r.status, r.header("Location")) == (301, f"{target}/fr/produit?x=1")


def test_openbeautyfacts_com(off2):
    assert _redirects_to_https(off2, "fr.openbeautyfacts.com")
    r = off2.request("fr.openbeautyfacts.com", "/produit/1", client_ip="198.51.100.8")
    assert r.echoed["backend"] == "upstream:obf-com-backend#0"
    assert r.header("Strict-Transport-Security") == "max-age=63072000"
    assert off2.request("fr.openbeautyfacts.com", "/cgi/product_image_upload.pl", method="POST",
                        body_size=21 * 1024 * 1024, client_ip="198.51.100.8").status == 413


@pytest.mark.parametrize("path,backend", [("/mongo/mongodb/metrics", "addr:10.1.0.102:9216"),
                                          ("/proxy/nginx/metrics", "addr:127.0.0.1:9113"),
                                          ("/off/apache/metrics", "addr:10.1.0.113:9117")])
def test_free_exporters(off2, path, backend):
    off2.config.write_htpasswd("/etc/nginx/.htpasswd/free-exporters", {"prometheus": "scrape"})
    host = "free-exporters.openfoodfacts.org"
    assert off2.request(host, path).status == 401
    r = off2.request(host, path, basic_auth=("prometheus", "scrape"))
    assert r.echoed["backend"] == backend and r.echoed["uri"] == "/metrics"
    assert off2.request(host, "/unknown/metrics", basic_auth=("prometheus", "scrape")).status == 404
