"""Lint rule fixtures: tests/lint/fixtures/<CODE>/{flag,ok}/ overlaid on fixtures/_base.

A `flag` fixture marks every line where a finding must be reported with `# expect: PXnnn`
(several codes comma-separated); lint must report exactly those (file, line, code) and
nothing else. An `ok` fixture must lint clean. Fixtures lint with a fixed date so
age-based rules are deterministic.

Rules that guard the compiler (generated config no declaration can produce) take a
`generated.yml` beside the declarations: edits of the in-memory build (`file: host/rel`,
`replace: [old, new]`, first occurrence, which must exist) and the findings they must cause
(`expect: [[file, line, code]]`).
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
    shutil.copytree(FIXTURES / code / kind, into, dirs_exist_ok=True, ignore=shutil.ignore_patterns("generated.yml"))
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


def generated_edits(code: str, kind: str):
    """(adapt_build callable or None, expected findings) from the fixture's generated.yml."""
    import yaml

    path = FIXTURES / code / kind / "generated.yml"
    if not path.is_file():
        return None, set()
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))

    def adapt(result) -> None:
        for edit in spec["edits"]:
            host, rel = edit["file"].split("/", 1)
            old, new = edit["replace"]
            text = result.hosts[host].files[rel]
            assert old in text, f"{path}: {old!r} is not in the generated {edit['file']}"
            result.hosts[host].files[rel] = text.replace(old, new, 1)

    return adapt, {(f, int(line), c) for f, line, c in spec.get("expect", [])}


def reported(report, root: Path) -> set[tuple[str, int, str]]:
    out = set()
    for f in report.findings:
        file = Path(f.position.file)
        if file.is_absolute():
            file = file.relative_to(root)
        out.add((file.as_posix(), f.position.line, f.code))
    return out
