"""PX002: declarations are valid but the generated config fails proxygen's re-check."""

from proxygen.lint.rule import Rule

RULE = Rule(
    code="PX002", name="build-failed", severity="error",
    summary="The generated config failed the re-check (directive table, structure, blocklists, build checks).",
    doc="""After rendering, every generated file is parsed again and compared with what was intended (each
user value must come back as exactly one argument), and every directive is checked against proxygen's
table of contexts, argument counts and minimum nginx versions. Blocklists are loaded and checked here
too. A failure means a value cannot be expressed safely for this host's nginx, or a blocklist or build
check refused the combination; the message names the file and the directive.""",
)
