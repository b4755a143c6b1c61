"""PX102: enforced while loading declarations (proxygen/model/references.py); listed here for --explain."""

from proxygen.lint.rule import Rule

RULE = Rule(
    code="PX102", name="undefined-reference", severity="error",
    summary="A site uses something that is not declared: an upstream, rate-limit zone, cache zone, header set, log format, error page, page or site.",
    doc="""Everything shared is declared once (proxygen.yml: zones, cache zones, header sets, log formats, error pages, pages; a site: its upstreams and named locations) and referenced by name. A reference to nothing would be an nginx startup error ("zero size shared memory zone", "host not found in upstream"), or worse, an upstream borrowed from another file that disappears when that file is removed. The message lists the names that exist.""",
)
