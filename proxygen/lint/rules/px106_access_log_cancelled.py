"""PX106: an access log cancelled by `access_log off` in the same block of the generated config.

No declaration produces this today (a site has one `logs.access`, and `access_log` is refused in
`directives:`): the rule guards the compiler and the templates against re-creating OFF's defect."""

from __future__ import annotations

from proxygen.lint.rule import Hit, Rule
from proxygen.lint.rules._shared import host_blocks


def _where(ctx, rel):
    source, _ = ctx.declaration_of(rel)
    if source == "proxygen.yml":
        return source, ("http", "access_log_format")
    return source, ("logs",)


def check(ctx):
    hosts = sorted({host for host, _, _ in ctx.generated()})
    for host in hosts:
        for names, opened_in, items in host_blocks(ctx, host):
            logs = [(n, rel) for n, rel in items if n.name == "access_log"]
            block = names[-1] if names else "main"
            offs = [(n, rel) for n, rel in logs if n.args[:1] == ["off"]]
            if offs and len(logs) > 1:
                # reported at a site's logs: the one writing `off`, else the one whose log is cancelled
                off, off_rel = offs[0]
                files = [off_rel] + [rel for n, rel in logs if n.args[:1] != ["off"]]
                source, loc = _where(ctx, next((r for r in files if r.startswith("sites/")), files[0]))
                yield Hit(source, loc, f"host {host}, {off_rel}:{off.line}: `access_log off` in the same "
                                       f"{block} block as another access_log turns every access log of the "
                                       f"block off")


RULE = Rule(
    code="PX106", name="access-log-cancelled", severity="error",
    summary="An access log that never writes: `access_log off` beside it in the same block cancels it.",
    doc="""`access_log off` cancels every access_log of the same level, so a conditional log declared beside it
records nothing; OFF's sibling vhosts lost their logs that way, and fail2ban and the crawler analyzer
then see no traffic. Lint checks the generated config of every host, block by block (includes read as
nginx reads them), and reports at the site's `logs:`. Declarations cannot write this (one access log
per site, `logs: {access: false}` to turn it off; `access_log` is refused in `directives:`), so a
finding means a template or compiler change re-created the defect. A log conditional on a variable
nothing defines is PX104.""",
    check=check,
    needs_build=True,
)
