"""PX202: a block with add_header lines of its own silently drops every add_header it would inherit."""

from __future__ import annotations

from proxygen.lint.rule import Hit, Rule
from proxygen.lint.rules._security import declaration, directive_entry, dropped, host_trees

DIRECTIVES = ("add_header", "add_trailer")


def problems(top) -> list[tuple]:
    """(block, its own lines, dropped header names, block they are inherited from, directive name)."""
    out = []
    for name in DIRECTIVES:
        out += [(block, mine, missing, origin, name) for block, mine, missing, origin in dropped(top, name)]
    return out


def check(ctx):
    for host, top in host_trees(ctx):
        for block, mine, missing, origin, name in problems(top):
            source, loc, opts = declaration(ctx, mine[0])
            entry = next((e for e in (directive_entry(opts, m.node) for m in mine) if e), ())
            if not entry and opts is not None and name == "add_header" and getattr(opts, "headers", None):
                entry = ("headers",)
            where = origin.describe() if origin is not None and origin.node.name != "http" else "http level"
            message = (f"{block.describe()}: its own {name} lines drop {', '.join(missing)} set at {where} "
                       f"(nginx keeps only a block's own {name} lines); repeat them here")
            yield Hit(source, loc + entry if source != "proxygen.yml" else ("hosts", host), message)


RULE = Rule(
    code="PX202", name="add-header-dropped", severity="warning",
    summary="A block with add_header (or add_trailer) lines of its own drops the ones it would inherit.",
    doc="""nginx inherits `add_header` all or nothing: a location (or `if`, or server) that has even one
`add_header` of its own gets none of the enclosing block's. Security headers set once on the server
(Strict-Transport-Security, X-Content-Type-Options, Content-Security-Policy) silently vanish from that
location; OFF's hand-written vhosts lose HSTS this way. proxygen repeats a site's `headers:` (and HSTS)
in every location that declares headers, so this fires when something else writes the lines: an
`add_trailer` in `directives:` (same all-or-nothing rule), a template, or a compiler bug. Fix: declare
response headers with `headers:` on the site or location, or repeat the inherited `add_trailer` lines in
the block that sets its own. (gixy: add_header_redefinition)""",
    check=check, needs_build=True,
)
