"""The harness itself: rewriting, start/stop without leftovers, clear failures."""

import os
import socket

import crossplane
import pytest

from harness import HarnessError, HostConfig

pytestmark = pytest.mark.e2e

SITE = """\
events {}
http {
    upstream app { server 10.9.9.9:8080 max_fails=3; }
    server {
        listen 80;
        listen [::]:80;
        server_name example.org;
        return 301 https://$host$request_uri;
    }
    server {
        listen 443 ssl;
        listen [::]:443 ssl;
        http2 on;
        server_name example.org www.example.org;
        ssl_certificate /etc/letsencrypt/live/example.org/fullchain.pem;
        ssl_certificate_key /etc/letsencrypt/live/example.org/privkey.pem;
        ssl_dhparam /etc/letsencrypt/ssl-dhparams.pem;
        resolver 9.9.9.9;
        access_log /var/log/nginx/example.access.log;
        location / { proxy_pass http://app; }
        location /direct/ { proxy_pass http://10.8.8.8:9000/; }
        location /ws {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }
        location /private/ {
            auth_basic "staff";
            auth_basic_user_file /etc/nginx/htpasswd/staff;
            proxy_pass http://app;
        }
    }
}
"""


def _host(tmp_path, text=SITE):
    src = tmp_path / "src"
    src.mkdir()
    (src / "nginx.conf").write_text(text)
    return HostConfig(src, tmp_path / "run")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_rewrite_keeps_params_and_merges_ipv6(tmp_path):
    cfg = _host(tmp_path)
    try:
        parsed = crossplane.parse(str(cfg.conf_dir / "nginx.conf"), comments=False)["config"][0]["parsed"]
        http = next(d for d in parsed if d["directive"] == "http")["block"]
        servers = [d["block"] for d in http if d["directive"] == "server"]
        listens = [[d["args"] for d in s if d["directive"] == "listen"] for s in servers]
        assert listens[0] == [[f"127.0.0.1:{cfg.ports[80]}"]]
        assert listens[1] == [[f"127.0.0.1:{cfg.ports[443]}", "ssl", "http2"]]
        directives = {d["directive"] for d in servers[1]}
        assert not directives & {"resolver", "ssl_dhparam", "http2"}
        assert [d["args"] for d in http[:2]] == [["127.0.0.1"], ["X-Forwarded-For"]]
        assert set(cfg.backends) == {"upstream:app#0", "addr:10.8.8.8:9000"}
    finally:
        cfg.close()


def test_requests_basic_auth_and_sni(tmp_path):
    cfg = _host(tmp_path)
    cfg.write_htpasswd("/etc/nginx/htpasswd/staff", {"alice": "s3cret"})
    nginx = cfg.start()
    try:
        assert nginx.request("example.org", "/x", port=80).status == 301
        r = nginx.request("www.example.org", "/direct/a?b=1")
        assert r.echoed["backend"] == "addr:10.8.8.8:9000" and r.echoed["uri"] == "/a?b=1"
        assert nginx.request("example.org", "/private/").status == 401
        assert nginx.request("example.org", "/private/", basic_auth=("alice", "wrong")).status == 401
        assert nginx.request("example.org", "/private/", basic_auth=("alice", "s3cret")).status == 200
        assert nginx.websocket("example.org", "/ws").status == 101
        assert nginx.websocket("example.org", "/direct/ws").status == 200  # no Upgrade passed on
        # the throwaway certificate does not cover other names: hostname verification fails
        with pytest.raises(Exception, match="certificate|hostname"):
            nginx.request("other.example.net", "/")
    finally:
        nginx.stop()
        cfg.close()


def test_stop_leaves_no_process_and_frees_ports(tmp_path):
    cfg = _host(tmp_path)
    nginx = cfg.start()
    pid = nginx.proc.pid
    nginx.stop()
    cfg.close()
    assert not _alive(pid)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", cfg.ports[443]), timeout=0.5)


def test_bad_config_fails_clearly_without_a_process(tmp_path):
    cfg = _host(tmp_path, SITE.replace("return 301", "no_such_directive on; return 301"))
    try:
        with pytest.raises(HarnessError, match="no_such_directive"):
            cfg.start()
    finally:
        cfg.close()


def test_missing_include_is_named(tmp_path):
    with pytest.raises(HarnessError, match="/etc/somewhere/missing.conf"):
        _host(tmp_path, SITE.replace("resolver 9.9.9.9;", "include /etc/somewhere/missing.conf;"))
