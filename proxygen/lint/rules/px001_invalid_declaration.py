"""PX001: a declaration fails validation (enforced while loading; build refuses it too)."""

from proxygen.lint.rule import Rule

RULE = Rule(
    code="PX001", name="invalid-declaration", severity="error",
    summary="A site file or proxygen.yml does not validate (syntax, unknown field, wrong type or value).",
    doc="""Every field of a declaration is typed: YAML syntax errors, duplicate keys, unknown fields (with a
did-you-mean), values of the wrong type, control characters, `$` where nginx would expand a variable,
raw directives the model forbids (`listen`, `include`, `if`, `ssl_certificate` ... through `directives:`)
are refused with the file, line, column and field. `proxygen build` refuses the same declarations, so
nothing invalid ever reaches a proxy. Fix the field named in the message; `proxygen schema site` prints
the schema editors use to complete and check site files as you type.""",
)
