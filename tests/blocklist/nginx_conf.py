"""Test-only: a minimal nginx.conf that renders RenderData the way proxygen.blocklist.render documents.

Not product code: the build's templates do this for real. The test overlay (real_ip from
X-Forwarded-For) lets one client on 127.0.0.1 pose as many addresses.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from proxygen.blocklist.render import RenderData

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def q(text: str) -> str:
    """An nginx double-quoted string (the parser unescapes \\\\ and \\")."""
    if any(c in text for c in "\r\n\x00"):
        raise ValueError(f"control character in {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def blocklist_http(data: RenderData) -> str:
    lines = [f"map_hash_max_size {data.map_hash_max_size};", f"map_hash_bucket_size {data.map_hash_bucket_size};",
             "geo $pg_bl_ip {", '    default "";']
    lines += [f"    {g.network} {q(g.value)};" for g in data.geo]
    lines += ["}", "map $http_user_agent $pg_bl_ua {", '    default "";']
    lines += [f"    {q(u.pattern)} {q(u.value)};" for u in data.ua_exact]
    lines += [f"    {q('~' + u.pattern)} {q(u.value)};" for u in data.ua_regex]
    lines += ["}", 'map "$pg_bl_ip|$pg_bl_ua" $pg_bl_action {', '    default "";',
              '    "~^allow\\|" "";', '    "~\\|allow$" "";']
    for code in ("block444", "block403", "tarpit"):
        lines.append(f'    "~(^|\\|){code}(\\||$)" {code};')
    lines.append("}")
    for z in data.zones:
        lines += [f'map "$pg_bl_ip|$pg_bl_ua" ${z.key_variable} {{', '    default "";',
                  '    "~^allow\\|" "";', '    "~\\|allow$" "";', '    "~(^|\\|)(block|tarpit)" "";']
        if z.per == "client":
            lines.append(f'    "~(^|\\|)t:{z.name}(\\||$)" $binary_remote_addr;')
        else:
            lines.append(f'    "~^(?<pg_k_{z.name}>t:{z.name}:[^|]*)\\|" $pg_k_{z.name};')
            lines.append(f'    "~\\|(?<pg_k2_{z.name}>t:{z.name}:.*)$" $pg_k2_{z.name};')
        lines += ["}", f"limit_req_zone ${z.key_variable} zone={z.name}:1m rate={z.rate};"]
    return "\n".join(lines) + "\n"


def blocklist_server(data: RenderData) -> str:
    lines = ["if ($pg_bl_action = block444) { return 444; }",
             "if ($pg_bl_action = block403) { return 403; }",
             "if ($pg_bl_action = tarpit) { rewrite ^ /stop-crawling.txt last; }"]
    for z in data.zones:
        lines.append(f"limit_req zone={z.name} burst={z.burst}{' nodelay' if z.nodelay else ''};")
    if data.zones:
        lines.append("limit_req_status 429;")
        if all(z.dry_run for z in data.zones):
            lines.append("limit_req_dry_run on;")
    return "\n".join(lines) + "\n"


DEFAULT_LOCATIONS = """\
        location / { try_files /ok.txt =500; }
        location = /stop-crawling.txt { }"""


def write_conf(prefix: Path, data: RenderData, port: int, *, http_extra: str = "",
               locations: str = DEFAULT_LOCATIONS) -> Path:
    """nginx.conf serving /ok.txt behind `data`'s blocklist; `http_extra` adds http-level lines (zones,
    maps), `locations` replaces the server's locations."""
    for d in ("logs", "tmp", "html"):
        (prefix / d).mkdir(parents=True, exist_ok=True)
    # Served from files, not `return`: return runs in the rewrite phase, before limit_req would.
    (prefix / "html/ok.txt").write_text("ok\n")
    (prefix / "html/stop-crawling.txt").write_text("tarpit\n")
    # Workers must read the temporary prefix (pytest's tmp dirs are 0700 for their owner).
    user = "user root;" if os.geteuid() == 0 else ""
    conf = f"""
{user}
worker_processes 1;
error_log {prefix}/logs/error.log info;
pid {prefix}/logs/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/logs/access.log combined;
    client_body_temp_path {prefix}/tmp/body; proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi; uwsgi_temp_path {prefix}/tmp/uwsgi; scgi_temp_path {prefix}/tmp/scgi;
    # test overlay only: pose as any client address
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
{blocklist_http(data)}
{http_extra}
    server {{
        listen 127.0.0.1:{port};
{blocklist_server(data)}
        root {prefix}/html;
{locations}
    }}
}}
"""
    path = prefix / "nginx.conf"
    path.write_text(conf)
    return path


def nginx_test(conf: Path, prefix: Path) -> subprocess.CompletedProcess:
    return subprocess.run([NGINX, "-t", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs/error.log")],
                          capture_output=True, text=True, timeout=120)


class RunningNginx:
    def __init__(self, prefix: Path, conf: Path, port: int):
        self.port = port
        self.proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs/error.log"),
                                      "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.proc.stderr.read().decode()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start listening")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
