"""Inputs (files, gzip, globs, stdin, --since/--until) and every bad-input case: counted, reported, never fatal."""

from __future__ import annotations

import gzip
import io
from datetime import datetime, timezone

import polars as pl
import pytest

from proxygen.errors import UsageError
from proxygen.logs import open_logs
from proxygen.logs import reader
from proxygen.logs import source as source_module

from .conftest import main_line


@pytest.fixture(autouse=True, params=["polars-scan", "python-reader"])
def reading_path(request, monkeypatch):
    """Every case runs through both ways of reading a plain file: polars' scan and the Python reader."""
    if request.param == "python-reader":
        monkeypatch.setattr(source_module, "_scannable", lambda item: False)
    else:
        scanned = []
        original = source_module._scan_parsed
        monkeypatch.setattr(source_module, "_scan_parsed", lambda *a: scanned.append(a[0].path) or original(*a))
        yield scanned
        return
    yield None


def _lines(n: int, start_minute: int = 0, ip="192.0.2.1") -> list[str]:
    return [main_line(ip=ip, when=f"31/Jan/2025:12:{(start_minute + i // 60) % 60:02d}:{i % 60:02d} +0000",
                      request=f"GET /product/{i} HTTP/2.0") for i in range(n)]


def _read(paths, **kw):
    source = open_logs([str(p) for p in paths], **kw)
    batches = list(source.batches())
    return source, pl.concat(batches) if batches else pl.DataFrame()


def test_plain_and_gzip_files_read_the_same(tmp_path):
    text = "\n".join(_lines(100)) + "\n"
    (tmp_path / "a.log").write_text(text)
    with gzip.open(tmp_path / "a.log.1.gz", "wt") as f:
        f.write(text)
    src_plain, plain = _read([tmp_path / "a.log"])
    src_gz, gz = _read([tmp_path / "a.log.1.gz"])
    assert plain.drop("line_number").equals(gz.drop("line_number"))
    assert src_gz.stats.parsed == 100 and src_gz.stats.messages == []


def test_gzip_detected_by_content_not_name(tmp_path):
    with gzip.open(tmp_path / "access.log.2", "wt") as f:
        f.write("\n".join(_lines(10)) + "\n")
    source, frame = _read([tmp_path / "access.log.2"])
    assert frame.height == 10 and source.format.name == "main"


def test_concatenated_gzip_members(tmp_path):
    path = tmp_path / "cat.gz"
    path.write_bytes(gzip.compress(("\n".join(_lines(5)) + "\n").encode())
                     + gzip.compress(("\n".join(_lines(7, 1)) + "\n").encode()))
    source, frame = _read([path])
    assert frame.height == 12 and source.stats.malformed == 0


def test_glob_reads_rotated_files_oldest_first(tmp_path):
    (tmp_path / "access.log").write_text("\n".join(_lines(3, start_minute=30)) + "\n")
    (tmp_path / "access.log.1").write_text("\n".join(_lines(3, start_minute=20)) + "\n")
    with gzip.open(tmp_path / "access.log.2.gz", "wt") as f:
        f.write("\n".join(_lines(3, start_minute=10)) + "\n")
    source, frame = _read([tmp_path / "access.log*"])
    assert [p.rsplit("/", 1)[1] for p in source.stats.files] == ["access.log.2.gz", "access.log.1", "access.log"]
    assert frame["time"].is_sorted()


def test_glob_matching_nothing_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no file matches"):
        open_logs([str(tmp_path / "nothing*.log")])


def test_missing_file_is_a_usage_error_before_reading(tmp_path):
    (tmp_path / "ok.log").write_text(main_line() + "\n")
    with pytest.raises(UsageError, match="missing.log: no such file"):
        open_logs([str(tmp_path / "ok.log"), str(tmp_path / "missing.log")])


def test_stdin_with_detection_reads_every_line():
    data = ("\n".join(_lines(500)) + "\n").encode()
    source = open_logs(["-"], stdin=io.BytesIO(data))
    assert source.format.name == "main"
    frame = pl.concat(list(source.batches()))
    assert frame.height == 500 and source.stats.files == ["<stdin>"]
    assert frame["line_number"].to_list() == list(range(1, 501))
    assert source.total_bytes is None


def test_gzip_is_handed_on_in_blocks_as_large_as_plain_reads(tmp_path, monkeypatch):
    """Every block costs a parsing plan: decompressed data comes in CHUNK_BYTES blocks, not one block per
    32 KiB of compressed input (a 1M-line gzip log was 819 blocks of ~280 KiB, and read 3.5x slower)."""
    from proxygen.logs import reader
    from proxygen.logs.reader import expand_inputs, read_chunks

    import random

    monkeypatch.setattr(reader, "CHUNK_BYTES", 1024 * 1024)
    rng = random.Random(7)  # product codes and hashes compress about as badly as real traffic
    text = "".join(main_line(request=f"GET /product/{rng.getrandbits(64):x}?h={rng.getrandbits(96):x} HTTP/1.1")
                   + "\n" for _ in range(20000)).encode()  # ~4 MiB, ~8x smaller compressed, as real logs
    path = tmp_path / "access.log.1.gz"
    path.write_bytes(gzip.compress(text))
    assert len(path.read_bytes()) > 32 * 1024 * 10  # fed 32 KiB at a time: over ten pieces of input
    chunks = list(read_chunks(expand_inputs([str(path)]), []))
    assert b"\n".join(c.data for c in chunks) + b"\n" == text
    assert len(chunks) <= len(text) // (1024 * 1024) + 1
    assert all(len(c.data) >= 1024 * 1024 - 300 for c in chunks[:-1])


def test_gzip_on_stdin():
    data = gzip.compress(("\n".join(_lines(20)) + "\n").encode())
    source = open_logs(["-"], stdin=io.BytesIO(data))
    assert sum(b.height for b in source.batches()) == 20


def test_since_until_filter_on_log_time(tmp_path):
    (tmp_path / "a.log").write_text("\n".join(_lines(180)) + "\n")  # 12:00:00 .. 12:02:59
    source, frame = _read([tmp_path / "a.log"], since="2025-01-31T12:01:00Z",
                          until=datetime(2025, 1, 31, 13, 2, tzinfo=timezone(__import__("datetime").timedelta(hours=1))))
    assert frame.height == 60
    assert frame["time"].min() == datetime(2025, 1, 31, 12, 1, tzinfo=timezone.utc)
    assert source.stats.filtered_out == 120 and source.stats.parsed == 60


def test_a_window_that_leaves_out_every_line_says_where_the_log_is(tmp_path):
    (tmp_path / "a.log").write_text("\n".join(_lines(180)) + "\n")  # 12:00:00 .. 12:02:59
    source, frame = _read([tmp_path / "a.log"], since="2025-02-01")
    assert frame.height == 0 and source.stats.filtered_out == 180 and source.stats.parsed == 0
    assert source.stats.messages == [
        "all 180 parsed lines are outside --since 2025-02-01T00:00:00+00:00: the log runs from "
        "2025-01-31T12:00:00+00:00 to 2025-01-31T12:02:59+00:00"]
    source, frame = _read([tmp_path / "a.log"], until="2025-01-31T12:02:00Z")
    assert frame.height == 120 and source.stats.messages == []  # some lines kept: nothing to say


def test_a_file_in_another_format_is_named(tmp_path):
    """The first file decides the format; a later one whose lines mostly fail (a rotated file from before a
    log_format change) gets its own message, a file with a few damaged lines does not."""
    (tmp_path / "access.log.1").write_text("\n".join(_lines(30)) + "\n")
    combined = [line.rsplit(' "', 2)[0] for line in _lines(25)]  # the same lines, cut to nginx's combined
    (tmp_path / "access.log").write_text("\n".join(combined + ["junk"] * 5 + _lines(3)) + "\n")
    source, frame = _read([tmp_path / "access.log.1", tmp_path / "access.log"], fmt="main")
    assert frame.height == 33 and source.stats.malformed == 30
    assert source.stats.messages == [f"{tmp_path / 'access.log'}: 30 of 33 lines do not parse with format main: "
                                     f"is this file in another format? (`proxygen logs check "
                                     f"{tmp_path / 'access.log'}` detects its format)"]
    (tmp_path / "access.log").write_text("\n".join(_lines(40) + ["junk"] * 5) + "\n")
    source, _ = _read([tmp_path / "access.log"], fmt="main")
    assert source.stats.malformed == 5 and source.stats.messages == []
    piped = io.BytesIO(("\n".join(_lines(200) + ["junk"] * 300) + "\n").encode())  # the format changes midway
    source = open_logs(["-"], "main", stdin=piped)
    list(source.batches())
    assert source.stats.messages == ["<stdin>: 300 of 500 lines do not parse with format main: is this file in "
                                     "another format? (`proxygen logs check -` detects its format)"]


def test_since_and_until_as_durations_before_now(tmp_path):
    """`--since 30m`: the last half hour, the usual question during an incident."""
    from datetime import timedelta

    now = datetime.now(timezone.utc).replace(microsecond=0)
    stamps = [now - timedelta(minutes=m) for m in (90, 45, 20, 5)]
    (tmp_path / "a.log").write_text("\n".join(
        main_line(when=t.strftime("%d/%b/%Y:%H:%M:%S +0000"), request=f"GET /p/{i} HTTP/1.1")
        for i, t in enumerate(stamps)) + "\n")
    _, frame = _read([tmp_path / "a.log"], since="30m")
    assert frame["path"].to_list() == ["/p/2", "/p/3"]
    _, frame = _read([tmp_path / "a.log"], since="1h", until="10 min")
    assert frame["path"].to_list() == ["/p/1", "/p/2"]
    _, frame = _read([tmp_path / "a.log"], since="2h")
    assert frame.height == 4
    with pytest.raises(UsageError, match="or a time before now: 30m, 2h, 1d"):
        open_logs([str(tmp_path / "a.log")], since="30 minutes ago")


def test_bad_since_is_a_usage_error(tmp_path):
    (tmp_path / "a.log").write_text(main_line() + "\n")
    with pytest.raises(UsageError, match="--since 'yesterday'"):
        open_logs([str(tmp_path / "a.log")], since="yesterday")


def test_progress_reports_bytes_of_total(tmp_path):
    (tmp_path / "a.log").write_text("\n".join(_lines(100)) + "\n")
    size = (tmp_path / "a.log").stat().st_size
    calls = []
    source = open_logs([str(tmp_path / "a.log")], progress=lambda done, total: calls.append((done, total)))
    list(source.batches())
    assert calls and calls[-1] == (size, size)


# ---------------------------------------------------------------- bad input: counted, reported, never fatal


def test_truncated_gzip_keeps_complete_lines_and_says_so(tmp_path):
    lines = _lines(3000)
    blob = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "cut.log.gz"
    path.write_bytes(blob[: len(blob) // 2])
    source, frame = _read([path])
    assert 0 < frame.height < 3000
    assert any("truncated" in m and str(path) in m for m in source.stats.messages)
    # the kept lines are exactly the first lines of the file
    assert frame["path"].to_list() == [f"/product/{i}" for i in range(frame.height)]
    assert source.stats.malformed <= 1  # at most the line cut in the middle


def test_corrupt_gzip_keeps_what_came_before(tmp_path):
    blob = bytearray(gzip.compress(("\n".join(_lines(30000)) + "\n").encode()))
    assert len(blob) > 100_000
    blob[len(blob) // 2: len(blob) // 2 + 64] = b"\x00" * 64
    path = tmp_path / "bad.gz"
    path.write_bytes(bytes(blob))
    source, frame = _read([path])
    assert any(str(path) in m and ("corrupt" in m or "truncated" in m) for m in source.stats.messages)
    assert 0 < frame.height < 30000


def test_non_utf8_and_binary_lines_are_counted_not_fatal(tmp_path):
    good = _lines(3)
    path = tmp_path / "bin.log"
    path.write_bytes(good[0].encode() + b"\n"
                     + main_line(ua="caf\xe9").encode("latin-1") + b"\n"      # Latin-1 byte in the UA
                     + b"\x00\x01\x02\xff\xfe binary junk\n"                  # binary line
                     + good[1].encode() + b"\n")
    source, frame = _read([path])
    stats = source.stats
    assert stats.lines_read == 4
    assert stats.parsed == 3 and stats.malformed == 1
    assert stats.non_utf8_lines == 2
    assert any("not UTF-8" in m and f"{path}:2" in m for m in stats.messages)
    assert frame.filter(pl.col("line_number") == 2)["user_agent"][0] == "caf\ufffd"
    assert [s.line for s in stats.malformed_samples] == [3]


def test_one_megabyte_line_is_skipped_with_a_message(tmp_path):
    path = tmp_path / "long.log"
    huge = main_line(request="GET /" + "a" * (1024 * 1024) + " HTTP/1.1")
    path.write_text("\n".join([_lines(1)[0], huge, _lines(2)[1]]) + "\n")
    source, frame = _read([path])
    assert frame["line_number"].to_list() == [1, 3]
    assert source.stats.malformed == 1 and source.stats.lines_read == 3
    assert any(f"{path}:2" in m and "skipped" in m for m in source.stats.messages)


def test_line_longer_than_a_read_chunk(tmp_path, monkeypatch):
    """A line spanning several read chunks is skipped; numbering and following lines stay right."""
    monkeypatch.setattr(reader, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(source_module, "MAX_LINE_BYTES", 1000)
    path = tmp_path / "span.log"
    lines = _lines(30)
    lines[10] = "x" * 20000
    path.write_text("\n".join(lines) + "\n")
    source = open_logs([str(path)], fmt="main")
    frame = pl.concat(list(source.batches()))
    assert frame.height == 29 and 11 not in frame["line_number"].to_list()
    assert frame["line_number"].to_list() == [n for n in range(1, 31) if n != 11]
    assert source.stats.malformed == 1 and any(f"{path}:11" in m for m in source.stats.messages)


def test_empty_file_gives_a_message_and_others_are_read(tmp_path):
    (tmp_path / "empty.log").write_bytes(b"")
    (tmp_path / "full.log").write_text("\n".join(_lines(4)) + "\n")
    source, frame = _read([tmp_path / "empty.log", tmp_path / "full.log"])
    assert frame.height == 4
    assert any("empty.log" in m and "empty" in m for m in source.stats.messages)


def test_no_trailing_newline_and_crlf(tmp_path):
    path = tmp_path / "crlf.log"
    path.write_bytes(("\r\n".join(_lines(3))).encode())
    source, frame = _read([path])
    assert frame.height == 3 and source.stats.malformed == 0
    assert frame["upstream_response_time"].to_list() == ["0.004"] * 3


def test_malformed_samples_name_file_and_line(tmp_path):
    path = tmp_path / "mixed.log"
    lines = _lines(20)
    lines[4] = "not a log line"
    lines[9] = main_line()[:40]
    path.write_text("\n".join(lines) + "\n")
    source, frame = _read([path], fmt="main")
    assert source.stats.malformed == 2 and frame.height == 18
    assert [(s.line, s.text) for s in source.stats.malformed_samples] == [(5, "not a log line"), (10, lines[9])]
    assert str(source.stats.malformed_samples[0]) == f"{path}:5: not a log line"


def test_batches_are_consistent_across_chunk_sizes(tmp_path, monkeypatch):
    path = tmp_path / "a.log"
    path.write_text("\n".join(_lines(500)) + "\n")
    one = pl.concat(list(open_logs([str(path)], fmt="main").batches()))
    monkeypatch.setattr(reader, "CHUNK_BYTES", 3000)
    monkeypatch.setattr(source_module, "SCAN_BATCH_ROWS", 12)
    source = open_logs([str(path)], fmt="main")
    batches = list(source.batches())
    assert len(batches) > 10
    assert pl.concat(batches).equals(one)



def test_input_of_only_blank_lines_is_read_without_error():
    source = open_logs(["-"], fmt="main", stdin=io.BytesIO(b"\n"))
    frames = list(source.batches())
    assert sum(f.height for f in frames) == 0
    assert source.stats.parsed == 0 and source.stats.malformed == 0

