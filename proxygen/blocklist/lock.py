"""One writer at a time in a blocklists directory.

Every change to a blocklist file reads the directory, checks the result and replaces the file
atomically. Two of them at once (an operator's `blocklist add` while a cron job runs `crawlers
analyze --emit`) would each write their own version, and the first one's entries would be lost
without a word. Writers therefore hold an exclusive `flock` on the directory itself from the read
to the write (no lock file to leave behind or to commit); readers (`build`, `list`) need no lock,
since files are replaced whole. The lock goes with the process, so a killed writer never leaves
the directory locked.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from proxygen.errors import ProxygenError

#: How long a writer waits for another one before giving up (edits take well under a second;
#: a large `--emit` merge a few seconds).
WAIT_SECONDS = 60.0


@contextmanager
def writer_lock(directory: Path, wait: float | None = None) -> Iterator[None]:
    """Hold the directory's writer lock for the `with` block (the directory is created if needed: the
    first entry of a new repository goes there anyway)."""
    wait = WAIT_SECONDS if wait is None else wait
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ProxygenError(f"{directory}: another proxygen process has been changing these "
                                        f"blocklists for {wait:.0f} s; nothing was written, try again when it "
                                        "is done") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
