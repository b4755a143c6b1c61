"""The two ways `aggregate` builds its tables (all lines grouped at once, or batch by batch with merges)
give the same numbers; the one documented difference is `after_limited` on lines out of time order."""

from __future__ import annotations

import importlib

import pytest

from proxygen.logs import aggregate, open_logs, reader

from .conftest import at_minute, main_line, read_batch_by_batch, write_log

aggregate_module = importlib.import_module("proxygen.logs.aggregate")  # the package re-exports the function
source_module = importlib.import_module("proxygen.logs.source")


@pytest.mark.parametrize("reading", ["polars-scan", "python-reader"])
def test_merging_batches_gives_the_same_tables(tmp_path, monkeypatch, asn_db, reading):
    """All lines grouped at once (read by polars' scan, the derived columns computed in its plan),
    against small batches, read either way, and forced compaction (memory-bounded merging): no number
    may change, in any table."""
    lines = []
    for i in range(3000):
        ip = (f"10.0.{i % 7}.{i % 13}", f"66.249.{64 + i % 9}.{i % 31}", f"51.68.{i % 5}.{i % 17}")[i % 3]
        status = 429 if i % 97 == 0 else (503 if i % 211 == 0 else 200)
        lines.append(main_line(ip=ip, when=at_minute((i // 60) % 60, i % 60), status=status,
                               request=f"GET /product/{i % 400}?p={i % 3} HTTP/1.1", ua=f"UA{i % 5}"))
    path = write_log(tmp_path, lines)
    whole = aggregate(open_logs([path]), asn_db=asn_db)
    monkeypatch.setattr(reader, "CHUNK_BYTES", 8192)
    monkeypatch.setattr(source_module, "SCAN_BATCH_ROWS", 37)
    monkeypatch.setattr(aggregate_module, "_COMPACT_ROWS", 50)
    if reading == "python-reader":
        monkeypatch.setattr(source_module, "_scannable", lambda item: False)
    read_batch_by_batch(monkeypatch, group_rows=50)
    pieces = aggregate(open_logs([path]), asn_db=asn_db)
    assert whole.by_ip["after_limited"].sum() > 0 and whole.by_asn.height > 1
    for name in ("by_ip", "by_prefix", "by_asn", "by_ua", "per_minute", "ip_minute", "ua_minute"):
        a, b = getattr(whole, name), getattr(pieces, name)
        keys = [c for c in ("key", "minute") if c in a.columns]
        assert a.sort(keys).equals(b.sort(keys)), name


@pytest.mark.parametrize("path", ["whole", "batched"])
def test_after_limited_is_exact_in_any_order_below_the_large_size(tmp_path, monkeypatch, path):
    """Lines out of time order (files given newest first): grouped at once, every request later than the
    first 429 counts; batch by batch, requests read before a later batch's earlier 429 are missed."""
    later = [main_line(when=at_minute(10, i)) for i in range(5)]
    earlier = [main_line(when=at_minute(1, 0), status=429), main_line(when=at_minute(2, 0))]
    paths = [write_log(tmp_path, later, "new.log"), write_log(tmp_path, earlier, "old.log")]
    if path == "batched":  # one group per batch: each file's lines are grouped on their own
        read_batch_by_batch(monkeypatch, group_rows=1)
    row = aggregate(open_logs(paths)).by_ip.row(0, named=True)
    assert row["after_limited"] == (6 if path == "whole" else 1)


def test_plain_files_are_grouped_at_once_gzip_and_stdin_batch_by_batch(tmp_path, monkeypatch):
    """Only inputs whose size is known exactly may keep their lines: a gzip file's expansion is a guess,
    stdin's unknown."""
    import gzip
    import io

    taken = []
    for name in ("_read_whole", "_read_batched"):
        original = getattr(aggregate_module, name)
        monkeypatch.setattr(aggregate_module, name,
                            lambda *a, _n=name, _f=original: taken.append(_n) or _f(*a))
    lines = [main_line(when=at_minute(0, i)) for i in range(3)]
    plain = write_log(tmp_path, lines)
    packed = tmp_path / "b.log.gz"
    packed.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    results = [aggregate(open_logs([plain])), aggregate(open_logs([str(packed)])),
               aggregate(open_logs(["-"], stdin=io.BytesIO(("\n".join(lines) + "\n").encode())))]
    assert taken == ["_read_whole", "_read_batched", "_read_batched"]
    assert [r.by_ip["requests"].to_list() for r in results] == [[3]] * 3
