"""One writer at a time in a blocklists directory: concurrent edits are serialised, never lost."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from proxygen.blocklist import lock, ops
from proxygen.blocklist.lock import writer_lock
from proxygen.blocklist.merge import Proposal, merge_proposals
from proxygen.blocklist.store import load_blocklists
from proxygen.errors import ProxygenError

from tests.blocklist.test_edit_ops import MANUAL, NOW, d  # noqa: F401  (d: a blocklists dir holding MANUAL)

PROXYGEN = [sys.executable, "-m", "proxygen"]


def test_concurrent_adds_from_the_cli_all_land(tmp_path):
    """Eight `blocklist add` at once: each reads, checks and rewrites manual.yml, one after the other.
    (Without the lock, every process wrote its own version and one entry of the eight survived.)"""
    procs = [subprocess.Popen(PROXYGEN + ["blocklist", "add", f"203.0.113.{i}", "-a", "block", "-r", f"scraper {i}",
                                          "--expires", "never"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(1, 9)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert [rc for rc, _ in results] == [0] * 8, results
    keys = sorted(e.key for e in load_blocklists(tmp_path / "blocklists").entries)
    assert keys == sorted(f"203.0.113.{i}" for i in range(1, 9))
    assert sorted(p.name for p in (tmp_path / "blocklists").iterdir()) == ["manual.yml"]  # no lock file left


def test_a_writer_waits_for_the_one_holding_the_lock(d):
    with writer_lock(d):
        proc = subprocess.Popen(PROXYGEN + ["blocklist", "add", "192.0.2.9", "-a", "block", "-r", "r"],
                                cwd=d.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        assert proc.poll() is None  # still waiting
        assert (d / "manual.yml").read_text() == MANUAL
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert "192.0.2.9" in [e.key for e in load_blocklists(d).entries]


WRITERS = {
    "add": lambda d: ops.add(d, key="192.0.2.9", action="block", reason="r", now=NOW),
    "remove": lambda d: ops.remove(d, key="203.0.113.7"),
    "prune": lambda d: ops.prune(d, now=NOW),
    "merge": lambda d: merge_proposals(d, [Proposal(key_type="ip", key="192.0.2.10", action="block", reason="r")],
                                       now=NOW),
}


@pytest.mark.parametrize("writer", WRITERS)
def test_every_writer_takes_the_lock_and_gives_up_cleanly(d, monkeypatch, writer):
    """Held elsewhere for longer than the wait: a clear error, and nothing written."""
    monkeypatch.setattr(lock, "WAIT_SECONDS", 0.3)
    with writer_lock(d):
        with pytest.raises(ProxygenError, match="another proxygen process has been changing these blocklists"):
            WRITERS[writer](d)
    assert sorted(p.name for p in d.iterdir()) == ["manual.yml"] and (d / "manual.yml").read_text() == MANUAL
    WRITERS[writer](d)  # free again: the same change goes through
    assert (d / "manual.yml").read_text() != MANUAL or (d / "analyzer.yml").exists()


def test_a_dry_run_prune_reads_without_the_lock(d):
    with writer_lock(d):
        assert [e.key for e in ops.prune(d, now=NOW, dry_run=True)] == ["203.0.113.7"]
