"""PX104: enforced while loading declarations (proxygen/model/references.py); listed here for --explain."""

from proxygen.lint.rule import Rule

RULE = Rule(
    code="PX104", name="undefined-variable", severity="error",
    summary="A value uses a $variable that is neither an nginx variable nor defined by a map/geo of a host serving the site.",
    doc="""nginx refuses to start on an unknown variable ("unknown variable"), and a typo in a log format or a header value is easy to make. Each $name in a value must be an nginx built-in variable, a regex capture of the same site, or a map/geo of a site on every host that serves this one.""",
)
