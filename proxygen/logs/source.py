"""`open_logs` and `LogSource`: inputs + a format, read as a stream of typed polars batches."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterator

from proxygen.errors import ProxygenError, UsageError
from proxygen.logs.formats import LogFormat, candidate_formats, resolve_format
from proxygen.logs.reader import (MAX_LINE_BYTES, InputFile, expand_inputs, long_line_message, peek_lines,
                                  read_chunks)

if TYPE_CHECKING:
    import polars as pl

DETECT_SAMPLE_LINES = 200
MAX_SAMPLES = 5
#: An input with at least this many lines, most of them malformed, gets its own message.
MOSTLY_MALFORMED_MIN_LINES = 20


@dataclass
class MalformedSample:
    """One line that did not parse, for the report."""

    file: str
    line: int
    text: str  # truncated to 300 characters

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


@dataclass
class LogStats:
    """What reading saw; filled while `batches()` is consumed.

    `lines_read` counts non-blank lines (plus skipped over-long ones); `parsed + malformed +
    filtered_out == lines_read`, where `filtered_out` are parsed lines outside --since/--until.
    """

    lines_read: int = 0
    parsed: int = 0
    malformed: int = 0
    filtered_out: int = 0
    non_utf8_lines: int = 0
    malformed_samples: list[MalformedSample] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    first_time: datetime | None = None
    last_time: datetime | None = None
    files: list[str] = field(default_factory=list)
    #: first and last time of the lines --since/--until left out (to say where the log is when it leaves out all)
    outside_first: datetime | None = None
    outside_last: datetime | None = None


#: `30m`, `2h`, `1d`...: that long before now (the usual question during an incident).
_AGO = re.compile(r"^\s*(\d+)\s*(s|m|min|h|d|w)\s*$")
_AGO_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _as_utc(value, name: str, now: datetime | None = None) -> datetime | None:
    """A --since/--until value as a UTC instant: a datetime, an ISO 8601 string (UTC without a zone),
    or a duration before `now` (`30m`, `2h`, `1d`; now by default)."""
    if value is None:
        return None
    if isinstance(value, str):
        ago = _AGO.match(value)
        if ago:
            now = now or datetime.now(timezone.utc)
            return now - timedelta(seconds=int(ago.group(1)) * _AGO_SECONDS[ago.group(2)])
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"--{name} {value!r}: not a date/time (use ISO 8601, e.g. 2025-01-31T12:00:00+00:00, "
                             "or a time before now: 30m, 2h, 1d)")
    if not isinstance(value, datetime):
        raise UsageError(f"--{name}: expected a date/time, got {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


class LogSource:
    """Log inputs with a resolved format. Iterate `batches()` once; `stats` fills as it goes.

    Files can be re-read by calling `batches()` again (stats start over); stdin cannot.
    """

    def __init__(self, inputs: list[InputFile], fmt: LogFormat, *, detected: bool,
                 since: datetime | None, until: datetime | None,
                 progress: Callable[[int, int | None], None] | None,
                 stdin: BinaryIO | None, stdin_head: bytes, detection_scores: dict[str, float] | None = None):
        self.inputs = inputs
        self.format = fmt
        self.detected = detected
        self.detection_scores = detection_scores or {}
        self.since = since
        self.until = until
        self.progress = progress
        self.stats = LogStats(files=[i.path if i.path != "-" else "<stdin>" for i in inputs])
        self._per_file: dict[str, list[int]] = {}
        self._stdin = stdin
        self._stdin_head = stdin_head
        self._stdin_used = False
        self._scan_checks = _start_scan_checks(inputs)

    @property
    def large(self) -> bool:
        """Whether the inputs (uncompressed; stdin counts as large) reach `EAGER_MEMORY_RETURN_BYTES`:
        then readers and aggregation favour bounded memory over speed."""
        return _is_large(self.inputs)

    @property
    def fits_in_memory(self) -> bool:
        """Whether the inputs are plain files (sizes known exactly, no gzip whose expansion is only a
        guess, no stdin) under `EAGER_MEMORY_RETURN_BYTES` in all: then the aggregation keeps a few
        columns of every line and groups them once (see `proxygen.logs.aggregate`)."""
        return not any(i.size is None or _is_gzip(i) for i in self.inputs) and not self.large

    @property
    def total_bytes(self) -> int | None:
        """Bytes on disk of all inputs (compressed size for .gz); None when stdin is one of them."""
        if any(i.size is None for i in self.inputs):
            return None
        return sum(i.size or 0 for i in self.inputs)

    def batches(self, columns: set[str] | None = None, transform: Callable | None = None,
                derive: Callable | None = None) -> Iterator:
        """Yield typed DataFrames (see `proxygen.logs.parse` for the columns), in input order.

        `columns` restricts the output to those columns (plus `time` and `line_number`); the
        parser then skips capturing the other variables, which is markedly faster.

        `derive`, a function of a LazyFrame of those columns that returns it with columns added
        (`with_columns`), runs inside polars' plan where a file is scanned (one pipeline from the
        bytes to the derived columns, on both cores) and on each parsed frame otherwise.

        Reading and parsing run one batch ahead in a background thread (polars releases the GIL),
        so parsing the next batch overlaps whatever the caller does with this one. `transform`, a
        function of one batch, runs in that thread too and what it returns is yielded instead: the
        per-batch work that needs no state of the caller's then overlaps the rest.
        """
        from proxygen.logs.ahead import run_ahead

        if any(i.path == "-" for i in self.inputs):
            if self._stdin_used:
                raise ProxygenError("stdin was already read; it cannot be read twice")
            self._stdin_used = True
        self.stats = LogStats(files=self.stats.files)
        self._per_file = {}

        def produce():
            for frame in self._parsed_batches(columns, derive):
                yield transform(frame) if transform is not None else frame

        yield from run_ahead(produce, "proxygen-log-reader")

    def _parsed_batches(self, columns: set[str] | None, derive: Callable | None) -> Iterator["pl.DataFrame"]:
        import polars as pl

        stats = self.stats

        def derived(frame):
            return derive(frame.lazy()).collect() if derive is not None else frame

        for unit in self._line_batches(stats.messages, columns, derive):
            frame = self._finish_scanned(unit, columns, derived)
            if self.since is not None or self.until is not None:
                keep = pl.lit(True)
                if self.since is not None:
                    keep = keep & (pl.col("time") >= self.since)
                if self.until is not None:
                    keep = keep & (pl.col("time") < self.until)
                left_out = frame.filter(~keep)
                if left_out.height:
                    stats.filtered_out += left_out.height
                    lo, hi = left_out["time"].min(), left_out["time"].max()
                    stats.outside_first = lo if stats.outside_first is None else min(stats.outside_first, lo)
                    stats.outside_last = hi if stats.outside_last is None else max(stats.outside_last, hi)
                    frame = frame.filter(keep)
            if frame.height == 0:
                continue
            stats.parsed += frame.height
            lo, hi = frame["time"].min(), frame["time"].max()
            stats.first_time = lo if stats.first_time is None else min(stats.first_time, lo)
            stats.last_time = hi if stats.last_time is None else max(stats.last_time, hi)
            yield frame.rename({"line_index": "line_number"})
        stats.messages.extend(self._mostly_malformed())
        if stats.filtered_out and not stats.parsed:
            window = " and ".join(part for part in (
                f"--since {self.since.isoformat(timespec='seconds')}" if self.since else "",
                f"--until {self.until.isoformat(timespec='seconds')}" if self.until else "") if part)
            stats.messages.append(
                f"all {stats.filtered_out:,} parsed lines are outside {window}: the log runs from "
                f"{stats.outside_first.isoformat()} to {stats.outside_last.isoformat()}")

    def _finish_scanned(self, unit: "ScanBatch", columns: set[str] | None, derived: Callable) -> "pl.DataFrame":
        """The bookkeeping of a batch parsed by `_parse_plan`: blank lines go, over-long ones (also those
        the Python reader left out) are counted and skipped, and lines the fast regex did not take go
        through `parse_lines`."""
        import polars as pl

        from proxygen.logs.parse import parse_lines

        self._skip_long_lines(unit.name, unit.long_lines)
        frame = unit.frame
        length = pl.col("_len")
        if (frame["_len"].max() or 0) > MAX_LINE_BYTES:
            too_long = frame.filter(length > MAX_LINE_BYTES)
            self._skip_long_lines(unit.name, list(zip(too_long["line_index"].to_list(),
                                                      too_long["_len"].to_list())))
        usable = length.is_between(1, MAX_LINE_BYTES).fill_null(False)
        if not frame.select(usable.all()).item():
            frame = frame.filter(usable)
        self._count(unit.name, read=frame.height)
        bad = int(frame["_bad"].sum() or 0)
        if bad:
            self._note_non_utf8(unit.name, bad, int(frame.filter(pl.col("_bad"))["line_index"][0]))
        raw = frame.filter(pl.col("_raw").is_not_null()) if frame["_raw"].null_count() < frame.height else None
        if raw is not None:
            frame = frame.filter(pl.col("_raw").is_null())
        frame = frame.drop("_len", "_bad", "_raw")
        if raw is None:
            return frame
        slow, malformed = parse_lines(raw["_raw"], self.format, columns)
        if malformed.len():
            room = max(0, MAX_SAMPLES - len(self.stats.malformed_samples))
            self._note_malformed(unit.name, malformed.len(), [
                (int(raw["line_index"][i]), raw["_raw"][i]) for i in malformed.head(room).to_list()])
        slow = derived(slow.with_columns(raw["line_index"].gather(slow["line_index"]).alias("line_index")))
        return pl.concat([frame, slow.select(frame.columns)], how="vertical_relaxed").sort("line_index")

    def _count(self, name: str, read: int = 0, malformed: int = 0) -> None:
        """Lines read and malformed, in all and per input (for `_mostly_malformed`)."""
        self.stats.lines_read += read
        self.stats.malformed += malformed
        counts = self._per_file.setdefault(name, [0, 0])
        counts[0] += read
        counts[1] += malformed

    def _mostly_malformed(self) -> list[str]:
        """A message per input whose lines mostly do not parse: another log_format (a rotated file from
        before a format change, a different service's log) rather than a few damaged lines."""
        return [f"{name}: {bad:,} of {read:,} lines do not parse with format {self.format.name}: is this file in "
                f"another format? (`proxygen logs check {'-' if name == '<stdin>' else name}` detects its format)"
                for name, (read, bad) in self._per_file.items() if read >= MOSTLY_MALFORMED_MIN_LINES
                and bad * 2 > read]

    def _skip_long_lines(self, name: str, long_lines: list[tuple[int, int]]) -> None:
        stats = self.stats
        for line_no, length in long_lines:
            self._count(name, read=1, malformed=1)
            stats.messages.append(long_line_message(name, line_no, length))
            if len(stats.malformed_samples) < MAX_SAMPLES:
                stats.malformed_samples.append(MalformedSample(name, line_no, f"<{length:,}-byte line skipped>"))

    def _note_non_utf8(self, name: str, count: int, first: int) -> None:
        self.stats.non_utf8_lines += count
        self.stats.messages.append(f"{name}:{first}: {count:,} line(s) from here on contain bytes that are not "
                                   "UTF-8 (binary data?); replaced by U+FFFD and parsed if possible")

    def _note_malformed(self, name: str, count: int, samples: list[tuple[int, str]]) -> None:
        """`count` malformed lines; `samples` (line number, text) of the first, up to the room left."""
        self._count(name, malformed=count)
        for line_no, text in samples[:max(0, MAX_SAMPLES - len(self.stats.malformed_samples))]:
            self.stats.malformed_samples.append(MalformedSample(name, line_no, text[:300]))

    def _line_batches(self, messages: list[str], columns: set[str] | None,
                      derive: Callable | None) -> Iterator["ScanBatch"]:
        """Every input as batches, in order: plain files, when all inputs together stay under
        `SCAN_MAX_BYTES`, are scanned and parsed by polars (`_scan_parsed`); anything else is read in
        blocks of whole lines by `read_chunks`, each parsed by the same plan (`_parse_plan`): from its
        bytes, or, for blocks polars cannot split (`_plannable`), from lines split in Python."""
        import polars as pl

        from proxygen.logs.ahead import run_ahead

        total = self.total_bytes
        done = 0
        fast = _may_scan(self.inputs)

        def report(n: int) -> None:
            if self.progress is not None:
                self.progress(done + n, total)

        for item in self.inputs:
            scanned = False
            check = self._scan_checks.pop(item.path, None)  # started early; a second reading checks again
            if fast and (check.result() if check is not None else _scannable(item)):
                try:
                    for batch in _scan_parsed(item, report, self.format, columns, derive):
                        scanned = True
                        yield batch
                    scanned = True
                except (pl.exceptions.PolarsError, OSError) as err:
                    if scanned:  # lines were handed out already: keep them, say where reading stopped
                        last = int(batch.frame["line_index"].max())
                        messages.append(f"{item.path}: reading stopped after line {last:,}: {err}; "
                                        "kept the lines before")
                    # else: polars refused the file at once; the Python reader below reads it
            if not scanned:  # decompressing the next block (zlib releases the GIL) overlaps parsing this one
                chunks = run_ahead(lambda item=item: read_chunks([item], messages, lambda n, _total: report(n),
                                                                 self._stdin, self._stdin_head),
                                   "proxygen-log-decompress")
                for chunk in chunks:
                    if _plannable(chunk):
                        lines = chunk.data
                    else:
                        lines = _split_lines(chunk.data) if chunk.n_lines else pl.Series("line", [], dtype=pl.Utf8)
                    plan = _parse_plan(lines, chunk.first_line, self.format, columns, derive,
                                       maybe_non_utf8=not chunk.data.isascii())
                    yield ScanBatch(chunk.name, plan.collect(engine="streaming"), chunk.long_lines)
            done += item.size or 0

    def describe(self) -> str:
        how = "detected" if self.detected else "given"
        return f"format {self.format.name} ({how}): {self.format.format}"


@dataclass
class ScanBatch:
    """Lines of one input parsed by `_parse_plan`: `line_index` (file line numbers), `_len` (bytes),
    `_bad` (holds U+FFFD), `_raw` (the line, where the fast regex did not parse it), the typed columns;
    `long_lines`: (line number, length) of over-long lines the Python reader left out before."""

    name: str
    frame: "pl.DataFrame"
    long_lines: list[tuple[int, int]] = field(default_factory=list)


#: Rows per batch when polars scans a file (about 16 MiB of OFF log lines, as `read_chunks` reads).
SCAN_BATCH_ROWS = 70_000
#: Inputs up to this size are scanned by polars. The scan maps the file, and the mapped pages count in
#: RSS (the 1M-line, 223 MiB benchmark log: 243 MiB of file pages at peak, beside 494 MiB anonymous);
#: capping them keeps any input's peak well under 1 GiB. Larger inputs use the Python reader.
SCAN_MAX_BYTES = 256 * 2**20


def _may_scan(inputs: list[InputFile]) -> bool:
    """Whether polars may scan these inputs' plain files: sizes known (no stdin) and `SCAN_MAX_BYTES` in all."""
    return all(i.size is not None for i in inputs) and _expanded_size(inputs) < SCAN_MAX_BYTES


def _start_scan_checks(inputs: list[InputFile]) -> dict:
    """{path: future of `_scannable`} for inputs polars may scan, checked in a background thread: the
    check reads the whole file (~0.07 s per 223 MiB), which then overlaps polars' import and start."""
    if not _may_scan(inputs):
        return {}
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="proxygen-scan-check")
    checks = {item.path: pool.submit(_scannable, item) for item in inputs}
    pool.shutdown(wait=False)
    return checks


def _scannable(item: InputFile) -> bool:
    """Whether polars' reader can split this input into lines: a non-empty plain file without the byte
    its reader uses as column separator (0x01, only in binary junk). Others go through `read_chunks`."""
    if item.path == "-" or not item.size:
        return False
    try:  # plain reads, not a memory map: a file truncated meanwhile must not kill the process (SIGBUS)
        with open(item.path, "rb") as handle:
            block = handle.read(4 * 2**20)
            if block.startswith(b"\x1f\x8b"):
                return False
            while block:
                if b"\x01" in block:
                    return False
                block = handle.read(4 * 2**20)
    except OSError:
        return False
    return True


def _scan_parsed(item: InputFile, report: Callable[[int], None], fmt: LogFormat, columns: set[str] | None,
                 derive: Callable | None) -> Iterator[ScanBatch]:
    """A plain file read, split into lines and parsed by one polars plan on the streaming engine
    (`_parse_plan`), which works ahead on both cores. The file's pages it maps count in RSS, hence only
    for inputs up to `SCAN_MAX_BYTES`. Errors are the caller's to handle."""
    read = 0
    for batch in _parse_plan(item.path, 1, fmt, columns, derive).collect_batches(chunk_size=SCAN_BATCH_ROWS):
        if batch.height == 0:
            continue
        read += int(batch["_len"].sum() or 0) + batch.height
        report(min(read, item.size or read))
        yield ScanBatch(item.path, batch)
    report(item.size or read)


def _plannable(chunk) -> bool:
    """Whether polars can split a block from `read_chunks` into lines itself: all but the blocks of
    over-long or blank lines only, and binary junk holding the byte its reader splits columns on."""
    return bool(chunk.n_lines and not chunk.long_lines and b"\x01" not in chunk.data
                and chunk.data.strip(b"\r\n"))


def _parse_plan(source, first_line: int, fmt: LogFormat, columns: set[str] | None, derive: Callable | None,
                maybe_non_utf8: bool = True) -> "pl.LazyFrame":
    """One polars plan from the bytes (a path, or a block of whole lines; or a Series of lines already
    split) to typed columns: split into lines, the fast line regex, the standard columns, then
    `derive`'s. It also gives what the bookkeeping needs (see `ScanBatch`): 1M lines in ~0.75 s where
    splitting, then parsing each batch took ~1.2 s."""
    import polars as pl

    from proxygen.logs.parse import fast_groups, parsed_ok, typed_columns

    regex, groups = fast_groups(fmt, columns)
    length = pl.col("line").str.len_bytes()
    if isinstance(source, pl.Series):
        lines = source.rename("line").to_frame().lazy().with_row_index("line_index", offset=first_line)
    else:
        lines = pl.scan_csv(source, has_header=False, separator="\x01", quote_char=None, new_columns=["line"],
                            infer_schema=False, encoding="utf8-lossy", truncate_ragged_lines=True,
                            row_index_name="line_index", row_index_offset=first_line)
    plan = (lines
            .with_columns(pl.col("line").str.extract_groups(regex).alias("_groups")).unnest("_groups")
            .select(pl.col("line_index").cast(pl.Int64), length.alias("_len"),
                    (pl.col("line").str.contains("\ufffd", literal=True) if maybe_non_utf8 else pl.lit(False))
                    .alias("_bad"),
                    pl.when(~parsed_ok(fmt, groups) & length.is_between(1, MAX_LINE_BYTES))
                    .then(pl.col("line")).alias("_raw"),
                    *typed_columns(fmt, groups, columns)))
    return derive(plan) if derive is not None else plan


def _expanded_size(inputs: list[InputFile]) -> int:
    """The inputs' size once decompressed (estimated for gzip); stdin counts as large."""
    total = 0
    for item in inputs:
        if item.size is None:
            return 1 << 62  # larger than any bound
        total += item.size * (_GZIP_RATIO if _is_gzip(item) else 1)
    return total


def _is_gzip(item: InputFile) -> bool:
    """Whether the input starts with gzip's magic bytes (not stdin: its head is read elsewhere)."""
    if item.path == "-":
        return False
    try:
        with open(item.path, "rb") as handle:
            return handle.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def _split_lines(data: bytes) -> "pl.Series":
    """Split a block of lines into a Series (one row per line, blank lines as null or "").

    polars' CSV reader with a separator that cannot occur does this in parallel at memory
    speed; a block containing that byte (binary junk) is split in Python instead.
    """
    import io

    import polars as pl

    if not data.strip(b"\r\n"):
        return pl.Series("line", [], dtype=pl.Utf8)  # only blank lines: polars' reader refuses an empty input
    if b"\x01" in data:
        text = data.decode("utf-8", errors="replace")
        return pl.Series("line", [ln.rstrip("\r") for ln in text.split("\n")], dtype=pl.Utf8)
    frame = pl.read_csv(io.BytesIO(data), has_header=False, separator="\x01", quote_char=None,
                        new_columns=["line"], infer_schema=False, encoding="utf8-lossy",
                        truncate_ragged_lines=True)
    return frame.to_series()


def _first_lines(inputs: list[InputFile], stdin) -> tuple[list[str], str | None, bytes]:
    """(the first non-blank lines of the first input that has any, its name, the stdin bytes read)."""
    stdin_head = b""
    for item in inputs:
        lines, raw = peek_lines(item, DETECT_SAMPLE_LINES, stdin)
        if item.path == "-":
            stdin_head = raw  # put back in front when stdin is read
        if lines:
            return lines, item.path if item.path != "-" else "<stdin>", stdin_head
    return [], None, stdin_head


def _check_given_format(given: LogFormat, sample: list[str], sample_from: str | None,
                        candidates: Callable[[], list[LogFormat]]) -> None:
    """Stop when the format given parses under half of the first lines: it is not the log's format
    (the analysis would only say "no findings"). Names the `candidates()` that do parse them."""
    _, scores = detect_format(sample, [given])
    if scores[given.name] >= 0.5:
        return
    _, others = detect_format(sample, [c for c in candidates() if c.format != given.format])
    fits = [f"{name} ({score:.0%})" for name, score in sorted(others.items(), key=lambda kv: -kv[1]) if score >= 0.5]
    parsed = round(scores[given.name] * len(sample))
    label = given.name if given.name != "custom" else repr(given.format)
    raise ProxygenError(
        f"{sample_from}: --format {label} parses {parsed} of the first {len(sample)} lines: it is not this "
        f"log's format.\nFirst line: {sample[0][:300]}\n"
        + (f"Formats that parse them: {', '.join(fits)}. " if fits else "No known format parses them either. ")
        + "Pass the log's own format with --format (a name, or its nginx log_format string), or leave --format "
        "out to detect it.")


def detect_format(sample: list[str], candidates: list[LogFormat]) -> tuple[LogFormat | None, dict[str, float]]:
    """The candidate that parses the largest share of the sample (first in order on a tie)."""
    import polars as pl

    from proxygen.logs.parse import parse_lines

    scores: dict[str, float] = {}
    series = pl.Series("line", sample, dtype=pl.Utf8)
    best, best_score = None, -1.0
    for cand in candidates:
        frame, _ = parse_lines(series, cand)
        score = frame.height / len(sample) if sample else 0.0
        scores[cand.name] = score
        if score > best_score:
            best, best_score = cand, score
    return best, scores


#: Above this much input (uncompressed), polars' allocator returns freed memory at once (see `_size_allocator`).
EAGER_MEMORY_RETURN_BYTES = 512 * 2**20
#: How much a gzip-compressed access log expands (nginx logs compress about ten to one).
_GZIP_RATIO = 10


def _size_allocator(inputs: list[InputFile]) -> None:
    """Choose how polars' allocator (jemalloc) returns memory, before polars is imported.

    By default jemalloc keeps freed pages for seconds: successive merges of a very large log then
    add up in RSS. Returning them at once bounds peak memory (a 10M-line log stays under 1 GiB) but
    costs about a quarter more CPU time in page faults, which small and medium logs need not pay.
    The setting is read once, when polars loads: afterwards, or when the user set it, nothing changes.
    """
    import os
    import sys

    if "polars" in sys.modules or "_RJEM_MALLOC_CONF" in os.environ:
        return
    if _is_large(inputs):
        os.environ["_RJEM_MALLOC_CONF"] = "dirty_decay_ms:0,muzzy_decay_ms:0"


def _is_large(inputs: list[InputFile]) -> bool:
    """Whether the inputs call for the memory-first choices (see `LogSource.large`)."""
    return _expanded_size(inputs) >= EAGER_MEMORY_RETURN_BYTES


def open_logs(paths: list[str], fmt: str | None = None, *, since=None, until=None,
              nginx_conf: str | None = None, formats: dict[str, str] | None = None,
              progress: Callable[[int, int | None], None] | None = None,
              stdin: BinaryIO | None = None) -> LogSource:
    """Open log inputs for reading. See the package docstring."""
    inputs = expand_inputs(list(paths))
    _size_allocator(inputs)
    now = datetime.now(timezone.utc)  # one "now" for both ends of a relative window
    since_utc, until_utc = _as_utc(since, "since", now), _as_utc(until, "until", now)
    if since_utc and until_utc and since_utc >= until_utc:
        raise UsageError(f"--since {since_utc.isoformat(timespec='seconds')} is not before "
                         f"--until {until_utc.isoformat(timespec='seconds')}")
    if sum(1 for i in inputs if i.path == "-") > 1:
        raise UsageError("- (stdin) can be given only once")
    if fmt is not None:
        given = resolve_format(fmt, formats=formats, nginx_conf=nginx_conf)
        # with stdin, its first bytes are read here and handed to the source; without, the source opens
        # first, so that a file polars may scan gets its background check while the sample is read
        reads_stdin = any(i.path == "-" for i in inputs)
        sample, sample_from, stdin_head = _first_lines(inputs, stdin) if reads_stdin else ([], None, b"")
        source = LogSource(inputs, given, detected=False, since=since_utc, until=until_utc, progress=progress,
                           stdin=stdin, stdin_head=stdin_head)
        if not reads_stdin:
            sample, sample_from, _ = _first_lines(inputs, stdin)
        if sample:
            _check_given_format(given, sample, sample_from, lambda: candidate_formats(formats, nginx_conf))
        return source
    sample, sample_from, stdin_head = _first_lines(inputs, stdin)
    if not sample:
        # nothing to detect from: every input is empty; reading will report it
        return LogSource(inputs, resolve_format("main"), detected=True, since=since_utc, until=until_utc,
                         progress=progress, stdin=stdin, stdin_head=stdin_head)
    candidates = candidate_formats(formats, nginx_conf)
    best, scores = detect_format(sample, candidates)
    if best is None or scores[best.name] < 0.5:
        tried = ", ".join(f"{name} ({score:.0%})" for name, score in scores.items())
        raise ProxygenError(
            f"{sample_from}: cannot detect the log format: of the first {len(sample)} lines, no format parses "
            f"most (tried {tried}).\nFirst line: {sample[0][:300]}\n"
            "Pass --format NAME (a built-in, a proxygen.yml log_formats name, or a name with --nginx-conf FILE) "
            "or --format 'the nginx log_format string'.")
    return LogSource(inputs, best, detected=True, since=since_utc, until=until_utc, progress=progress,
                     stdin=stdin, stdin_head=stdin_head, detection_scores=scores)
