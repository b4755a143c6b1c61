"""PX101: enforced while loading declarations (proxygen/model/references.py); listed here for --explain."""

from proxygen.lint.rule import Rule

RULE = Rule(
    code="PX101", name="server-name-clash", severity="error",
    summary="The same server name is declared by two sites served on the same host (nginx ignores one).",
    doc="""nginx picks one server block per name and socket and only warns ("conflicting server name ... ignored"): the other site silently stops receiving that traffic. Today two files declare prices.openfoodfacts.org, one of them with `listen 443` but no `ssl`. Each server name belongs to exactly one site per host; move it, or split the hosts.""",
)
