"""PX208: nginx announces its version (server_tokens on)."""

from __future__ import annotations

from proxygen.lint.rule import Rule
from proxygen.lint.rules._security import declaration, directive_entry, hit_at, host_trees, own, walk_places


def problems(top) -> list[tuple]:
    """(place, message): server_tokens on/build anywhere, or an http block that never sets it (default on)."""
    out = []
    for p in walk_places(top):
        if p.node.name == "server_tokens" and p.node.args and p.node.args[0] != "off":
            out.append((p, f"server_tokens {p.node.args[0]} puts nginx's version in every Server header "
                           f"and error page; set it off"))
        elif p.node.name == "http" and p.node.block is not None and not own(p, "server_tokens"):
            out.append((p, "the http block does not set server_tokens, whose default (on) announces "
                           "nginx's version; set it off"))
    return out


def check(ctx):
    for _host, top in host_trees(ctx):
        for place, message in problems(top):
            _, _, opts = declaration(ctx, place)
            yield hit_at(ctx, place, message, directive_entry(opts, place.node), ("http", "server_tokens"))


RULE = Rule(
    code="PX208", name="version-disclosure", severity="warning",
    summary="server_tokens on: nginx's version in every response.",
    doc="""With `server_tokens on` (nginx's default) every response and error page says
`nginx/1.22.1`: a scanner learns which published vulnerabilities apply without sending one probe.
proxygen emits `server_tokens off` at http level unless proxygen.yml says `http: {server_tokens: true}`.
Fix: remove `http.server_tokens: true` and any `server_tokens` entry in `directives:`.
(gixy: version_disclosure)""",
    check=check, needs_build=True,
)
