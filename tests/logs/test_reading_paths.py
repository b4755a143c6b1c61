"""Plain files are read by polars' scan, everything else by the Python reader: same lines, numbers and stats."""

from __future__ import annotations

import gzip

import polars as pl
import pytest

from proxygen.logs import open_logs
from proxygen.logs import source as source_module

from .conftest import REAL_10K, main_line


def _scanned(monkeypatch) -> list[str]:
    seen: list[str] = []
    original = source_module._scan_parsed
    monkeypatch.setattr(source_module, "_scan_parsed", lambda *a: seen.append(a[0].path) or original(*a))
    return seen


def _read(paths, monkeypatch=None, python=False, **batches):
    if python:
        monkeypatch.setattr(source_module, "_scannable", lambda item: False)
    source = open_logs([str(p) for p in paths])
    frames = list(source.batches(**batches))
    return source, (pl.concat(frames) if frames else None)


def _derive(lazy):
    """A consumer's derived columns (as the aggregation adds them inside the scan's plan)."""
    return lazy.with_columns(pl.col("client_ip").hash().alias("ip_h"),
                             (pl.col("status") // 100).alias("class"), pl.col("path").str.len_bytes().alias("n"))


def test_plain_files_are_scanned_gzip_and_binary_junk_are_not(tmp_path, monkeypatch):
    text = "".join(main_line(ip=f"192.0.2.{i}") + "\n" for i in range(5))
    (tmp_path / "a.log").write_text(text)
    with gzip.open(tmp_path / "b.log.1.gz", "wt") as handle:
        handle.write(text)
    (tmp_path / "c.log").write_bytes(text.encode() + b"\x01junk\n")
    scanned = _scanned(monkeypatch)
    source, frame = _read([tmp_path / "a.log", tmp_path / "b.log.1.gz", tmp_path / "c.log"])
    assert scanned == [str(tmp_path / "a.log")]
    assert frame.height == 15 and source.stats.malformed == 1


def test_large_inputs_use_the_python_reader(tmp_path, monkeypatch):
    """Above the size bound the scan's mapped file pages would count in RSS: the Python reader takes over."""
    (tmp_path / "a.log").write_text("".join(main_line() + "\n" for _ in range(50)))
    monkeypatch.setattr(source_module, "SCAN_MAX_BYTES", 100)
    scanned = _scanned(monkeypatch)
    source, frame = _read([tmp_path / "a.log"])
    assert scanned == [] and frame.height == 50


@pytest.mark.parametrize("batches", [{}, {"columns": {"client_ip", "time", "path", "status", "user_agent"},
                                           "derive": _derive}], ids=["all-columns", "some-columns-derived"])
def test_both_paths_give_the_same_batches_and_stats(tmp_path, monkeypatch, batches):
    """The real 10k-line log plus every oddity a plain file can hold: blank lines, CRLF, a non-UTF-8 line,
    an over-long line, garbage, no final newline, a line only the general regex parses (an escaped
    quote) and one whose time does not parse; with all columns, and with a few plus derived ones."""
    real = gzip.decompress(open(REAL_10K, "rb").read())
    odd = b"".join([
        main_line(ip="192.0.2.1").encode() + b"\r\n", b"\n", b"garbage line\n",
        main_line(ip="192.0.2.2", ua="caf\xe9").encode("latin-1") + b"\n",
        main_line(ip="192.0.2.4", ua='say \\"hi\\"', request="GET /x?q=1 HTTP/1.1").encode() + b"\n",
        main_line(ip="192.0.2.5", when="31/Foo/2025:12:00:00 +0000").encode() + b"\n",
        b"y" * 70_000 + b"\n", b"\n\n", main_line(ip="192.0.2.3").encode(),
    ])
    (tmp_path / "real.log").write_bytes(real)
    (tmp_path / "odd.log").write_bytes(odd)
    for name in ("real.log", "odd.log"):
        with monkeypatch.context() as patch:
            scanned = _scanned(patch)
            fast_source, fast = _read([tmp_path / name], **batches)
            assert scanned == [str(tmp_path / name)]
        with monkeypatch.context() as patch:
            slow_source, slow = _read([tmp_path / name], patch, python=True, **batches)
        assert fast.equals(slow), name
        if "derive" in batches:
            assert {"ip_h", "class", "n"} <= set(fast.columns) and "referer" not in fast.columns
        for field in ("lines_read", "parsed", "malformed", "non_utf8_lines", "messages", "first_time",
                      "last_time"):
            assert getattr(fast_source.stats, field) == getattr(slow_source.stats, field), (name, field)
        assert [str(s) for s in fast_source.stats.malformed_samples] == [
            str(s) for s in slow_source.stats.malformed_samples]
    assert slow_source.stats.malformed == 3 and slow_source.stats.non_utf8_lines == 1
    assert slow.filter(pl.col("client_ip") == "192.0.2.4")["user_agent"].to_list() == ['say \\"hi\\"']


def test_a_file_polars_refuses_is_read_by_the_python_reader(tmp_path, monkeypatch):
    (tmp_path / "a.log").write_text("".join(main_line(ip=f"192.0.2.{i}") + "\n" for i in range(20)))

    def refuses(item, report, *parsing):
        raise pl.exceptions.ComputeError("refused")
        yield

    monkeypatch.setattr(source_module, "_scan_parsed", refuses)
    source, frame = _read([tmp_path / "a.log"])
    assert frame.height == 20 and source.stats.messages == []


def test_a_scan_failing_midway_keeps_the_lines_read_and_says_where(tmp_path, monkeypatch):
    (tmp_path / "a.log").write_text("".join(main_line(ip=f"192.0.2.{i}") + "\n" for i in range(20)))
    original = source_module._scan_parsed

    def fails_after_one_batch(item, report, *parsing):
        yield next(iter(original(item, report, *parsing)))
        raise OSError("input/output error")

    monkeypatch.setattr(source_module, "SCAN_BATCH_ROWS", 8)
    monkeypatch.setattr(source_module, "_scan_parsed", fails_after_one_batch)
    source, frame = _read([tmp_path / "a.log"])
    assert frame["line_number"].to_list() == list(range(1, 9))
    assert source.stats.messages == [f"{tmp_path / 'a.log'}: reading stopped after line 8: input/output error; "
                                     "kept the lines before"]


def test_blocks_split_by_polars_or_in_python_give_the_same(tmp_path, monkeypatch):
    """The Python reader's blocks go through the scan's plan: polars splits most of them into lines; those
    it cannot (binary junk with 0x01 bytes) are split in Python first. Both ways agree on any block."""
    real = "".join(main_line(ip=f"198.51.100.{i % 250}", request=f"GET /product/{i} HTTP/1.1") + "\n"
                   for i in range(2000)).encode()
    odd = b"".join([main_line(ip="192.0.2.1").encode() + b"\r\n", b"\n", b"garbage line\n",
                    main_line(ip="192.0.2.2", ua="caf\xe9").encode("latin-1") + b"\n", b"y" * 70_000 + b"\n",
                    main_line(ip="192.0.2.5", when="31/Foo/2025:12:00:00 +0000").encode() + b"\n"])
    (tmp_path / "a.log.gz").write_bytes(gzip.compress(real + odd))
    results = []
    for plannable in (True, False):
        with monkeypatch.context() as patch:
            if not plannable:
                patch.setattr(source_module, "_plannable", lambda chunk: False)
            results.append(_read([tmp_path / "a.log.gz"], columns={"client_ip", "time", "path", "status", "user_agent"},
                                 derive=_derive))
    (planned_source, planned), (stepwise_source, stepwise) = results
    assert planned.equals(stepwise) and planned.height == 2_002
    assert planned_source.stats == stepwise_source.stats
    assert planned_source.stats.malformed == 3 and planned_source.stats.non_utf8_lines == 1


def test_the_scan_check_runs_ahead_and_again_for_a_second_reading(tmp_path, monkeypatch):
    """open_logs starts the 0x01 check of a file polars may scan; the first reading uses its answer, a
    second reading of the same source checks the file as it is then."""
    path = tmp_path / "a.log"
    path.write_text("".join(main_line(ip=f"192.0.2.{i}") + "\n" for i in range(5)))
    scanned = _scanned(monkeypatch)
    source = open_logs([str(path)])
    assert list(source._scan_checks) == [str(path)]
    assert sum(b.height for b in source.batches()) == 5 and scanned == [str(path)]
    with open(path, "ab") as handle:
        handle.write(b"\x01junk\n")
    assert sum(b.height for b in source.batches()) == 5 and scanned == [str(path)]  # not scanned again
    assert source.stats.malformed == 1
