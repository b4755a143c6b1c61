"""The repository as it was at a git revision, for `lint --base` and `diff --base`.

The revision's files are extracted (git archive) into a temporary directory and read by
the current proxygen: the comparison shows what the change to declarations does, with the
same rules and templates on both sides.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import tarfile
import tempfile
from pathlib import Path

from proxygen.errors import UsageError


@contextlib.contextmanager
def repository_at(root: Path, revision: str):
    """Yield a temporary directory holding `root`'s tracked files at `revision`."""
    try:
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, check=True).stdout.strip()
        prefix = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-prefix"], capture_output=True,
                                text=True, check=True).stdout.strip()
        data = subprocess.run(["git", "-C", top, "archive", "--format=tar", f"{revision}:{prefix}" if prefix
                               else revision], capture_output=True, check=True).stdout
    except FileNotFoundError:
        raise UsageError("--base needs git, which is not installed") from None
    except subprocess.CalledProcessError as err:
        detail = (err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else err.stderr or "").strip()
        raise UsageError(f"--base {revision}: cannot read that revision of {root}: "
                         f"{detail.splitlines()[-1] if detail else 'git failed'}") from None
    with tempfile.TemporaryDirectory(prefix="proxygen-base-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp)
