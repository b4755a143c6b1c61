"""PX206: a `return` or redirect answers before allow/deny and basic auth are ever checked."""

from __future__ import annotations

from proxygen.lint.rule import Hit, Rule
from proxygen.lint.rules._security import declaration, host_trees, restricted, rule_entry, walk_places


def answers(node) -> bool:
    """A return/rewrite that serves something (2xx text, 3xx redirect), not a refusal (4xx, 5xx, 444)."""
    if node.name == "rewrite":
        return len(node.args) == 3 and node.args[2] in ("redirect", "permanent")
    if node.name != "return" or not node.args:
        return False
    if not node.args[0].isdigit():
        return True  # `return URL` is a 302
    return 200 <= int(node.args[0]) <= 399


def problems(top) -> list[tuple]:
    """(return place, the block whose access checks it skips)."""
    out = []
    for p in walk_places(top):
        if not answers(p.node) or not p.parents:
            continue
        block = p.parents[-1]
        if block.node.name == "if" and len(p.parents) >= 2:
            block = p.parents[-2]
        if block.node.name == "location" and restricted(block):
            out.append((p, block))
        elif block.node.name == "server" and (restricted(block) or any(
                c.node.name == "location" and restricted(c) for c in block.children)):
            out.append((p, block))
    return out


def check(ctx):
    for host, top in host_trees(ctx):
        for ret, block in problems(top):
            source, loc, opts = declaration(ctx, ret)
            entry = rule_entry(opts, ret)
            if entry:
                entry += ("return",)
            elif opts is not None:
                entry = ("redirect",) if getattr(opts, "redirect", None) is not None else (
                    ("return",) if getattr(opts, "return_", None) is not None else ())
            scope = "every location of this server" if block.node.name == "server" else block.describe()
            message = (f"`{ret.describe()}` runs in the rewrite phase, before allow/deny and basic auth: "
                       f"it answers every client, whatever the access rules of {scope} say")
            yield Hit(source, loc + entry if source != "proxygen.yml" else ("hosts", host), message)


RULE = Rule(
    code="PX206", name="return-bypasses-access", severity="warning",
    summary="A return or redirect in a block with access rules or basic auth answers before they are checked.",
    doc="""nginx runs `return` and `rewrite` (the rewrite phase) before `allow`/`deny` and `auth_basic`
(the access phase). A location with `access:` or `basic_auth:` whose action, or one of whose `rules:`,
returns a page or a redirect answers every client, authenticated or not; a server-level rule that
returns does so for every location. Refusals (4xx, 5xx, 444) are not reported: they refuse anyway.
Fix: move the redirect or page to a location without access rules if it is meant to be public, or
put the access rules on the location the redirect points to and let the redirect be public knowingly
(`lint_ignore` with the reason). (gixy: return_bypasses_allow_deny)""",
    check=check, needs_build=True,
)
