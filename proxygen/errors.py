"""Errors the user can act on.

Every error caused by user input (a declaration, a log, a command-line value)
is a `ProxygenError`. The CLI prints its message without a traceback and exits
with its `exit_code`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Position:
    """Where a problem is: a file, and a 1-based line and column when known."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field, e.g. `sites/query.yml:12:5: tls.certificate: ...`."""

    position: Position
    field: str
    message: str
    code: str = ""  # the lint rule that names this kind of problem (e.g. PX101); empty for plain validation

    def __str__(self) -> str:
        field = f" {self.field}:" if self.field else ""
        return f"{self.position}:{field} {self.message}"


class ProxygenError(Exception):
    """A user-facing error: the message is meant to be read at 3 a.m."""

    exit_code = 1


class UsageError(ProxygenError):
    """The command line itself is wrong (exit 2, like argparse and typer)."""

    exit_code = 2


class DeclarationError(ProxygenError):
    """One or more problems in declarations; nothing was written."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.position, p.field))
        super().__init__("\n".join(str(p) for p in self.problems))
