"""Writing a checked build to OUT/<host>/: only changed files, each replaced atomically.

Everything is rendered and re-checked in memory before this runs, so a failed build
writes nothing. Every changed file is first written to a temporary file beside it; only
when all are on disk are they renamed over the old ones (readers see the old or the new
file, never half of one, and a failed write leaves the previous output untouched).
Files a previous build wrote and this one does not (a removed site) are deleted; the
list of generated files is kept in OUT/<host>/.proxygen-files so that files proxygen did
not write are never touched.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from proxygen.compile.build import BuildResult
from proxygen.errors import ProxygenError

MANIFEST = ".proxygen-files"


@dataclass
class WriteReport:
    written: list[str] = field(default_factory=list)   # host/path
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.written) + len(self.removed)


def write_build(result: BuildResult, out_dir: str | Path) -> WriteReport:
    """Write changed files in two phases: every new content to a temporary file first, then renames.

    If writing any temporary file fails (disk full, permissions), the temporaries are removed and the
    previous output is untouched; renames only happen once every new file is safely on disk.
    """
    out_dir = Path(out_dir)
    report = WriteReport()
    pending: list[tuple[str, Path]] = []  # (temporary, target)
    stale: list[tuple[str, Path]] = []
    try:
        for host_name in sorted(result.hosts):
            host = result.hosts[host_name]
            root = out_dir / host_name
            for rel in sorted(host.files):
                data = host.files[rel].encode("utf-8")
                target = root / rel
                if target.is_file() and target.read_bytes() == data:
                    report.unchanged.append(f"{host_name}/{rel}")
                    continue
                pending.append((_write_temporary(target, data), target))
                report.written.append(f"{host_name}/{rel}")
            for rel in sorted(_read_manifest(root) - set(host.files)):
                if (root / rel).is_file():
                    stale.append((f"{host_name}/{rel}", root / rel))
            manifest = "".join(f"{rel}\n" for rel in sorted(host.files)).encode()
            if not (root / MANIFEST).is_file() or (root / MANIFEST).read_bytes() != manifest:
                pending.append((_write_temporary(root / MANIFEST, manifest), root / MANIFEST))
    except BaseException as err:
        for tmp, _ in pending:
            if os.path.exists(tmp):
                os.unlink(tmp)
        if isinstance(err, OSError):  # a user's mistake or a full disk, not a bug: say where, no traceback
            where = err.filename or out_dir
            raise ProxygenError(f"{where}: cannot write the build output ({err.strerror or err}); "
                                "nothing was changed") from None
        raise
    if pending:
        os.sync()  # one flush for every temporary (per-file fsync costs ~2 ms each on a busy disk)
    for tmp, target in pending:
        os.replace(tmp, target)
    for name, path in stale:
        path.unlink()
        report.removed.append(name)
    return report


def read_manifest(root: Path) -> set[str]:
    """The files a previous build wrote under `root` (relative paths)."""
    return _read_manifest(root)


def _read_manifest(root: Path) -> set[str]:
    path = root / MANIFEST
    if not path.is_file():
        return set()
    entries = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        # never follow a manifest entry out of the host directory
        if line and not line.startswith("/") and ".." not in Path(line).parts:
            entries.add(line)
    return entries


def _write_temporary(target: Path, data: bytes) -> str:
    """Write `data` beside `target` (same filesystem, so the later rename is atomic); return its path."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp
