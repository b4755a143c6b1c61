"""What the PX2xx rules say nginx does, checked against the real nginx.

One nginx on 127.0.0.1 serves a location per claim; a small TCP backend records the raw requests nginx
sends it. Each test is the attack (or the lost header) its rule describes, and the fixed form beside it.
"""

from __future__ import annotations

import os
import socket
import threading

import pytest

from tests.lint.nginx_run import running_nginx
from tests.ports import free_port


class Backend:
    """Accepts connections, keeps each raw request, answers 200."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data)
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\nbackend")

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


CONFIG = """{user}
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/pt; fastcgi_temp_path {tmp}/ft;
    uwsgi_temp_path {tmp}/ut; scgi_temp_path {tmp}/st;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        add_header X-Server-Header set-on-server always;
        proxy_set_header X-From-Server yes;

        location /static {{ alias {tmp}/www/static/; }}                     # PX204
        location /safe/ {{ alias {tmp}/www/static/; }}
        location /own-header/ {{ add_header X-Own yes; return 200 "ok"; }}    # PX202
        location /no-header/ {{ return 200 "ok"; }}
        location /own-proxy-header/ {{ proxy_set_header X-Own yes; proxy_pass http://127.0.0.1:{backend}; }}  # PX203
        location /return-in-deny/ {{ allow 192.0.2.1; deny all; return 200 "served"; }}                # PX206
        location /deny/ {{ allow 192.0.2.1; deny all; }}
        location /allow-only/ {{ allow 192.0.2.1; }}                                                 # PX205
        location /split/ {{ proxy_pass http://127.0.0.1:{backend}$uri; }}                            # PX212
        location /raw/ {{ proxy_pass http://127.0.0.1:{backend}$request_uri; }}
        location ~ "^/cr/(.+)$" {{ return 301 https://example.org/$1; }}                             # PX212 (CR)
    }}
}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nginx")
    for rel, text in {"www/static/a.txt": "public", "www/secret.txt": "SECRET", "www/deny/x.txt": "x",
                      "www/allow-only/x.txt": "open to all"}.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_text(text)
    backend = Backend()
    port = free_port()
    conf = tmp / "nginx.conf"
    # as root, workers would run as nobody and could not read pytest's private temporary directory
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(CONFIG.format(user=user, tmp=tmp, port=port, backend=backend.port))
    try:
        with running_nginx(tmp, conf, port):
            yield port, backend
    finally:
        backend.close()


def _get(port: int, target: str) -> tuple[int, dict, bytes]:
    """A raw GET (the target is sent exactly as given, no client-side normalisation)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {target} HTTP/1.0\r\nHost: test\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_px204_alias_without_slash_serves_the_parent_directory(server):
    port, _ = server
    assert _get(port, "/static/a.txt")[2] == b"public"
    status, _, body = _get(port, "/static../secret.txt")
    assert (status, body) == (200, b"SECRET")
    assert _get(port, "/safe../secret.txt")[0] == 404


def test_px202_own_add_header_drops_the_servers(server):
    port, _ = server
    _, headers, _ = _get(port, "/own-header/")
    assert headers.get("x-own") == "yes" and "x-server-header" not in headers
    assert _get(port, "/no-header/")[1].get("x-server-header") == "set-on-server"


def test_px203_own_proxy_set_header_drops_the_servers(server):
    port, backend = server
    backend.requests.clear()
    assert _get(port, "/own-proxy-header/")[2] == b"backend"
    sent = backend.requests[-1].decode("latin-1")
    assert "X-Own: yes" in sent and "X-From-Server" not in sent


def test_px206_return_answers_before_allow_deny(server):
    port, _ = server
    status, _, body = _get(port, "/return-in-deny/")
    assert (status, body) == (200, b"served")
    assert _get(port, "/deny/x.txt")[0] == 403


def test_px205_allow_without_deny_lets_everyone_in(server):
    port, _ = server
    assert _get(port, "/allow-only/x.txt")[2] == b"open to all"  # 127.0.0.1 is not 192.0.2.1


def test_px212_decoded_uri_splits_the_proxied_request(server):
    port, backend = server
    backend.requests.clear()
    _get(port, "/split/x%0D%0AX-Injected:%20yes%0D%0Ay")
    assert b"\r\nX-Injected: yes\r\n" in backend.requests[-1]
    _get(port, "/raw/x%0D%0AX-Injected:%20yes%0D%0Ay")
    assert b"X-Injected" not in backend.requests[-1].split(b"\r\n\r\n")[0].split(b"\r\n", 1)[1]
    assert backend.requests[-1].startswith(b"GET /raw/x%0D%0AX-Injected:%20yes%0D%0Ay HTTP/1.0\r\n")


def test_px212_a_bare_cr_from_a_dot_capture_is_a_header_break_to_python_clients(server):
    import http.client

    port, _ = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/cr/x%0DSet-Cookie:%20evil=1")
        headers = conn.getresponse().getheaders()
    finally:
        conn.close()
    assert ("Location", "https://example.org/x") in headers and ("Set-Cookie", "evil=1") in headers
