"""Run the real nginx for lint tests that check a rule's premise against it (never left running).

nginx is required, not optional: scripts/bootstrap.sh installs Debian's package, and a test
that cannot find it fails instead of skipping.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@contextlib.contextmanager
def running_nginx(prefix: Path, conf: Path, port: int):
    """`nginx -t` the config (it must say `daemon off;`), start it, wait for `port`, stop it on exit."""
    assert Path(NGINX).exists(), "nginx is not installed (bash scripts/bootstrap.sh --test installs it)"
    args = ["-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    check = subprocess.run([NGINX, "-t", *args], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([NGINX, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
