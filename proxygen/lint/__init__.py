"""`proxygen lint`: rules with stable codes over declarations and the config they generate.

    from proxygen.lint import lint, RULES
    report = lint(".", base="origin/main")   # findings introduced since origin/main
    for finding in report.findings: print(finding)

Rules live one per module in proxygen/lint/rules/, listed in proxygen/lint/registry.py.
Output formats (text, json, sarif, github) are in proxygen/lint/formats.py.
"""

from proxygen.lint.engine import LintReport, lint
from proxygen.lint.registry import CODES, RULES, rule
from proxygen.lint.rule import Finding, Hit, Rule

__all__ = ["lint", "LintReport", "RULES", "CODES", "rule", "Rule", "Finding", "Hit"]
