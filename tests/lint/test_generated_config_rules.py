"""The PX2xx rules that read the generated config, fed hand-written nginx config.

proxygen's model cannot express most of these mistakes (the compiler repeats inherited headers, refuses
raw add_header/proxy_set_header/allow/return in `directives:`), so the fixtures exercise what a
contributor can still write; these tests check the config-level analysis itself, as a guard against
template and compiler bugs.
"""

from __future__ import annotations

from proxygen.lint.rules import (px202_add_header_dropped, px203_proxy_header_dropped, px204_alias_traversal,
                                 px205_allow_without_deny, px206_return_bypasses_access, px207_status_page_exposed,
                                 px208_version_disclosure)
from proxygen.lint.rules._security import parse_tree

HTTP = """
http {
    server_tokens off;
    %s
}
"""


def tree(body: str, **includes):
    return parse_tree(HTTP % body, others=includes)


def test_add_header_dropped_in_location_keeps_name_of_block_and_missing_headers():
    top = tree("""
        add_header X-Frame-Options DENY;
        server {
            add_header Strict-Transport-Security "max-age=63072000" always;
            location /api/ { add_header Cache-Control no-store; }
            location /ok/ { add_header strict-transport-security "max-age=1"; add_header Cache-Control no-store; }
            location / { proxy_pass http://b; }
        }
    """)
    found = px202_add_header_dropped.problems(top)
    assert [(b.describe(), missing) for b, _, missing, _, _ in found] == [
        ("server", ["X-Frame-Options"]),
        ("location /api/", ["Strict-Transport-Security"]),
    ]


def test_add_header_in_if_drops_the_location_headers_and_snippets_count_as_the_server():
    top = tree("""
        server {
            include snippets/h.conf;
            location / {
                if ($arg_x) { add_header X-Debug 1; }
            }
        }
    """, **{"snippets/h.conf": "add_header X-Content-Type-Options nosniff;"})
    found = px202_add_header_dropped.problems(top)
    assert [(b.describe(), missing) for b, _, missing, _, _ in found] == [("if ($arg_x)", ["X-Content-Type-Options"])]
    assert found[0][1][0].rel == "nginx.conf" and found[0][3].describe() == "server"


def test_add_header_nothing_inherited_nothing_dropped():
    top = tree("server { location / { add_header A 1; } location /b { add_header B 1; } }")
    assert px202_add_header_dropped.problems(top) == []


def test_proxy_set_header_dropped_and_repeated():
    top = tree("""
        server {
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            location /ws/ { proxy_set_header Upgrade $http_upgrade; proxy_pass http://b; }
            location /api/ { proxy_set_header Host $host; proxy_set_header X-Forwarded-For $remote_addr;
                             proxy_set_header X-Api 1; proxy_pass http://b; }
        }
    """)
    found = px203_proxy_header_dropped.problems(top)
    assert [(b.describe(), missing, name) for b, _, missing, _, name in found] == [
        ("location /ws/", ["Host", "X-Forwarded-For"], "proxy_set_header")]


def test_alias_traversal_only_on_prefix_paths_without_slash_and_alias_with_slash():
    top = tree("""
        server {
            location /static { alias /srv/static/; }
            location ^~ /media { alias /srv/media/; }
            location /ok/ { alias /srv/ok/; }
            location /file { alias /srv/file; }
            location = /f.ico { alias /srv/f.ico/; }
            location ~ ^/re(.*)$ { alias /srv/re/$1; }
        }
    """)
    assert [loc.describe() for loc, _ in px204_alias_traversal.problems(top)] == [
        "location /static", "location ^~ /media"]


def test_allow_without_deny_per_block_and_satisfy_any_exception():
    top = tree("""
        server {
            deny all;
            location /a { allow 10.0.0.0/8; }
            location /b { allow 10.0.0.0/8; deny all; }
            location /c { allow all; }
            location /d { satisfy any; auth_basic x; auth_basic_user_file /f; allow 10.0.0.0/8; }
            location /e { satisfy any; auth_basic off; allow 10.0.0.0/8; }
        }
    """)
    assert [b.describe() for b, _ in px205_allow_without_deny.problems(top)] == ["location /a", "location /e"]


def test_return_bypasses_inherited_access_and_auth_but_refusals_do_not():
    top = tree("""
        server {
            auth_basic staff;
            auth_basic_user_file /f;
            location /a { return 301 https://example.org/; }
            location /b { if ($x) { return 200 "hi"; } }
            location /c { return 403; }
            location /d { auth_basic off; return 302 /x; }
            location /e { if ($x) { rewrite ^ /y redirect; } }
        }
        server {
            if ($bad) { return https://example.org; }
            location /admin { allow 10.0.0.0/8; deny all; }
        }
        server {
            return 301 https://example.org;
        }
    """)
    found = [(r.describe(), b.describe()) for r, b in px206_return_bypasses_access.problems(top)]
    assert found == [("return 301 https://example.org/", "location /a"), ("return 200 hi", "location /b"),
                     ("rewrite ^ /y redirect", "location /e"), ("return https://example.org", "server")]


def test_status_page_needs_a_deny_auth_or_a_loopback_listen():
    top = tree("""
        server { listen 80; location /s { stub_status; } location /t { allow 10.0.0.0/8; deny all; stub_status; } }
        server { listen 127.0.0.1:8080; listen [::1]:8080; location /s { stub_status; } }
        server { listen 8080; location /s { allow 10.0.0.0/8; stub_status; } }
    """)
    found = px207_status_page_exposed.problems(top)
    assert [(p.parents[-1].describe(), p.server().children[0].node.args) for p in found] == [
        ("location /s", ["80"]), ("location /s", ["8080"])]


def test_version_disclosure_on_build_and_missing():
    assert px208_version_disclosure.problems(tree("server { server_tokens off; }")) == []
    found = px208_version_disclosure.problems(tree("server { location / { server_tokens build; } }"))
    assert [p.describe() for p, _ in found] == ["server_tokens build"]
    missing = px208_version_disclosure.problems(parse_tree("http { server { } }"))
    assert [p.describe() for p, _ in missing] == ["http"] and "default (on)" in missing[0][1]
