"""PX204: `alias` on a prefix location without a trailing slash lets `/static../` climb out of the alias."""

from __future__ import annotations

from proxygen.lint.rule import Rule
from proxygen.lint.rules._security import hit_at, host_trees, own, walk_places


def prefix_path(args: list[str]) -> str | None:
    """The path of a prefix location (`location /x`, `location ^~ /x`), None for exact/regex/named ones."""
    if len(args) == 1 and not args[0].startswith("@"):
        return args[0]
    if len(args) == 2 and args[0] == "^~":
        return args[1]
    return None


def problems(top) -> list[tuple]:
    """(location, alias directive) pairs open to traversal."""
    out = []
    for p in walk_places(top):
        if p.node.name != "location" or p.node.block is None:
            continue
        path = prefix_path(p.node.args)
        if path is None or path.endswith("/"):
            continue
        for alias in own(p, "alias"):
            if alias.node.args and alias.node.args[0].endswith("/"):
                out.append((p, alias))
    return out


def check(ctx):
    for _host, top in host_trees(ctx):
        for loc, alias in problems(top):
            path, target = prefix_path(loc.node.args), alias.node.args[0]
            yield hit_at(ctx, alias, f"location {path} (no trailing /) with alias {target} (trailing /): "
                                     f"{path}../ resolves to {target}../, the parent of the alias directory; "
                                     f"end the path with / (or drop the alias's /)", ("static", "alias"))


RULE = Rule(
    code="PX204", name="alias-traversal", severity="error",
    summary="static.alias ending in / on a prefix location whose path does not end in / (path traversal).",
    doc="""nginx replaces the matched location prefix with the alias. With `path: /static` and
`alias: /srv/static/`, a request for `/static../etc/passwd` matches the prefix `/static` and becomes
`/srv/static/../etc/passwd`: any file readable by nginx is served. Fix: end the path with a slash
(`path: /static/`) whenever the alias ends with one, or use `root:` instead of `alias:`.
(gixy: alias_traversal)""",
    check=check, needs_build=True,
)
