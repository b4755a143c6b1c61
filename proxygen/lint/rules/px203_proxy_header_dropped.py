"""PX203: a block with proxy_set_header (or proxy_hide_header) lines of its own drops the inherited ones."""

from __future__ import annotations

from proxygen.lint.rule import Rule
from proxygen.lint.rules._security import inheritance_hits, inheritance_problems

DIRECTIVES = ("proxy_set_header", "proxy_hide_header")


def problems(top) -> list[tuple]:
    """(block, its own lines, dropped header names, block they are inherited from, directive name)."""
    return inheritance_problems(top, DIRECTIVES)


def _typed_field(opts, name: str) -> tuple:
    if name != "proxy_set_header":
        return ()
    if getattr(opts, "proxy_headers", None):
        return ("proxy_headers",)
    return ("header_set",) if getattr(opts, "header_set", None) else ()


def _effect(name: str) -> str:
    return ("the backend no longer receives them" if name == "proxy_set_header"
            else "the backend's headers are passed to clients again")


def check(ctx):
    yield from inheritance_hits(ctx, DIRECTIVES, _typed_field, _effect)


RULE = Rule(
    code="PX203", name="proxy-header-dropped", severity="warning",
    summary="A block with proxy_set_header (or proxy_hide_header) lines of its own drops the inherited ones.",
    doc="""nginx inherits `proxy_set_header` all or nothing: a location with one `proxy_set_header` of its
own sends none of the server's. The backend then sees nginx's defaults (Host = the upstream name, no
X-Forwarded-For, no X-Real-IP): wrong absolute URLs, every client logged and rate-limited as the proxy's
address. `proxy_hide_header` works the same way: a location hiding one header of its own shows the
server's hidden ones (X-Powered-By, internal tokens) to clients again. proxygen repeats the site's
`header_set` and `proxy_headers` in a location that adds its own, so this fires on `proxy_hide_header`
in `directives:`, on a template, or on a compiler bug. Fix: repeat the inherited lines in the block
(for proxy_set_header: use `header_set:`/`proxy_headers:`, which the compiler merges).
(gixy: proxy_set_header_redefinition)""",
    check=check, needs_build=True,
)
