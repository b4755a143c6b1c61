"""Model features for what OFF's vhosts need beyond plain locations: `^~` prefixes, the local
stub_status listener, shared http-level maps, and directives of the images server."""

from __future__ import annotations

import copy

import pytest
import yaml

from proxygen.compile.build import build
from proxygen.errors import DeclarationError
from proxygen.model import load_repository

from .conftest import FULL_SITE, SETTINGS, write_repo
from .payloads import ALL, CONTROL as CONTROL_PAYLOADS

# YAML folds some characters (U+0085 is a YAML line break): only what a YAML file can carry
ALL_PAYLOADS = [p for p in ALL if yaml.safe_load(yaml.safe_dump({"v": p}, allow_unicode=True))["v"] == p]


def errors_of(root) -> str:
    with pytest.raises(DeclarationError) as info:
        load_repository(root)
    return str(info.value)


def _site_conf(root, host="edge", site="full") -> str:
    return build(load_repository(root), host).hosts[host].files[f"sites/{site}.conf"]


# --------------------------------------------------------------------------- match: prefix_priority (^~)

def test_prefix_priority_renders_caret_tilde(repo_dir):
    text = _site_conf(repo_dir)
    assert "    location ^~ /secret {\n        deny all;\n    }" in text


@pytest.mark.parametrize("location,expected", [
    ({"path": "web/database/", "match": "prefix_priority", "deny": True},
     "locations[8]: a prefix_priority path must start with /"),
    ({"path": "/web/$x", "match": "prefix_priority", "deny": True}, "'$' in a prefix or exact path is literal"),
    ({"path": "/api/", "match": "prefix_priority", "deny": True}, "location declared twice: prefix /api/"),
    ({"path": "/x", "match": "prefix_first", "deny": True}, "locations[8].match: Input should be"),
])
def test_prefix_priority_errors_are_positioned(tmp_path, location, expected):
    site = copy.deepcopy(FULL_SITE)
    site["locations"].append(location)
    write_repo(tmp_path, sites={"full": site})
    msg = errors_of(tmp_path)
    assert msg.startswith("sites/full.yml:") and expected in msg, msg


def test_shipped_connect_refuses_all_of_the_database_api():
    from .conftest import REPO

    for site in ("connect", "connect-test"):
        locations = load_repository(REPO).sites[site].locations
        db = [loc for loc in locations if loc.path.startswith("/web/database")]
        assert [(loc.match, loc.path, loc.return_.status) for loc in db] == [("prefix_priority", "/web/database/", 403)]


# --------------------------------------------------------------------------- directive table

def test_sendfile_max_chunk_is_accepted_in_a_location(tmp_path):
    site = copy.deepcopy(FULL_SITE)
    site["locations"][2]["directives"] = [{"name": "sendfile_max_chunk", "args": ["1m"]}]
    write_repo(tmp_path, sites={"full": site})
    assert "        sendfile_max_chunk 1m;\n" in _site_conf(tmp_path)


def test_sendfile_max_chunk_takes_one_argument(tmp_path):
    site = copy.deepcopy(FULL_SITE)
    site["directives"].append({"name": "sendfile_max_chunk", "args": ["1m", "2m"]})
    write_repo(tmp_path, sites={"full": site})
    assert "directives[1]: sendfile_max_chunk takes 1 argument(s), got 2" in errors_of(tmp_path)


# --------------------------------------------------------------------------- zones of today's vhosts

SIBLINGS = {"openbeautyfacts": "obf", "openbeautyfacts-com": "obf-com", "openpetfoodfacts": "opff",
            "openproductsfacts": "opf", "openfoodsupplementsfacts": "ofsf", "new-openfoodfacts": "off-new"}


def test_shipped_zones_match_todays_vhosts():
    from .conftest import REPO

    repo = load_repository(REPO)
    zones, caches = repo.settings.rate_limit_zones, repo.settings.cache_zones
    for site, zone in SIBLINGS.items():
        # per IP as today, but allowlisted addresses are exempt (shared map: empty key for them)
        assert (zones[zone].key, zones[zone].rate) == ("$rl_per_ip_key", "240r/m")
        root = [loc for loc in repo.sites[site].locations if loc.path == "/"][0]
        assert [(r.zone, r.burst, r.nodelay) for r in root.rate_limits] == [(zone, 120, True)]
        assert root.rate_limit_status == 429 and not root.rate_limit_dry_run  # intended: enforced
    per_ip = next(m for m in repo.settings.maps if m.variable == "$rl_per_ip_key")
    assert (per_ip.source, per_ip.default) == ("$proxygen_allowlisted_ip", "$binary_remote_addr")
    assert [(e.exact, e.value) for e in per_ip.entries] == [("1", "")]
    assert (zones["wiki-spider"].key, zones["wiki-spider"].rate) == ("$wiki_spider_key", "4r/m")
    assert (zones["images-big"].rate, zones["images-small"].rate) == ("100r/m", "6000r/m")
    images_root = repo.sites["images"].locations[0]
    assert images_root.rate_limit_dry_run is True and images_root.rate_limit_status == 429
    c = caches["off-images"]
    assert (c.path, c.levels, c.inactive, c.max_size) == ("/dev/shm/off-images", "1:2", "24h", "4G")


def test_zones_are_declared_only_on_hosts_that_use_them():
    from .conftest import REPO

    hosts = build(load_repository(REPO)).hosts
    off1 = hosts["off1-reverse-proxy"].files["nginx.conf"]
    assert "limit_req_zone $images_big_key zone=images-big:10m rate=100r/m;" in off1
    assert ("proxy_cache_path /dev/shm/off-images levels=1:2 keys_zone=off-images:10m max_size=4G inactive=24h "
            "use_temp_path=off;") in off1
    assert "zone=obf" not in off1 and "off-images" not in hosts["off2-reverse-proxy"].files["nginx.conf"]
    assert "limit_req_zone $wiki_spider_key zone=wiki-spider:10m rate=4r/m;" in hosts["ovh1-reverse-proxy"].files["nginx.conf"]
    # dry-run stays on the images location, never at http level (today's leak to every vhost)
    assert "limit_req_dry_run" not in off1
    assert "        limit_req_dry_run on;\n" in hosts["off1-reverse-proxy"].files["sites/images.conf"]


# --------------------------------------------------------------------------- hosts.<h>.stub_status

def _with_status(tmp_path, status):
    settings = copy.deepcopy(SETTINGS)
    settings["hosts"]["edge"]["stub_status"] = status
    write_repo(tmp_path, settings=settings)
    return tmp_path


@pytest.mark.parametrize("status,listen", [({}, "127.0.0.1:8080"), ({"address": "::1", "port": 9000}, "[::1]:9000"),
                                           ({"address": "127.0.0.2"}, "127.0.0.2:8080")])
def test_stub_status_gets_a_loopback_server(tmp_path, status, listen):
    text = build(load_repository(_with_status(tmp_path, status)), "edge").hosts["edge"].files["nginx.conf"]
    assert f"    server {{\n        listen {listen};\n        access_log off;\n        stub_status;\n    }}\n" in text


def test_no_stub_status_server_unless_declared(repo_dir):
    assert "stub_status" not in build(load_repository(repo_dir), "edge").hosts["edge"].files["nginx.conf"]


@pytest.mark.parametrize("status,expected", [
    ({"address": "0.0.0.0"}, "hosts.edge.stub_status.address: 0.0.0.0 is not a loopback address"),
    ({"address": "10.1.0.5"}, "hosts.edge.stub_status.address: 10.1.0.5 is not a loopback address"),
    ({"address": "localhost"}, "hosts.edge.stub_status.address: "),
    ({"port": 443}, "hosts.edge.stub_status.port: 443 is the host's https_port"),
    ({"port": 80}, "hosts.edge.stub_status.port: 80 is the host's http_port"),
    ({"port": 0}, "hosts.edge.stub_status.port: "),
    ({"listen": "127.0.0.1:8080"}, "hosts.edge.stub_status.listen: unknown field"),
])
def test_stub_status_errors_are_positioned(tmp_path, status, expected):
    msg = errors_of(_with_status(tmp_path, status))
    assert msg.startswith("proxygen.yml:") and expected in msg, msg


def test_shipped_stub_status_is_on_off2_only():
    from .conftest import REPO

    hosts = build(load_repository(REPO)).hosts
    assert "        listen 127.0.0.1:8080;\n        access_log off;\n        stub_status;\n" in \
        hosts["off2-reverse-proxy"].files["nginx.conf"]
    assert [h for h, out in hosts.items() if "stub_status" in out.files["nginx.conf"]] == ["off2-reverse-proxy"]


# --------------------------------------------------------------------------- proxygen.yml maps (shared)

SHARED = {"variable": "$failed", "source": "$upstream_status", "default": "0",
          "entries": [{"regex": "^[45]", "value": "1"}]}


def _with_shared(tmp_path, maps, site=None):
    settings = copy.deepcopy(SETTINGS)
    settings["maps"] = maps
    settings["hosts"]["old"]["sites"] = []
    write_repo(tmp_path, settings=settings, sites={"full": site or FULL_SITE})
    return tmp_path


def test_shared_map_is_emitted_on_every_host_and_usable_by_sites(tmp_path):
    site = copy.deepcopy(FULL_SITE)
    site["logs"]["access"]["if"] = "$failed"
    hosts = build(load_repository(_with_shared(tmp_path, [SHARED], site))).hosts
    block = '    map $upstream_status $failed {\n        default 0;\n        ~^[45] 1;\n    }\n'
    for host in ("edge", "old"):
        assert hosts[host].files["nginx.conf"].count(block) == 1
    assert " if=$failed;" in hosts["edge"].files["sites/full.conf"]
    assert "$failed {" not in hosts["edge"].files["sites/full.conf"]


def test_shared_map_errors_are_positioned(tmp_path):
    site = copy.deepcopy(FULL_SITE)
    site["maps"] = [{"variable": "$failed", "source": "$status"}]
    site["logs"]["access"].pop("if")
    msg = errors_of(_with_shared(tmp_path, [SHARED], site))
    assert msg.startswith("sites/full.yml:") and \
        "maps[0].variable: $failed is also defined in proxygen.yml maps; use that one or rename" in msg
    for maps in ([{**SHARED, "source": "$loggable"}], [SHARED, SHARED]):
        assert errors_of(_with_shared(tmp_path, maps)).startswith("proxygen.yml:")


def test_shared_map_error_messages(tmp_path):
    msg = errors_of(_with_shared(tmp_path, [{**SHARED, "source": "$loggable"}]))
    assert "maps[0].source: $loggable is not an nginx variable nor a shared map" in msg
    msg = errors_of(_with_shared(tmp_path, [{**SHARED, "variable": "$proxygen_allowlisted"}]))
    assert "maps[0].variable: $proxygen_allowlisted is defined by proxygen itself" in msg
    msg = errors_of(_with_shared(tmp_path, [SHARED, SHARED]))
    assert "maps[1].variable: $failed is defined twice in maps" in msg
    msg = errors_of(_with_shared(tmp_path, [{**SHARED, "entries": [{"regex": "(", "value": "1"}]}]))
    assert "maps[0].entries[0].regex: " in msg and "not a valid regular expression" in msg


def test_shipped_log_only_errors_map_is_declared_once():
    from .conftest import REPO

    repo = load_repository(REPO)
    assert "$log_access_error" in [m.variable for m in repo.settings.maps]
    users = sorted(n for n, s in repo.sites.items() if s.logs.access and s.logs.access.condition == "$log_access_error")
    assert users == ["openbeautyfacts", "openfoodfacts", "openfoodsupplementsfacts", "openpetfoodfacts",
                     "openproductsfacts"]
    assert not [n for n, s in repo.sites.items() for m in s.maps if m.variable.endswith("log_access_error")]


@pytest.mark.parametrize("payload", ALL_PAYLOADS)
def test_shared_map_strings_go_through_the_quote_funnel(tmp_path, payload):
    """Each string of a shared map is refused with a position in proxygen.yml, or arrives as one token."""
    from proxygen.compile.check import parse
    from proxygen.compile.quote import unquote_token

    shared = {"variable": "$failed", "source": "$upstream_status", "default": payload,
              "entries": [{"exact": payload or "x", "value": payload}]}
    try:
        text = build(load_repository(_with_shared(tmp_path, [shared])), "edge").hosts["edge"].files["nginx.conf"]
    except DeclarationError as err:
        assert str(err).startswith("proxygen.yml:") and "maps[0]" in str(err), err
        return
    assert payload not in CONTROL_PAYLOADS
    http = [n for n in parse(text, "nginx.conf") if n.name == "http"][0]
    block = [n for n in http.block if n.name == "map" and n.args[-1] == "$failed"][0].block
    key = (payload or "x")
    key = "\\" + key if key.startswith(("~", "\\")) or key in ("default", "hostnames", "include", "volatile") else key
    assert [(n.name, n.args) for n in block] == [("default", [payload]), (key, [payload])]
