"""Read log inputs (files, gzip files, globs, stdin) as large decoded chunks of whole lines.

Reading in chunks of several MiB and splitting into lines inside polars keeps Python out of the
per-line path. Everything unusual is reported rather than fatal: a truncated gzip keeps what
decompressed, bytes that are not UTF-8 are replaced (U+FFFD) and counted, over-long lines are
skipped and counted, an empty file is noted. Each of these becomes a message in `ReadStats`.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator

from proxygen.errors import UsageError

CHUNK_BYTES = 16 * 1024 * 1024
#: Lines longer than this are skipped (and counted malformed): no nginx request line is this long,
#: and one such line must not make a batch's memory explode.
MAX_LINE_BYTES = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class InputFile:
    """One input: a path, or `-` for stdin."""

    path: str
    size: int | None  # bytes on disk (compressed size for .gz); None for stdin


@dataclass
class RawChunk:
    """Whole lines of one input: raw bytes without the final newline."""

    name: str
    first_line: int  # 1-based line number of the chunk's first line in its input
    data: bytes
    n_lines: int
    long_lines: list[tuple[int, int]] = field(default_factory=list)  # (line number, length) skipped


_ROTATION = re.compile(r"\.(\d+)(?:\.gz)?$")


def _rotation_key(path: str) -> tuple[str, int]:
    """Sort rotated logs oldest first: access.log.3.gz, access.log.2.gz, access.log.1, access.log."""
    match = _ROTATION.search(path)
    if match:
        return (path[:match.start()], -int(match.group(1)))
    stem = path[:-3] if path.endswith(".gz") else path
    return (stem, 0)


def expand_inputs(paths: list[str]) -> list[InputFile]:
    """Expand globs; `-` is stdin. Rotated files of one log are put oldest first.

    A path (or glob) that matches nothing is a `UsageError` raised before anything is read,
    so a typo never yields a silently empty analysis.
    """
    if not paths:
        raise UsageError("no log file given (pass one or more files, globs, or - for stdin)")
    out: list[InputFile] = []
    for path in paths:
        if path == "-":
            out.append(InputFile("-", None))
            continue
        if glob.has_magic(path):
            matches = sorted((m for m in glob.glob(path) if os.path.isfile(m)), key=_rotation_key)
            if not matches:
                raise UsageError(f"{path}: no file matches this pattern")
        else:
            if os.path.isdir(path):
                raise UsageError(f"{path}: is a directory, not a log file (use a glob such as {path}/access.log*)")
            if not os.path.exists(path):
                raise UsageError(f"{path}: no such file")
            matches = [path]
        for match in matches:
            out.append(InputFile(match, os.path.getsize(match)))
    return out


class _Progress:
    def __init__(self, total: int | None, callback: Callable[[int, int | None], None] | None):
        self.done = 0
        self.total = total
        self.callback = callback

    def advance(self, n: int) -> None:
        self.done += n
        if self.callback is not None:
            self.callback(self.done, self.total)


def _raw_blocks(stream: BinaryIO, progress: _Progress, name: str,
                messages: list[str], head: bytes = b"") -> Iterator[bytes]:
    """Yield decompressed blocks of one stream: gzip (possibly multi-member) or plain."""
    first = head + stream.read(CHUNK_BYTES - len(head))
    progress.advance(len(first) - len(head))
    if not first.startswith(_GZIP_MAGIC):
        if first:
            yield first
        while True:
            block = stream.read(CHUNK_BYTES)
            if not block:
                return
            progress.advance(len(block))
            yield block
    decomp = zlib.decompressobj(wbits=31)
    pending = first
    # decompressed output is handed on in blocks of CHUNK_BYTES, as plain files are read: every block
    # costs a parsing plan, and 32 KiB of gzip input only expand to ~300 KiB
    done: list[bytes] = []
    done_bytes = 0
    while True:
        while pending:
            # feed 32 KiB at a time so that the lines before a damaged spot come out
            piece, pending = pending[:32 * 1024], pending[32 * 1024:]
            try:
                out = decomp.decompress(piece)
            except zlib.error as err:
                messages.append(f"{name}: gzip data is corrupt ({err}); kept the lines before the damage")
                if done:
                    yield b"".join(done)
                return
            if out:
                done.append(out)
                done_bytes += len(out)
                if done_bytes >= CHUNK_BYTES:
                    yield b"".join(done)
                    done, done_bytes = [], 0
            if decomp.eof:
                rest = decomp.unused_data + pending
                if rest.startswith(_GZIP_MAGIC):  # next member of a concatenated gzip
                    decomp = zlib.decompressobj(wbits=31)
                    pending = rest
                elif rest.strip(b"\0"):
                    messages.append(f"{name}: {len(rest)} bytes of trailing garbage after the gzip data ignored")
                    pending = b""
                else:
                    pending = b""
        block = stream.read(CHUNK_BYTES)
        if not block:
            break
        progress.advance(len(block))
        pending = block
    done.append(decomp.flush())
    if any(done):
        yield b"".join(done)
    if not decomp.eof:
        messages.append(f"{name}: gzip file is truncated (ends before its end marker); "
                        "kept every complete line before the cut")


def _chunks_of(name: str, blocks: Iterator[bytes], messages: list[str]) -> Iterator[RawChunk]:
    """Cut decompressed blocks into chunks of whole lines, skipping over-long lines."""
    carry = b""
    line_no = 1
    skipping: tuple[int, int] | None = None  # (line number, bytes so far) of an over-long line
    saw_any = False
    for block in blocks:
        saw_any = saw_any or bool(block)
        if skipping is not None:
            nl = block.find(b"\n")
            if nl < 0:
                skipping = (skipping[0], skipping[1] + len(block))
                continue
            yield RawChunk(name, skipping[0], b"", 0, [(skipping[0], skipping[1] + nl)])
            line_no = skipping[0] + 1
            skipping = None
            block = block[nl + 1:]
        data = carry + block if carry else block
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) > MAX_LINE_BYTES:
                skipping = (line_no, len(data))
                carry = b""
            else:
                carry = data
            continue
        carry = data[cut + 1:]
        if len(carry) > MAX_LINE_BYTES:
            skipping = (line_no + data.count(b"\n", 0, cut + 1), len(carry))
            carry = b""
        chunk = _make_chunk(name, line_no, data[:cut], messages)
        line_no += chunk.n_lines
        yield chunk
    if skipping is not None:
        yield RawChunk(name, skipping[0], b"", 0, [(skipping[0], skipping[1])])
    elif carry:
        yield _make_chunk(name, line_no, carry, messages)
    if not saw_any:
        messages.append(f"{name}: empty file, nothing to read")


def long_line_message(name: str, line_no: int, length: int) -> str:
    return (f"{name}:{line_no}: line of {length:,} bytes skipped (longer than {MAX_LINE_BYTES:,} bytes; "
            "not a log line); counted as malformed")


def _make_chunk(name: str, first_line: int, data: bytes, messages: list[str]) -> RawChunk:
    """Wrap one block of whole lines (over-long lines inside it are found later, in polars)."""
    return RawChunk(name, first_line, data, data.count(b"\n") + 1)


def read_chunks(inputs: list[InputFile], messages: list[str],
                progress: Callable[[int, int | None], None] | None = None,
                stdin: BinaryIO | None = None, stdin_head: bytes = b"") -> Iterator[RawChunk]:
    """Yield chunks of whole lines from every input in order, appending warnings to `messages`.

    `stdin_head` is what format detection already consumed from stdin.
    """
    total = None if any(i.size is None for i in inputs) else sum(i.size or 0 for i in inputs)
    prog = _Progress(total, progress)
    for item in inputs:
        if item.path == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            yield from _chunks_of("<stdin>", _raw_blocks(stream, prog, "<stdin>", messages, stdin_head), messages)
            continue
        try:
            handle = open(item.path, "rb")
        except OSError as err:
            messages.append(f"{item.path}: cannot read ({err.strerror}); skipped")
            continue
        with handle:
            yield from _chunks_of(item.path, _raw_blocks(handle, prog, item.path, messages), messages)


def peek_lines(item: InputFile, limit: int, stdin: BinaryIO | None = None) -> tuple[list[str], bytes]:
    """The first `limit` non-blank lines of an input (for format detection).

    For stdin the bytes consumed are returned so the caller can put them back in front.
    """
    if item.path == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        head = stream.read(1024 * 1024)
        raw = head
    else:
        with open(item.path, "rb") as handle:
            head = handle.read(1024 * 1024)
        raw = b""
    if head.startswith(_GZIP_MAGIC):
        decomp = zlib.decompressobj(wbits=31)
        try:
            text = decomp.decompress(head, 4 * 1024 * 1024)
        except zlib.error:
            text = b""
    else:
        text = head
    lines = [ln for ln in text.decode("utf-8", errors="replace").split("\n")[:-1] if ln.strip()]
    if not lines and text.strip() and len(text) < 4 * 1024 * 1024 and len(head) < 1024 * 1024:
        lines = [text.decode("utf-8", errors="replace").strip()]  # a single line without newline
    return [ln.rstrip("\r") for ln in lines[:limit]], raw
