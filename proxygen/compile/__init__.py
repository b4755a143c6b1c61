"""The compiler: declarations -> checked nginx config per host.

Python API (the CLI is one client of it):

    repo = load_repository(".")            # proxygen.model
    result = build(repo)                    # render + re-check in memory, raises on any problem
    report = write_build(result, "build")   # only changed files, atomically
    lint_report = lint(".", nginx=True)     # validate, build in memory, optionally nginx -t
"""

from __future__ import annotations

from proxygen.compile.lint import LintReport, lint

__all__ = ["LintReport", "lint"]
