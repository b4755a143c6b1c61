"""What a lint rule is, and what it reports.

A rule is a small module in `proxygen/lint/rules/` exposing `RULE`; the registry
(`proxygen/lint/registry.py`) lists them explicitly. A rule's `check` gets the
LintContext and yields Hits (a place in a declaration and a message); the engine
turns them into Findings with the rule's code and severity, applies suppressions,
and sorts them. Rules whose `check` is None are enforced while loading
declarations (the problem carries the rule's code) and are listed for `--explain`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from proxygen.errors import Position

if TYPE_CHECKING:
    from proxygen.lint.context import LintContext

SEVERITIES = ("info", "warning", "error")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Hit:
    """A rule's raw report: a declaration file, a key path inside it, and what is wrong there."""

    source: str            # "sites/forum.yml", "proxygen.yml", "blocklists/manual.yml"
    loc: tuple = ()        # key path in that file, e.g. ("locations", 2, "proxy", "url")
    message: str = ""
    position: Position | None = None  # when the file is not a loaded declaration (blocklists, generated config)
    severity: str | None = None       # overrides the rule's (for layers whose findings vary, like gixy's)


@dataclass(frozen=True)
class Rule:
    code: str              # stable: PX followed by three digits, never reused
    name: str              # kebab-case, e.g. host-header-spoofing
    severity: str          # default severity: error, warning or info
    summary: str           # one line
    doc: str               # why it matters and how to fix it (shown by --explain)
    check: Callable[["LintContext"], Iterable[Hit]] | None = None
    needs_build: bool = False  # the check reads the generated config

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.code}: unknown severity {self.severity}")


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    severity: str
    position: Position
    field: str
    message: str
    source: str = ""       # declaration file the finding is about (for suppressions and --base)
    loc: tuple = field(default=(), compare=False)

    @property
    def fingerprint(self) -> str:
        """Stable across unrelated edits (no line numbers): what --base compares and SARIF records."""
        text = "\x1f".join((self.code, self.position.file, self.field, self.message))
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def __str__(self) -> str:
        field_part = f" {self.field}:" if self.field else ""
        return f"{self.position}: {self.code} {self.severity}:{field_part} {self.message}"
