"""PX202: a block with add_header lines of its own silently drops every add_header it would inherit."""

from __future__ import annotations

from proxygen.lint.rule import Rule
from proxygen.lint.rules._security import inheritance_hits, inheritance_problems

DIRECTIVES = ("add_header", "add_trailer")


def problems(top) -> list[tuple]:
    """(block, its own lines, dropped header names, block they are inherited from, directive name)."""
    return inheritance_problems(top, DIRECTIVES)


def _typed_field(opts, name: str) -> tuple:
    return ("headers",) if name == "add_header" and getattr(opts, "headers", None) else ()


def check(ctx):
    yield from inheritance_hits(ctx, DIRECTIVES, _typed_field, lambda name: "")


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
