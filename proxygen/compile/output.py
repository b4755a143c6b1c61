"""Writing a checked build to OUT/<host>/: only changed files, each replaced atomically.

Everything is rendered and re-checked in memory before this runs, so a failed build
writes nothing. Each changed file is written to a temporary file in the same directory
and renamed over the old one (readers see the old or the new file, never half of one).
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
    out_dir = Path(out_dir)
    report = WriteReport()
    for host_name in sorted(result.hosts):
        host = result.hosts[host_name]
        root = out_dir / host_name
        root.mkdir(parents=True, exist_ok=True)
        for rel in sorted(host.files):
            data = host.files[rel].encode("utf-8")
            target = root / rel
            if target.is_file() and target.read_bytes() == data:
                report.unchanged.append(f"{host_name}/{rel}")
                continue
            _atomic_write(target, data)
            report.written.append(f"{host_name}/{rel}")
        previous = _read_manifest(root)
        for rel in sorted(previous - set(host.files)):
            stale = root / rel
            if stale.is_file():
                stale.unlink()
                report.removed.append(f"{host_name}/{rel}")
        manifest = "".join(f"{rel}\n" for rel in sorted(host.files)).encode()
        if not (root / MANIFEST).is_file() or (root / MANIFEST).read_bytes() != manifest:
            _atomic_write(root / MANIFEST, manifest)
    return report


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


def _atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
