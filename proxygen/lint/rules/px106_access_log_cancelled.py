"""PX106: an access log that never writes: cancelled by `access_log off` in the same block, or
conditional on a variable nothing defines."""

from __future__ import annotations

from proxygen.lint.context import walk
from proxygen.lint.rule import Hit, Rule
from proxygen.lint.rules._shared import defined_variables, is_nginx_variable


def _where(ctx, rel):
    source, _ = ctx.declaration_of(rel)
    if source == "proxygen.yml":
        return source, ("http", "access_log_format")
    return source, ("logs",)


def check(ctx):
    defined: dict[str, set[str]] = {}
    for host, rel, tree in ctx.generated():
        blocks = [(None, tree)] + [(node, node.block) for node, _ in walk(tree) if node.block is not None]
        for block_node, block in blocks:
            logs = [n for n in block if n.name == "access_log"]
            block_name = block_node.name if block_node is not None else "top level"
            if len(logs) > 1 and any(n.args[:1] == ["off"] for n in logs):
                source, loc = _where(ctx, rel)
                yield Hit(source, loc, f"host {host}, {rel}:{logs[0].line}: `access_log off` beside another "
                                       f"access_log in the same {block_name} block turns every access log "
                                       f"of that block off")
            for n in logs:
                for arg in n.args[1:]:
                    if not arg.startswith("if="):
                        continue
                    var = arg[len("if="):].lstrip("$").strip("{}")
                    if host not in defined:
                        defined[host] = defined_variables(ctx, host)
                    if not is_nginx_variable(var) and var not in defined[host]:
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
