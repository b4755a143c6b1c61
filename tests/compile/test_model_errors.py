"""Declaration errors point at file:line:col and the field, and nothing is written."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest

from proxygen.errors import DeclarationError
from proxygen.model import load_repository
from proxygen.model.settings import load_settings

from .conftest import FULL_SITE, REPO, SETTINGS, write_repo


def errors_of(root) -> str:
    with pytest.raises(DeclarationError) as info:
        load_repository(root)
    return str(info.value)


def test_shipped_repository_is_valid():
    repo = load_repository(REPO)
    assert {"openfoodfacts", "query", "connect", "crm", "monitoring"} <= set(repo.sites)
    s = load_settings(REPO / "proxygen.yml")
    assert {"main", "combined_upstream"} <= set(s.log_formats)
    assert s.rate_limit_zones["off"].rate == "15r/m" and s.rate_limit_zones["off"].name == "off"
    assert s.blocklists_dir == "blocklists"
    assert {"scaleway-proxy", "ovh1-reverse-proxy"} <= set(s.hosts)


def test_error_points_at_line_column_and_field(tmp_path):
    write_repo(tmp_path, sites={"query": {"server_names": ["q.example.org"],
                                           "tls": {"certificate": "bad name/../x"},
                                           "locations": [{"path": "/", "return": 204}]}})
    msg = errors_of(tmp_path)
    assert msg.startswith("sites/query.yml:4:3: tls.certificate: not a valid name"), msg


def test_every_problem_is_reported_at_once(tmp_path):
    site = copy.deepcopy(FULL_SITE)
    site["client_max_body_size"] = "20 megabytes"
    site["locations"][0]["rate_limits"][0]["burst"] = -1
    write_repo(tmp_path, sites={"full": site})
    lines = errors_of(tmp_path).splitlines()
    assert any(l.startswith("sites/full.yml:") and "client_max_body_size: not a valid size" in l for l in lines)
    assert any("locations[0].rate_limits[0].burst:" in l for l in lines)


def test_unknown_field_suggests_the_close_one(tmp_path):
    write_repo(tmp_path, sites={"s": {"server_names": ["s.example.org"], "server_name": ["x"],
                                      "locations": [{"path": "/", "return": 204}]}})
    msg = errors_of(tmp_path)
    assert "sites/s.yml:3:1: server_name: unknown field (did you mean 'server_names'?)" in msg


def test_duplicate_keys_are_errors(tmp_path):
    write_repo(tmp_path, sites={})
    (tmp_path / "sites" / "d.yml").write_text("server_names: [a.org]\nlocations: []\nserver_names: [b.org]\n")
    assert "sites/d.yml:3:1: server_names: duplicate key" in errors_of(tmp_path)


def test_yaml_syntax_error_has_a_position(tmp_path):
    write_repo(tmp_path, sites={})
    (tmp_path / "sites" / "bad.yml").write_text("server_names: [a.org\nlocations: x\n")
    assert errors_of(tmp_path).startswith("sites/bad.yml:")


def test_yes_no_on_off_stay_strings(tmp_path):
    settings = copy.deepcopy(SETTINGS)
    settings["rate_limit_zones"] = {"off": {"key": "$binary_remote_addr", "rate": "1r/s"}}
    settings["hosts"]["edge"]["sites"] = []
    write_repo(tmp_path, settings=settings, sites={})
    text = (tmp_path / "proxygen.yml").read_text()
    (tmp_path / "proxygen.yml").write_text(text.replace("'off':", "off:"))
    assert "\n  off:" in (tmp_path / "proxygen.yml").read_text()
    assert "off" in load_repository(tmp_path).settings.rate_limit_zones


def test_control_character_escaped_in_yaml_is_refused(tmp_path):
    write_repo(tmp_path, sites={})
    (tmp_path / "sites" / "c.yml").write_text(
        'server_names: [c.org]\nlocations:\n  - path: /\n    return: {status: 200, text: "a\\x85b"}\n')
    assert "sites/c.yml:4:27: locations[0].return.text: contains a control character (U+0085)" in errors_of(tmp_path)


def test_variables_only_where_the_field_allows_them(tmp_path):
    write_repo(tmp_path, sites={"v": {"server_names": ["v.org"], "basic_auth": {"realm": "$staging_realm",
                                      "user_file": "/etc/x"}, "maps": [{"variable": "$staging_realm",
                                      "source": "$remote_addr", "default": "staging"}],
                                      "locations": [{"path": "/", "return": {"status": 200, "text": "$host"}}]}})
    msg = errors_of(tmp_path)
    assert "locations[0].return.text: '$' is not allowed here" in msg
    assert "realm" not in msg  # auth_basic expands variables (a map can turn auth off for some clients)


@pytest.mark.parametrize("mutate,expected", [
    (lambda s: s["locations"][0]["rate_limits"][0].update(zone="nope"), "locations[0].rate_limits[0].zone: unknown rate-limit zone 'nope'"),
    (lambda s: s.update(header_set="nope"), "header_set: unknown header set 'nope'"),
    (lambda s: s["locations"][0]["proxy"].update(upstream="nope"), "locations[0].proxy.upstream: unknown upstream 'nope'"),
    (lambda s: s["locations"][0]["cache"].update(zone="nope"), "locations[0].cache.zone: unknown cache zone 'nope'"),
    (lambda s: s["logs"]["access"].update(format="nope"), "logs.access.format: unknown log format 'nope'"),
    (lambda s: s.update(error_pages=[404]), "error_pages[0]: no error page for 404"),
    (lambda s: s["locations"][2]["static"].update(fallback="@nope"), "locations[2].static.fallback: no named location @nope"),
    (lambda s: s["directives"].append({"name": "ssl_engine", "args": ["x"]}), "directives[1].name: unknown directive 'ssl_engine'"),
    (lambda s: s["directives"].append({"name": "include", "args": ["/etc/passwd"]}), "directives[1].name: include cannot be set"),
    (lambda s: s["directives"].append({"name": "alias", "args": ["/x"]}), "directives[1].name: alias cannot be set"),
    (lambda s: s["directives"].append({"name": "gzip", "args": ["on", "off"]}), "directives[1]: gzip takes 1 argument(s), got 2"),
    (lambda s: s["directives"].append({"name": "internal", "args": []}), "directives[1].name: internal is not allowed in a server block"),
    (lambda s: s["maps"][0].update(variable="$proxygen_allowlisted"), "maps[0].variable: $proxygen_allowlisted is defined by proxygen itself"),
    (lambda s: s["locations"].append({"path": "/api/", "deny": True}), "location declared twice: prefix /api/"),
    (lambda s: s["locations"].append({"path": "/x", "deny": True, "return": 403}), "set exactly one action"),
    (lambda s: s["locations"].append({"path": "x", "deny": True}), "a prefix path must start with /"),
    (lambda s: s["locations"].append({"path": "(", "match": "regex", "deny": True}), "not a valid regular expression"),
    (lambda s: s["locations"].append({"path": "/503.html", "match": "exact", "deny": True}), "locations[8].path: = /503.html is already generated"),
    (lambda s: (s["tls"].update(redirect_http=False), s["locations"].append({"path": "/.well-known/acme-challenge/", "deny": True})), "locations[8].path: the ACME challenge location is generated"),
])
def test_reference_and_shape_errors(tmp_path, mutate, expected):
    site = copy.deepcopy(FULL_SITE)
    mutate(site)
    write_repo(tmp_path, sites={"full": site})
    msg = errors_of(tmp_path)
    assert expected in msg, msg
    assert msg.startswith("sites/full.yml:")


def test_host_conflicts_are_explicit(tmp_path):
    settings = copy.deepcopy(SETTINGS)
    settings["hosts"]["edge"]["sites"] = ["a", "b"]
    one = {"server_names": ["same.org"], "upstreams": {"pool": {"servers": [{"address": "10.0.0.1:80"}]}},
           "maps": [{"variable": "$v", "source": "$host"}], "locations": [{"path": "/", "proxy": {"upstream": "pool"}}]}
    write_repo(tmp_path, settings=settings, sites={"a": one, "b": one})
    msg = errors_of(tmp_path)
    assert "sites/b.yml:2:3: server_names[0]: same.org is also served by site a on host edge" in msg
    assert "upstreams.pool: upstream pool is also declared by site a on host edge" in msg
    assert "maps[0].variable: $v is also defined by site a on host edge" in msg


def test_host_lists_a_missing_site(tmp_path):
    settings = copy.deepcopy(SETTINGS)
    settings["hosts"]["edge"]["sites"] = ["ful"]
    write_repo(tmp_path, settings=settings)
    assert "hosts.edge.sites[0]: no site declaration sites/ful.yml (did you mean 'full'?)" in errors_of(tmp_path)


def test_cli_build_error_exits_1_and_writes_nothing(tmp_path):
    site = copy.deepcopy(FULL_SITE)
    site["tls"]["certificate"] = "a b"
    write_repo(tmp_path, sites={"full": site})
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "proxygen", "build", "--root", str(tmp_path), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: sites/full.yml:") and "tls.certificate" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_undefined_variables_are_declaration_errors(tmp_path):
    settings = copy.deepcopy(SETTINGS)
    settings["rate_limit_zones"]["per-ip"]["key"] = "$undefined_key"
    site = copy.deepcopy(FULL_SITE)
    site["headers"][0]["value"] = "$nope"
    site["locations"][1]["path"] = "^/search/(?P<rest>.*)$"
    site["locations"][1]["proxy"]["uri"] = "/$rest$is_args$args$1"
    write_repo(tmp_path, settings=settings, sites={"full": site})
    msg = errors_of(tmp_path)
    assert "proxygen.yml:" in msg and "rate_limit_zones.per-ip.key: $undefined_key is defined by no map/geo" in msg
    assert "headers[0].value: $nope is not an nginx variable" in msg
    assert "$rest" not in msg and "$1" not in msg  # a named capture and a numbered one are variables
    assert len(msg.splitlines()) == 2


def test_allowlisted_user_agent_with_a_control_character(tmp_path):
    settings = copy.deepcopy(SETTINGS)
    settings["allowlists"]["user_agents"][0]["pattern"] = "Smoothie\r\nX: 1"
    write_repo(tmp_path, settings=settings)
    assert "allowlists.user_agents[0].pattern: contains a control character (U+000D)" in errors_of(tmp_path)


def test_union_errors_say_once_what_is_accepted(tmp_path):
    site = copy.deepcopy(FULL_SITE)
    site["tls"]["hsts"] = "maybe"
    write_repo(tmp_path, sites={"full": site})
    lines = [l for l in errors_of(tmp_path).splitlines() if "tls.hsts" in l]
    assert len(lines) == 1 and lines[0].endswith("tls.hsts: Input should be a mapping (Hsts), or a valid boolean")


def test_pcre_named_captures_are_accepted_and_usable(tmp_path):
    site = copy.deepcopy(FULL_SITE)
    site["locations"][1]["path"] = "^/search/(?<rest>.*)$"
    site["locations"][1]["proxy"]["uri"] = "/$rest"
    write_repo(tmp_path, sites={"full": site})
    assert load_repository(tmp_path).sites["full"].locations[1].path == "^/search/(?<rest>.*)$"
