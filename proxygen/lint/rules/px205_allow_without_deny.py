"""PX205: `allow` rules without any `deny` restrict nothing: nginx allows by default."""

from __future__ import annotations

from proxygen.lint.rule import Rule
from proxygen.lint.rules._security import CONFIG_BLOCKS, auth_in_force, effective_value, hit_at, host_trees, walk_places


def problems(top) -> list[tuple]:
    """(block, its allow lines) where the allow rules restrict nothing."""
    out = []
    for p in walk_places(top):
        if p.node.block is None or p.node.name not in CONFIG_BLOCKS:
            continue
        rules = [c for c in p.children if c.node.name in ("allow", "deny")]
        allows = [c for c in rules if c.node.name == "allow" and c.node.args != ["all"]]
        if not allows or any(c.node.name == "deny" for c in rules):
            continue
        if effective_value(p, "satisfy", "all") == "any" and auth_in_force(p):
            continue  # the allowed addresses skip the password, everyone else is asked for it
        out.append((p, allows))
    return out


def check(ctx):
    for _host, top in host_trees(ctx):
        for block, allows in problems(top):
            nets = ", ".join(a.node.args[0] for a in allows)
            yield hit_at(ctx, allows[0], f"{block.describe()}: allow {nets} without any deny lets every "
                                         f"client in (nginx allows by default); add `deny: [all]`",
                         ("access", "allow"))


RULE = Rule(
    code="PX205", name="allow-without-deny", severity="error",
    summary="access.allow without any deny: the restriction lets everyone in.",
    doc="""nginx's access module allows any client that no rule matches. `access: {allow: [10.0.0.0/8]}`
alone therefore restricts nothing: it reads like "only the internal network" and lets the whole
internet in. Fix: add `deny: [all]` after the allowed networks. With `satisfy any` and basic auth,
allow-only is the intended "these networks skip the password" and is not reported.
(gixy: allow_without_deny)""",
    check=check, needs_build=True,
)
