"""PX203: a block with proxy_set_header (or proxy_hide_header) lines of its own drops the inherited ones."""

from __future__ import annotations

from proxygen.lint.rule import Hit, Rule
from proxygen.lint.rules._security import declaration, directive_entry, dropped, host_trees

DIRECTIVES = ("proxy_set_header", "proxy_hide_header")


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
            if not entry and opts is not None and name == "proxy_set_header":
                entry = ("proxy_headers",) if getattr(opts, "proxy_headers", None) else (
                    ("header_set",) if getattr(opts, "header_set", None) else ())
            where = origin.describe() if origin is not None and origin.node.name != "http" else "http level"
            effect = ("the backend no longer receives them" if name == "proxy_set_header"
                      else "the backend's headers are passed to clients again")
            message = (f"{block.describe()}: its own {name} lines drop {', '.join(missing)} set at {where} "
                       f"({effect}: nginx keeps only a block's own {name} lines); repeat them here")
            yield Hit(source, loc + entry if source != "proxygen.yml" else ("hosts", host), message)


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
