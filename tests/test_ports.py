"""The port helper the nginx tests share: unique ports, below the kernel's ephemeral range, never a busy one."""

from __future__ import annotations

import socket

from tests import ports


def test_ports_are_unique_and_below_the_ephemeral_range():
    handed = [ports.free_port() for _ in range(200)]
    assert len(set(handed)) == len(handed)
    assert all(ports._LOWEST <= p < ports._ephemeral_start() for p in handed)


def test_a_busy_port_or_one_handed_out_before_is_skipped(monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        taken = busy.getsockname()[1]
        given = ports.free_port()
        fresh = next(p for p in range(ports._LOWEST, ports._ephemeral_start())
                     if p not in ports._HANDED_OUT and _bindable(p))
        tries = iter([taken, given, fresh])
        monkeypatch.setattr(ports.random, "randrange", lambda low, high: next(tries))
        assert ports.free_port() == fresh


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
