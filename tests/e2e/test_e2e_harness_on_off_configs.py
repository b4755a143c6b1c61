"""The harness runs OFF's real hand-written ovh1 vhosts (connect.conf + crm.conf) under nginx.

This proves the harness on config nobody wrote for it, and pins today's behaviour of the Odoo
vhosts that sites/ must reproduce.
"""

from pathlib import Path

import pytest

from conftest import run_host

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).parent / "fixtures" / "ovh1-connect-crm"


@pytest.fixture(scope="module")
def nginx(request, tmp_path_factory):
    return run_host(request, FIXTURE, tmp_path_factory)


def test_http_redirects_to_https(nginx):
    r = nginx.request("connect.openfoodfacts.org", "/web/login?x=1", port=80)
    assert r.status == 301
    assert r.header("Location") == "https://connect.openfoodfacts.org/web/login?x=1"


def test_crm_redirects_to_connect_on_both_schemes(nginx):
    plain = nginx.request("crm.openfoodfacts.org", "/odoo/action-1", port=80)
    assert (plain.status, plain.header("Location")) == (301, "https://connect.openfoodfacts.org/odoo/action-1")
    tls = nginx.request("crm.openfoodfacts.org", "/odoo/action-1")
    assert (tls.status, tls.header("Location")) == (301, "https://connect.openfoodfacts.org/odoo/action-1")


def test_headers_reach_the_backend(nginx):
    r = nginx.request("connect.openfoodfacts.org", "/web/login?redirect=%2Fodoo", client_ip="203.0.113.7")
    assert r.status == 200
    echo = r.echoed
    assert echo["backend"] == "upstream:odoo#0"
    assert echo["uri"] == "/web/login?redirect=%2Fodoo"
    assert r.echoed_header("X-Forwarded-Host") == "connect.openfoodfacts.org"
    assert r.echoed_header("X-Forwarded-Proto") == "https"
    assert r.echoed_header("X-Real-IP") == "203.0.113.7"


def test_longpolling_goes_to_the_chat_port(nginx):
    r = nginx.request("connect.openfoodfacts.org", "/longpolling/poll")
    assert r.echoed["backend"] == "upstream:odoochat#0"


def test_database_manager_is_forbidden(nginx):
    r = nginx.request("connect.openfoodfacts.org", "/web/database/manager")
    assert r.status == 403
    assert r.header("X-Echo-Backend") is None
    assert nginx.config.backend("upstream:odoo").requests == [] or all(
        req["path"] != "/web/database/manager" for req in nginx.config.backend("upstream:odoo").requests
    )


@pytest.mark.parametrize("path", ["/web/database/drop", "/web/database/backup", "/web/database/list",
                                  "/web/database/manager/web/static/x.js"])
def test_defect_database_api_reaches_odoo(nginx, path):
    # only the prefix /web/database/manager is refused: the rest of Odoo's database API is proxied,
    # and a manager URL that also matches the `~* /web/static/` regex is proxied too
    r = nginx.request("connect.openfoodfacts.org", path, method="POST")
    assert r.status == 200 and r.echoed["path"] == path


def test_certificate_matches_sni(nginx):
    # verification against the throwaway CA with hostname checking: the SAN must cover the name
    assert nginx.request("connect.openfoodfacts.org", "/").status == 200
    assert nginx.request("crm.openfoodfacts.org", "/").status == 301


def test_body_size_is_nginx_default_1m(nginx):
    # connect.conf sets no client_max_body_size: nginx's 1M default applies to Odoo uploads today.
    small = nginx.request("connect.openfoodfacts.org", "/web/binary/upload", method="POST", body_size=900_000)
    assert small.status == 200 and small.echoed["body_length"] == 900_000
    big = nginx.request("connect.openfoodfacts.org", "/web/binary/upload", method="POST", body_size=3_000_000)
    assert big.status == 413


def test_websocket_upgrade_is_not_configured_today(nginx):
    # connect.conf has no Upgrade/Connection headers: nginx drops the upgrade, the backend answers 200.
    r = nginx.websocket("connect.openfoodfacts.org", "/websocket")
    assert r.status == 200


# --------------------------------------------------------------------------- scaleway edge (OFF)

SCALEWAY = Path(__file__).parent / "fixtures" / "scaleway-off"
HTML = "/opt/openfoodfacts-infrastructure/html"


@pytest.fixture(scope="module")
def edge(request, tmp_path_factory):
    running = run_host(request, SCALEWAY, tmp_path_factory, path_map={"/etc/nginx": "."})
    html = running.config.fs_path(HTML)
    (html / "stop-crawling.txt").write_text("Please use the data exports instead of crawling.\n")
    (html / "503.html").write_text("<h1>Open Food Facts is busy</h1>\n")
    return running


def test_edge_redirects_world_and_country_to_https(edge):
    for host in ("openfoodfacts.org", "fr.openfoodfacts.org"):
        r = edge.request(host, "/product/123?a=b", port=80)
        assert (r.status, r.header("Location")) == (301, f"https://{host}/product/123?a=b")


def test_edge_sends_proxy_headers(edge):
    r = edge.request("fr.openfoodfacts.org", "/cgi/display.pl", client_ip="198.51.100.10")
    assert r.status == 200
    assert r.echoed_header("X-Real-IP") == "198.51.100.10"
    assert r.echoed_header("X-Forwarded-Proto") == "https"
    assert r.echoed_header("Host") == "fr.openfoodfacts.org"


def test_edge_defect_hsts_lost_on_proxied_responses(edge):
    # Known defect: snippets/backend-proxy.conf has its own add_header, and nginx drops inherited
    # add_header directives in a block that declares one. HSTS only reaches non-proxied responses.
    proxied = edge.request("openfoodfacts.org", "/cgi/display.pl", client_ip="198.51.100.11")
    assert proxied.status == 200 and proxied.header("Strict-Transport-Security") is None
    local = edge.request("openfoodfacts.org", "/", user_agent="-", client_ip="198.51.100.12")
    assert local.header("Strict-Transport-Security") == "max-age=63072000"


@pytest.mark.parametrize("ua", ["Mozilla/5.0 (compatible; GPTBot/1.2)", "python-requests/2.31", "ClaudeBot/1.0"])
def test_edge_denies_listed_crawlers(edge, ua):
    r = edge.request("openfoodfacts.org", "/", user_agent=ua, client_ip="198.51.100.20")
    assert r.status == 403 and r.header("X-Echo-Backend") is None


@pytest.mark.parametrize("ua", ["-", "Mozilla/5.0 (compatible)"])
def test_edge_tarpits_generic_user_agents(edge, ua):
    r = edge.request("openfoodfacts.org", "/category/cheeses", user_agent=ua, client_ip="198.51.100.21")
    assert r.status == 200 and b"data exports" in r.body
    assert r.header("X-Echo-Backend") is None


def test_edge_per_ip_burst_then_429(edge):
    statuses = [edge.request("openfoodfacts.org", "/", client_ip="198.51.100.30").status for _ in range(14)]
    # 15r/m with burst=10 nodelay: 1 + 10 pass, the rest are refused with 429
    assert statuses[:11] == [200] * 11 and set(statuses[11:]) == {429}
    assert edge.request("openfoodfacts.org", "/", client_ip="198.51.100.31").status == 200


def test_edge_allowlisted_ip_is_not_rate_limited(edge):
    statuses = {edge.request("openfoodfacts.org", "/", client_ip="10.1.0.5").status for _ in range(25)}
    assert statuses == {200}


def test_edge_facets_503_for_anonymous_ok_when_logged_in_or_allowlisted(edge):
    assert edge.request("openfoodfacts.org", "/facets/brands", client_ip="198.51.100.40").status == 503
    logged_in = edge.request("openfoodfacts.org", "/facets/brands", client_ip="198.51.100.41",
                             cookies={"session": "abc"})
    assert logged_in.status == 200 and logged_in.echoed["path"] == "/facets/brands"
    app = edge.request("openfoodfacts.org", "/facets/brands", client_ip="198.51.100.42",
                       user_agent="Smoothie/4.0 (Android)")
    assert app.status == 200


def test_edge_defect_body_limit_is_512m_not_20m(edge):
    # Known defect: the server says client_max_body_size 20M, but the snippet included in every
    # proxied location sets 512M, which wins. A 21 MiB upload reaches Product Opener today.
    big = edge.request("openfoodfacts.org", "/cgi/product_image_upload.pl", method="POST",
                       body_size=21 * 1024 * 1024, client_ip="198.51.100.51")
    assert big.status == 200 and big.echoed["body_length"] == 21 * 1024 * 1024


def test_edge_backend_503_is_replaced_by_the_error_page(edge):
    r = edge.request("openfoodfacts.org", "/cgi/display.pl", client_ip="198.51.100.60",
                     headers={"X-Echo-Status": "503"})
    assert r.status == 503 and b"busy" in r.body


# --------------------------------------------------------------------------- off1 images (OFF)

IMAGES = Path(__file__).parent / "fixtures" / "off1-images"


@pytest.fixture(scope="module")
def images(request, tmp_path_factory):
    running = run_host(request, IMAGES, tmp_path_factory, path_map={"/etc/nginx": "."})
    product = running.config.fs_path("/mnt/off/images/products/301/762/042/2003")
    product.mkdir(parents=True)
    (product / "1.400.jpg").write_bytes(b"\xff\xd8small-jpeg")
    return running


def test_images_served_from_disk_with_licence_and_cors(images):
    r = images.request("images.openfoodfacts.org", "/images/products/301/762/042/2003/1.400.jpg")
    assert r.status == 200 and r.body == b"\xff\xd8small-jpeg"
    assert r.header("X-Echo-Backend") is None
    assert "creativecommons.org/licenses/by-sa/3.0" in r.header("Link")
    assert r.header("Access-Control-Allow-Origin") == "*"


def test_images_missing_file_falls_back_to_product_opener(images):
    r = images.request("images.openfoodfacts.org", "/images/products/301/762/042/2003/2.400.jpg")
    assert r.status == 200
    assert r.echoed["backend"] == "addr:10.1.0.113:80"
    assert r.echoed_header("Host") == "cache.openfoodfacts.org"
    assert r.header("X-Cache-Status") in ("MISS", "HIT")


def test_images_defect_http_level_dry_run_leaks_to_other_vhosts(images):
    # Known defect: images-off puts limit_req_dry_run at http level, so an unrelated vhost's
    # 1r/m limit is never enforced either.
    statuses = {images.request("other.example.org", "/", port=80, client_ip="198.51.100.70").status
                for _ in range(5)}
    assert statuses == {200}


# --------------------------------------------------------------------------- ovh1 staging (OFF)

STAGING = Path(__file__).parent / "fixtures" / "ovh1-staging"


@pytest.fixture(scope="module")
def staging(request, tmp_path_factory):
    running = run_host(request, STAGING, tmp_path_factory)
    running.config.write_htpasswd("/etc/nginx/off.htpasswd", {"off": "off"})
    return running


def test_staging_basic_auth_keeps_crawlers_out(staging):
    assert staging.request("world.openfoodfacts.net", "/", client_ip="198.51.100.80").status == 401
    r = staging.request("world.openfoodfacts.net", "/", client_ip="198.51.100.80", basic_auth=("off", "off"))
    assert r.status == 200 and r.echoed["path"] == "/"


def test_staging_api_is_open(staging):
    assert staging.request("world.openfoodfacts.net", "/api/v2/product/1", client_ip="198.51.100.81").status == 200


def test_staging_defect_allowlisted_ip_still_asked_for_a_password(staging):
    # Known defect: the geo gives ovh1 (146.59.148.140) the realm "" meaning "no auth", but only
    # the value "off" disables auth_basic; an empty realm still answers 401.
    assert staging.request("world.openfoodfacts.net", "/", client_ip="146.59.148.140").status == 401


def test_search_staging_auth_only_on_ui_routes(staging):
    assert staging.request("search.openfoodfacts.net", "/", client_ip="198.51.100.82").status == 401
    assert staging.request("search.openfoodfacts.net", "/static/app.js", client_ip="198.51.100.82").status == 401
    assert staging.request("search.openfoodfacts.net", "/search?q=x", client_ip="198.51.100.82").status == 200
