"""PX000: a `lint_ignore` entry that silences nothing (reported by the engine, not a check)."""

from proxygen.lint.rule import Rule

RULE = Rule(
    code="PX000", name="unused-suppression", severity="warning",
    summary="A lint_ignore entry names a rule that reports nothing in its block, or no rule at all.",
    doc="""A suppression is an exception a reviewer accepted for a reason. When the finding it silenced goes
away (the declaration was fixed, or moved), the suppression stays behind and would silently hide the
next, different problem of that rule in the same block. Remove the entry. A suppression only covers the
block it is declared in: a site's `lint_ignore` covers the whole site file, a location's covers that
location, proxygen.yml's covers proxygen.yml.""",
)
