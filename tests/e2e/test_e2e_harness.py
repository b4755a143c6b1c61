"""The harness itself: rewriting, start/stop without leftovers, clear failures."""

import os
import socket
import time

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


FAILING_MODULE = '''
import pytest
from conftest import run_host

@pytest.fixture(scope="module")
def nginx(request, tmp_path_factory):
    return run_host(request, {fixture!r}, tmp_path_factory)

def test_fails_while_nginx_runs(nginx):
    open({pidfile!r}, "w").write(str(nginx.proc.pid))
    assert nginx.request("connect.openfoodfacts.org", "/").status == 200
    assert False, "deliberate failure"
'''


def _session_members(sid: int) -> list[int]:
    """Processes whose session id is ``sid`` (nginx's master and workers run in their own session)."""
    members = []
    for stat in __import__("pathlib").Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # fields after the command: state, ppid, pgrp, session
            members.append(int(stat.parent.name))
    return members


def test_a_failing_test_leaves_no_nginx_behind(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).parent
    # the module lives outside the test tree, so no other pytest run can collect it
    inner = tmp_path / "inner_tests"
    inner.mkdir()
    module = inner / "test_deliberate_failure.py"
    pidfile = tmp_path / "nginx.pid"
    module.write_text(FAILING_MODULE.format(fixture=str(here / "fixtures" / "ovh1-connect-crm"), pidfile=str(pidfile)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), str(here.parents[1])])}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module),
                          f"--rootdir={inner}", f"--basetemp={tmp_path / 'inner'}"], capture_output=True,
                         text=True, cwd=inner, env=env)
    assert "deliberate failure" in out.stdout and out.returncode == 1, out.stdout[-2000:]
    master = int(pidfile.read_text())
    assert not _alive(master)
    assert _session_members(master) == []


def test_session_members_sees_a_running_nginx(tmp_path):
    # the check above is not vacuous: while nginx runs, its master and worker share its session
    cfg = _host(tmp_path)
    nginx = cfg.start()
    try:
        # the master answers before its worker has forked on a loaded machine: give it a moment
        deadline = time.monotonic() + 5
        while len(_session_members(nginx.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_session_members(nginx.proc.pid)) >= 2
    finally:
        nginx.stop()
        cfg.close()
