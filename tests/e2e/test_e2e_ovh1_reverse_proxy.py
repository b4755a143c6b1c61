"""Behaviour of the ovh1-reverse-proxy host (community services) as built from sites/, under real nginx."""

import pytest

from conftest import PAGES, burst_from_one_client, run_built_host

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


@pytest.mark.parametrize("path", ["/web/database/manager", "/web/database/drop", "/web/database/backup",
                                  "/web/database/list", "/web/database/manager/web/static/x.js"])
def test_connect_database_api_is_forbidden(ovh1, path):
    # fixed: only /web/database/manager was refused; drop/backup/list reached Odoo, and so did a
    # manager URL matching the /web/static/ regex (^~ stops regex matching)
    before = len(ovh1.config.backend("upstream:odoo").requests)
    r = ovh1.request(CONNECT, path, method="POST")
    assert r.status == 403 and r.header("X-Echo-Backend") is None
    assert len(ovh1.config.backend("upstream:odoo").requests) == before


def test_connect_other_web_routes_still_reach_odoo(ovh1):
    assert ovh1.request(CONNECT, "/web/login").echoed["backend"] == "upstream:odoo#0"
    assert ovh1.request(CONNECT, "/web/databasex").echoed["backend"] == "upstream:odoo#0"


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


def test_crm_plain_http_redirects_straight_to_connect(ovh1):
    r = ovh1.request("crm.openfoodfacts.org", "/odoo/crm?stage=2", port=80)
    assert (r.status, r.header("Location")) == (301, "https://connect.openfoodfacts.org/odoo/crm?stage=2")


# --------------------------------------------------------------------- monitoring (Prometheus, basic auth)

def test_prometheus_requires_basic_auth(ovh1):
    host = "prometheus.openfoodfacts.org"
    r = ovh1.request(host, "/graph")
    assert r.status == 401 and "Basic" in r.header("WWW-Authenticate")
    assert ovh1.request(host, "/graph", basic_auth=("alice", "wrong")).status == 401
    ok = ovh1.request(host, "/api/v1/query?query=up", basic_auth=("alice", "monitoring-secret"))
    assert ok.status == 200 and ok.echoed["uri"] == "/api/v1/query?query=up"


@pytest.fixture(scope="module")
def htpasswd(ovh1):
    ovh1.config.write_htpasswd("/etc/nginx/kibana.htpasswd", {"bob": "kibana-secret"})
    return ovh1


def _redirects_to_https(ovh1, host):
    r = ovh1.request(host, "/some/page?q=1", port=80)
    return r.status == 301 and r.header("Location") == f"https://{host}/some/page?q=1"


# --------------------------------------------------------------------- Matomo

def test_analytics_matomo(ovh1):
    assert _redirects_to_https(ovh1, "analytics.openfoodfacts.org")
    r = ovh1.request("analytics.openfoodfacts.org", "/matomo.php?idsite=1&rec=1", client_ip="203.0.113.20",
                     headers={"X-Forwarded-For": "203.0.113.20"})
    assert r.echoed["backend"] == "upstream:matomo#0" and r.echoed["uri"] == "/matomo.php?idsite=1&rec=1"
    # Matomo sees exactly the client address, not a chain
    assert r.echoed_header("X-Forwarded-For") == "203.0.113.20"


def test_analytics_backend_down_gets_the_shared_error_page(ovh1):
    # today's vhost answers nginx's own 50x with a page (not the backend's: no proxy_intercept_errors)
    passthrough = ovh1.request("analytics.openfoodfacts.org", "/index.php", headers={"X-Echo-Status": "503"})
    assert passthrough.status == 503 and passthrough.header("X-Echo-Backend") == "upstream:matomo#0"
    ovh1.config.backend("upstream:matomo").stop()  # last Matomo test of the module
    r = ovh1.request("analytics.openfoodfacts.org", "/index.php")
    assert r.status == 502 and r.body == PAGES["502.html"].encode()


# --------------------------------------------------------------------- Discourse

def test_forum_discourse(ovh1):
    assert _redirects_to_https(ovh1, "forum.openfoodfacts.org")
    r = ovh1.request("forum.openfoodfacts.org", "/t/some-topic/42")
    assert r.echoed["backend"] == "upstream:discourse#0" and r.echoed["path"] == "/t/some-topic/42"
    assert r.echoed["http_version"] == "HTTP/1.1"
    assert r.echoed_header("X-Forwarded-Proto") == "https"
    assert r.header("Strict-Transport-Security") == "max-age=86400"


# --------------------------------------------------------------------- Folksonomy

@pytest.mark.parametrize("host", [
    "api.folksonomy.openfoodfacts.org", "api.folksonomy.new.openproductsfacts.org",
    "api.folksonomy.openproductsfacts.org", "api.folksonomy.openbeautyfacts.org",
    "api.folksonomy.openpetfoodfacts.org",
])
def test_folksonomy_all_flavours(ovh1, host):
    assert _redirects_to_https(ovh1, host)
    r = ovh1.request(host, "/products/3017620422003/tags", headers={"Origin": "https://world.openfoodfacts.org"})
    assert r.echoed["backend"] == "upstream:folksonomy#0" and r.echoed_header("Host") == host
    assert r.header("Access-Control-Allow-Origin") is None  # CORS is the application's job


# --------------------------------------------------------------------- Robotoff

def test_robotoff_body_limit_1m(ovh1):
    assert _redirects_to_https(ovh1, "robotoff.openfoodfacts.org")
    ok = ovh1.request("robotoff.openfoodfacts.org", "/api/v1/predict", method="POST", body_size=900_000)
    assert ok.echoed["backend"] == "upstream:robotoff-stunnel#0" and ok.echoed["body_length"] == 900_000
    big = ovh1.request("robotoff.openfoodfacts.org", "/api/v1/predict", method="POST", body_size=2_000_000)
    assert big.status == 413


# --------------------------------------------------------------------- wiki (+ Anubis)

def test_wiki_goes_through_anubis(ovh1):
    assert _redirects_to_https(ovh1, "wiki.openfoodfacts.org")
    r = ovh1.request("wiki.openfoodfacts.org", "/Main_Page", client_ip="203.0.113.30")
    assert r.echoed["backend"] == "upstream:anubis-wiki#0"
    assert r.echoed_header("X-Http-Version") == "HTTP/1.1"
    assert r.echoed_header("X-Real-IP") == "203.0.113.30"


def test_wiki_yisouspider_is_limited_per_address(ovh1):
    # zone wiki-spider: 4 r/m, burst 5 without nodelay: the first request passes, 5 wait their turn
    # (15 s each, longer than this client waits), the rest are refused at once with 503 (as today)
    spider = "Mozilla/5.0 (Linux; Android 6.0) Mobile Safari/537.36 YisouSpider"
    responses, _ = burst_from_one_client(ovh1, "wiki.openfoodfacts.org", "/Main_Page", 8, "203.0.113.31",
                                         workers=8, timeout=3, user_agent=spider)
    answered = [r for r in responses if r is not None]
    assert sorted(r.status for r in answered) == [200, 503, 503] and len(responses) - len(answered) == 5
    assert all(r.header("X-Echo-Backend") is None for r in answered if r.status == 503)
    # other user agents from the same address, and the spider from another address, are not limited
    assert ovh1.request("wiki.openfoodfacts.org", "/Main_Page", client_ip="203.0.113.31").status == 200
    assert ovh1.request("wiki.openfoodfacts.org", "/Main_Page", client_ip="203.0.113.32",
                        user_agent=spider).status == 200


def test_wiki_upload_limit_40m(ovh1):
    ok = ovh1.request("wiki.openfoodfacts.org", "/Special:Upload", method="POST", body_size=30 * 1024 * 1024)
    assert ok.status == 200
    big = ovh1.request("wiki.openfoodfacts.org", "/Special:Upload", method="POST", body_size=41 * 1024 * 1024)
    assert big.status == 413


def test_wiki_en_redirects_to_wiki(ovh1):
    r = ovh1.request("en.wiki.openfoodfacts.org", "/Ingredients?a=1")
    assert (r.status, r.header("Location")) == (301, "https://wiki.openfoodfacts.org/Ingredients?a=1")


@pytest.mark.parametrize("host,path,target", [
    ("fr.wiki.openfoodfacts.org", "/", "https://wiki.openfoodfacts.org/FR:Accueil"),
    ("fr.wiki.openfoodfacts.org", "/Ingrédients?x=1", "https://wiki.openfoodfacts.org/FR:Ingrédients?x=1"),
    ("wiki.openbeautyfacts.org", "/", "https://wiki.openfoodfacts.org/OBF:Main_Page"),
    ("wiki.openbeautyfacts.org", "/Cosmetics", "https://wiki.openfoodfacts.org/OBF:Cosmetics"),
])
def test_wiki_language_and_flavour_rewrites(ovh1, host, path, target):
    from urllib.parse import quote
    r = ovh1.request(host, quote(path, safe="/?=&"))
    assert r.status == 301
    assert r.header("Location").encode("latin-1").decode("utf-8") in (target, quote(target, safe=":/?=&"))


# --------------------------------------------------------------------- search-a-licious

def test_search_prod_unbuffered_uri_as_is(ovh1):
    assert _redirects_to_https(ovh1, "search.openfoodfacts.org")
    r = ovh1.request("search.openfoodfacts.org", "/search?q=nutella&langs=fr")
    assert r.echoed["backend"] == "upstream:searchalicious#0" and r.echoed["uri"] == "/search?q=nutella&langs=fr"


def test_search_staging_auth_on_ui_only(ovh1):
    host = "search.openfoodfacts.net"
    ovh1.config.write_htpasswd("/etc/nginx/off.htpasswd", {"off": "off", "alice": "monitoring-secret"})
    assert ovh1.request(host, "/").status == 401
    assert ovh1.request(host, "/static/off.html").status == 401
    assert ovh1.request(host, "/", basic_auth=("off", "off")).status == 200
    r = ovh1.request(host, "/search?q=x")
    assert r.status == 200 and r.echoed["backend"] == "upstream:searchalicious-staging#0"


# --------------------------------------------------------------------- staging *.openfoodfacts.net

def test_staging_pages_need_the_off_login(ovh1):
    ovh1.config.write_htpasswd("/etc/nginx/off.htpasswd", {"off": "off", "alice": "monitoring-secret"})
    for host in ("openfoodfacts.net", "world.openfoodfacts.net", "fr.openfoodfacts.net"):
        assert _redirects_to_https(ovh1, host)
        assert ovh1.request(host, "/", client_ip="198.51.100.90").status == 401
        r = ovh1.request(host, "/product/1", client_ip="198.51.100.90", basic_auth=("off", "off"))
        assert r.echoed["backend"] == "upstream:off-staging#0" and r.echoed["path"] == "/product/1"


def test_staging_api_and_json_routes_are_open(ovh1):
    assert ovh1.request("world.openfoodfacts.net", "/api/v2/product/1", client_ip="198.51.100.91").status == 200
    assert ovh1.request("world.openfoodfacts.net", "/cgi/search.pl?json=1", client_ip="198.51.100.91").status == 200
    r = ovh1.request("world.openfoodfacts.net", "/category/x.json", client_ip="198.51.100.91")
    assert r.status == 200 and r.echoed["uri"] == "/category/x.json"
    # fixed: the decoded $uri put a CR/LF from %0D%0A into the request to the backend (HTTP splitting)
    r = ovh1.request("world.openfoodfacts.net", "/a%0D%0AX-Injected:%201/x.json?q=1", client_ip="198.51.100.91")
    assert r.status == 200 and r.echoed["uri"] == "/a%0D%0AX-Injected:%201/x.json?q=1"
    assert r.echoed_header("X-Injected") is None


def test_staging_allowlisted_ovh1_address_needs_no_password(ovh1):
    # fixed: today the geo gives it the realm "", which still asks for a password
    r = ovh1.request("world.openfoodfacts.net", "/", client_ip="146.59.148.140")
    assert r.status == 200


def test_staging_specific_names_win_over_the_wildcard(ovh1):
    r = ovh1.request("nutripatrol.openfoodfacts.net", "/api/v1/flags")
    assert r.echoed["backend"] == "upstream:nutripatrol-staging#0"


# --------------------------------------------------------------------- blogs

def test_blog_wordpress(ovh1):
    assert _redirects_to_https(ovh1, "blog.openfoodfacts.org")
    r = ovh1.request("blog.openfoodfacts.org", "/2024/05/post/")
    assert r.echoed["backend"] == "upstream:wordpress-blog#0"
    big = ovh1.request("blog.openfoodfacts.org", "/wp-admin/async-upload.php", method="POST", body_size=9 * 1024 * 1024)
    assert big.status == 413


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_language_blogs_redirect_without_double_slash(ovh1, lang):
    r = ovh1.request(f"{lang}.blog.openfoodfacts.org", "/2024/05/post/")
    assert (r.status, r.header("Location")) == (301, f"https://blog.openfoodfacts.org/{lang}/2024/05/post/")


# --------------------------------------------------------------------- taxonomy editor

def test_taxonomy_bare_name_redirects_to_ui_over_https(ovh1):
    r = ovh1.request("taxonomy.openfoodfacts.org", "/food/ingredients")
    assert (r.status, r.header("Location")) == (301, "https://ui.taxonomy.openfoodfacts.org/food/ingredients")


@pytest.mark.parametrize("host", ["ui.taxonomy.openfoodfacts.org", "api.taxonomy.openfoodfacts.org"])
def test_taxonomy_editor(ovh1, host):
    r = ovh1.request(host, "/projects?status=OPEN")
    assert r.echoed["backend"] == "upstream:taxonomy-editor#0" and r.echoed["uri"] == "/projects?status=OPEN"


# --------------------------------------------------------------------- nutripatrol

def test_nutripatrol(ovh1):
    assert _redirects_to_https(ovh1, "nutripatrol.openfoodfacts.org")
    r = ovh1.request("nutripatrol.openfoodfacts.org", "/api/v1/tickets?page=1")
    assert r.echoed["backend"] == "upstream:nutripatrol#0" and r.echoed["uri"] == "/api/v1/tickets?page=1"
    assert ovh1.request("nutripatrol.openfoodfacts.org", "/api/v1/images", method="POST",
                        body_size=51 * 1024 * 1024).status == 413


# --------------------------------------------------------------------- monitoring

@pytest.mark.parametrize("host,backend", [("grafana.openfoodfacts.org", "upstream:grafana#0"),
                                          ("monitoring.openfoodfacts.org", "upstream:grafana-monitoring#0")])
def test_grafana_proxy_and_live_websocket(ovh1, host, backend):
    assert _redirects_to_https(ovh1, host)
    r = ovh1.request(host, "/d/abc/dashboard?orgId=1")
    assert r.echoed["backend"] == backend and r.header("WWW-Authenticate") is None  # Grafana logs users in
    assert ovh1.websocket(host, "/api/live/ws").status == 101


def test_alertmanager_basic_auth(ovh1):
    host = "alertmanager.openfoodfacts.org"
    ovh1.config.write_htpasswd("/etc/nginx/off.htpasswd", {"off": "off", "alice": "monitoring-secret"})
    assert ovh1.request(host, "/#/alerts").status == 401
    assert ovh1.request(host, "/api/v2/alerts", basic_auth=("alice", "monitoring-secret")).status == 200


def test_kibana_basic_auth_except_status(ovh1, htpasswd):
    host = "kibana.openfoodfacts.org"
    assert ovh1.request(host, "/app/discover").status == 401
    assert ovh1.request(host, "/app/discover", basic_auth=("alice", "monitoring-secret")).status == 401
    assert ovh1.request(host, "/app/discover", basic_auth=("bob", "kibana-secret")).status == 200
    status = ovh1.request(host, "/status")
    assert status.status == 200 and status.echoed["uri"] == "/status"


# --------------------------------------------------------------------- Zammad support

def test_support_zammad_websocket_and_app(ovh1):
    host = "support.openfoodfacts.org"
    assert _redirects_to_https(ovh1, host)
    ws = ovh1.websocket(host, "/ws")
    assert ws.status == 101 and ws.header("X-Echo-Backend") == "upstream:zammad-websocket#0"
    assert ovh1.websocket(host, "/cable").status == 101
    r = ovh1.request(host, "/#ticket/zoom/1")
    assert r.echoed["backend"] == "upstream:zammad-railsserver#0"
    assert ovh1.websocket(host, "/api/v1/tickets").status == 200  # no upgrade outside /ws and /cable


# --------------------------------------------------------------------- services from OFF's 2024 ovh1 files

@pytest.mark.parametrize("host,backend,body_limit", [
    ("annotate.openfoodfacts.org", "annotate", None),
    ("argilla.openfoodfacts.org", "argilla", 50),
    ("events.openfoodfacts.org", "events", None),
    ("events.openfoodfacts.net", "events-staging", None),
    ("facets-kp.openfoodfacts.org", "facets-kp", None),
    ("facets-kp.openfoodfacts.net", "facets-kp-staging", None),
    ("metrics.openfoodfacts.org", "metrics", None),
    ("metrics.openfoodfacts.net", "metrics-staging", None),
    ("prices.openfoodfacts.net", "prices-staging", 50),
    ("query.openfoodfacts.net", "query-staging", None),
])
def test_plain_services_redirect_and_pass_the_uri(ovh1, host, backend, body_limit):
    assert _redirects_to_https(ovh1, host)
    r = ovh1.request(host, "/api/v1/items?page=2&q=a%20b", client_ip="203.0.113.40")
    assert r.echoed["backend"] == f"upstream:{backend}#0" and r.echoed["uri"] == "/api/v1/items?page=2&q=a%20b"
    assert r.echoed_header("X-Forwarded-Proto") == "https" and r.echoed_header("X-Real-IP") == "203.0.113.40"
    if body_limit:
        big = ovh1.request(host, "/upload", method="POST", body_size=(body_limit + 1) * 1024 * 1024)
        assert big.status == 413


def test_annotate_staging_has_its_own_login(ovh1):
    ovh1.config.write_htpasswd("/etc/nginx/conf.d/annotate.openfoodfacts.net.htpasswd", {"labeller": "pw"})
    host = "annotate.openfoodfacts.net"
    assert ovh1.request(host, "/tasks").status == 401
    assert ovh1.request(host, "/tasks", basic_auth=("labeller", "pw")).echoed["backend"] == "upstream:annotate-staging#0"


def test_connect_test_blocks_the_database_manager(ovh1):
    host = "connect-test.openfoodfacts.org"
    for path in ("/web/database/manager", "/web/database/drop", "/web/database/manager/web/static/x.js"):
        assert ovh1.request(host, path, method="POST").status == 403  # fixed: was reachable
    assert ovh1.request(host, "/longpolling/poll").echoed["backend"] == "upstream:odoochat-staging#0"
    assert ovh1.request(host, "/web").echoed["backend"] == "upstream:odoo-staging#0"


def test_contents_login_except_graphql(ovh1):
    ovh1.config.write_htpasswd("/etc/nginx/off.htpasswd", {"off": "off", "alice": "monitoring-secret"})
    host = "contents.openfoodfacts.org"
    assert ovh1.request(host, "/wp-admin/").status == 401
    assert ovh1.request(host, "/wp-admin/", basic_auth=("off", "off")).status == 200
    r = ovh1.request(host, "/graphql", method="POST", body=b'{"query":"{posts{nodes{title}}}"}')
    assert r.status == 200 and r.echoed["backend"] == "upstream:wordpress-contents#0"
    # the query-string form, open today through a map of $request_uri (locations cannot see the query)
    r = ovh1.request(host, "/index.php?graphql", method="POST", body=b'{"query":"{posts{nodes{title}}}"}')
    assert r.status == 200 and r.echoed["uri"] == "/index.php?graphql"
    assert ovh1.request(host, "/index.php?p=1").status == 401


@pytest.mark.parametrize("host,backend", [("elasticvue.search.openfoodfacts.net", "elasticvue-staging"),
                                          ("static.openfoodfacts.net", "off-staging-static"),
                                          ("images.openfoodfacts.net", "off-staging-static")])
def test_staging_names_without_login(ovh1, host, backend):
    assert _redirects_to_https(ovh1, host)  # fixed for images.openfoodfacts.net
    r = ovh1.request(host, "/images/products/1.jpg")
    assert r.status == 200 and r.echoed["backend"] == f"upstream:{backend}#0"


@pytest.mark.parametrize("host,backend", [("feedme.openfoodfacts.org", "feedme"),
                                          ("metabase.openfoodfacts.org", "metabase"),
                                          ("link.openfoodfacts.org", "wordpress-link")])
def test_small_proxied_services(ovh1, host, backend):
    assert _redirects_to_https(ovh1, host)
    r = ovh1.request(host, "/dashboard/1?x=y")
    assert r.echoed["backend"] == f"upstream:{backend}#0" and r.echoed["uri"] == "/dashboard/1?x=y"


def test_mirabelle_cors_even_on_errors(ovh1):
    host = "mirabelle.openfoodfacts.org"
    ok = ovh1.request(host, "/products?sql=select+1")
    assert ok.echoed["backend"] == "upstream:mirabelle#0" and ok.header("Access-Control-Allow-Origin") == "*"
    err = ovh1.request(host, "/products", headers={"X-Echo-Status": "500"})
    assert err.status == 500 and err.header("Access-Control-Allow-Origin") == "*"


def test_openfoodfacts_info_needs_the_off_login(ovh1):
    ovh1.config.write_htpasswd("/etc/nginx/off.htpasswd", {"off": "off", "alice": "monitoring-secret"})
    for host in ("openfoodfacts.info", "fr.openfoodfacts.info"):
        assert _redirects_to_https(ovh1, host)
        assert ovh1.request(host, "/").status == 401
        assert ovh1.request(host, "/", basic_auth=("off", "off")).echoed["backend"] == "upstream:off-info#0"


def test_test_blog_needs_the_off_login(ovh1):
    ovh1.config.write_htpasswd("/etc/nginx/off.htpasswd", {"off": "off", "alice": "monitoring-secret"})
    assert ovh1.request("test-blog.openfoodfacts.org", "/").status == 401
    assert ovh1.request("test-blog.openfoodfacts.org", "/", basic_auth=("off", "off")).status == 200


def test_robotoff_staging_body_limit(ovh1):
    assert ovh1.request("robotoff.openfoodfacts.net", "/api/v1/predict", method="POST",
                        body_size=2_000_000).status == 413
    assert ovh1.request("robotoff.openfoodfacts.net", "/api/v1/insights").echoed["backend"] == "upstream:robotoff-staging#0"


def test_ovh1_liveness_page_on_port_80(ovh1):
    r = ovh1.request("ovh1.openfoodfacts.org", "/", port=80)
    assert (r.status, r.body, r.headers.get_all("Content-Type")) == (200, b"It works!", ["text/plain"])


def test_pmg_stays_plain_http(ovh1):
    r = ovh1.request("pmg.openfoodfacts.org", "/quarantine?x=1", port=80)
    assert r.status == 200 and r.echoed["uri"] == "/quarantine?x=1"
    with pytest.raises(Exception):  # no certificate: the default server refuses the TLS handshake
        ovh1.request("pmg.openfoodfacts.org", "/", verify=False)


def test_slack_static_page(ovh1):
    root = ovh1.config.fs_path("/var/www/slack")
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text("<a href='https://slack.openfoodfacts.org/invite'>Join</a>")
    assert _redirects_to_https(ovh1, "slack.openfoodfacts.org")
    r = ovh1.request("slack.openfoodfacts.org", "/")
    assert r.status == 200 and b"Join" in r.body and r.header("X-Echo-Backend") is None
