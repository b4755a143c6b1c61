"""Terminal output: rich on a terminal, plain text when piped (for logs, CI and grep)."""

from __future__ import annotations

import sys
from functools import lru_cache

from proxygen.report.terminal_text import terminal_safe


@lru_cache(maxsize=None)
def console(stderr: bool = False):
    """A rich Console that degrades to plain text when the stream is not a terminal."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    is_tty = stream.isatty()
    return Console(file=stream, force_terminal=is_tty, no_color=not is_tty, highlight=False,
                   soft_wrap=not is_tty)


def is_terminal(stderr: bool = False) -> bool:
    return (sys.stderr if stderr else sys.stdout).isatty()


def info(message: str, stderr: bool = False) -> None:
    """Print a message (on stderr with `stderr`); text from logs in it is shown, never obeyed
    (`terminal_safe`)."""
    console(stderr=stderr).print(terminal_safe(message), markup=False)


def error(message: str) -> None:
    """Print a user-facing error on stderr, prefixed so it stands out in CI logs."""
    for line in terminal_safe(message).split("\n"):
        console(stderr=True).print(f"error: {line}", markup=False)
