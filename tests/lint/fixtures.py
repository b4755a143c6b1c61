"""Lint rule fixtures: tests/lint/fixtures/<CODE>/{flag,ok}/ overlaid on fixtures/_base.

A `flag` fixture marks every line where a finding must be reported with `# expect: PXnnn`
(several codes comma-separated); lint must report exactly those (file, line, code) and
nothing else. An `ok` fixture must lint clean. Fixtures lint with a fixed date so
age-based rules are deterministic.
"""

from __future__ import annotations

import datetime
import re
import shutil
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TODAY = datetime.date(2026, 6, 1)
_EXPECT = re.compile(r"#\s*expect:\s*(PX[0-9]{3}(?:\s*,\s*PX[0-9]{3})*)")


def materialize(code: str, kind: str, into: Path) -> Path:
    """Copy the base repository and the fixture's files over it into `into`; return the root."""
    shutil.copytree(FIXTURES / "_base", into, dirs_exist_ok=True)
    shutil.copytree(FIXTURES / code / kind, into, dirs_exist_ok=True)
    return into


def expected(code: str, kind: str) -> set[tuple[str, int, str]]:
    out = set()
    root = FIXTURES / code / kind
    for path in sorted(root.rglob("*")):
        if path.is_file():
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                m = _EXPECT.search(line)
                if m:
                    rel = path.relative_to(root).as_posix()
                    out.update((rel, number, c.strip()) for c in m.group(1).split(","))
    return out


def reported(report, root: Path) -> set[tuple[str, int, str]]:
    out = set()
    for f in report.findings:
        file = Path(f.position.file)
        if file.is_absolute():
            file = file.relative_to(root)
        out.add((file.as_posix(), f.position.line, f.code))
    return out
