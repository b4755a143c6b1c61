"""PX106: an access log that never writes: cancelled by `access_log off` in the same block, or
conditional on a variable nothing defines."""

from __future__ import annotations

from proxygen.lint.rule import Hit, Rule
from proxygen.lint.rules._shared import defined_variables, host_blocks, is_nginx_variable


def _where(ctx, rel):
    source, _ = ctx.declaration_of(rel)
    if source == "proxygen.yml":
        return source, ("http", "access_log_format")
    return source, ("logs",)


def check(ctx):
    hosts = sorted({host for host, _, _ in ctx.generated()})
    for host in hosts:
        defined = None
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
            for n, rel in logs:
                for arg in n.args[1:]:
                    if not arg.startswith("if="):
                        continue
                    var = arg[len("if="):].lstrip("$").strip("{}")
                    if defined is None:
                        defined = defined_variables(ctx, host)
                    if not is_nginx_variable(var) and var not in defined:
                        source, loc = _where(ctx, rel)
                        yield Hit(source, loc, f"host {host}, {rel}:{n.line}: access_log if=${var}: no map, geo "
                                               f"or set on this host defines ${var} (nginx refuses to start)")


RULE = Rule(
    code="PX106", name="access-log-cancelled", severity="error",
    summary="An access log that never writes: `access_log off` beside it in the same block, or `if=` on an undefined variable.",
    doc="""`access_log off` cancels every access_log of the same level, so a conditional log declared beside it
records nothing; OFF's sibling vhosts lost their logs that way, and fail2ban and the crawler analyzer
then see no traffic. A log conditional on a variable no map/geo defines makes nginx refuse to start
(`$proxygen_*` names pass the declaration check, but only the ones proxygen generates exist). Lint
checks the generated config of every host, block by block, and reports at the site's `logs:`. Fix: one
access log per site (`logs.access`, or `logs: {access: false}`), conditional on a variable a map or
geo of the same host defines.""",
    check=check,
    needs_build=True,
)
