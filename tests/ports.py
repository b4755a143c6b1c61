"""Ports for the real nginx the tests start: never handed out twice, never where the kernel puts port-0 binds.

Asking the kernel for a free port (bind to port 0, close, hand the number to nginx) races: the port is
free again until nginx binds it, so a second such call, or a test backend binding port 0, can get the
same number (nginx then fails with "duplicate default server", or a TLS client reaches a plain HTTP
backend). Ports here are drawn below the kernel's ephemeral range, where port-0 binds and outgoing
connections never land, are checked free, and are remembered for the whole test run.
"""

from __future__ import annotations

import random
import socket

_HANDED_OUT: set[int] = set()
_LOWEST = 20000


def _ephemeral_start() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on and no other caller in this run has been given."""
    top = _ephemeral_start()
    low = _LOWEST if top - _LOWEST >= 1000 else 1024
    for _ in range(1000):
        port = random.randrange(low, top)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free port found in {low}-{top - 1}")
