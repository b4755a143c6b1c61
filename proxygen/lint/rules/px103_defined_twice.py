"""PX103: enforced while loading declarations (proxygen/model/references.py); listed here for --explain."""

from proxygen.lint.rule import Rule

RULE = Rule(
    code="PX103", name="defined-twice", severity="error",
    summary="Two sites on one host define the same upstream name or the same map/geo variable.",
    doc="""upstream names and map/geo variables share one namespace per nginx instance: a second `upstream x` is a startup error, and a second `map ... $x` silently wins over the first in every server of the host (today several sibling vhosts each define the same map). Rename one, or declare the shared thing once.""",
)
