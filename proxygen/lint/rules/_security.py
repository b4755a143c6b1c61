"""Shared by the PX2xx security rules: the generated config seen as nginx sees it, and the way back
from a generated directive to the declaration that produced it.

nginx's inheritance works on the whole configuration, `include`s spliced in: a header set at http
level reaches every server, a snippet's directives belong to the server that includes it.
`host_trees()` walks each host from nginx.conf with the generated files it includes spliced in place,
and keeps for every node the generated file it comes from, so a finding can name the site (and the location, and
the `directives:` or `rules:` entry) that wrote it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Iterator

from proxygen.lint.rule import Hit

if TYPE_CHECKING:
    from proxygen.compile.check import Node

# Blocks whose body is data, or that hold no http-level directives.
_NOT_CONFIG = frozenset({"map", "geo", "types", "split_clients", "match", "upstream", "events"})
# Blocks that take part in http-level inheritance.
CONFIG_BLOCKS = frozenset({"http", "server", "location", "if", "limit_except"})


@dataclass(frozen=True)
class Place:
    """A node of the generated config, the generated file it is written in, and its enclosing blocks."""

    node: "Node"
    rel: str
    parents: tuple["Place", ...] = ()
    files: dict = field(default_factory=dict, compare=False, hash=False, repr=False)  # rel -> tree, for includes

    @cached_property
    def children(self) -> list["Place"]:
        return _children(self)

    def location(self) -> "Place | None":
        """The innermost enclosing location (or this node, if it is one)."""
        for p in (self, *reversed(self.parents)):
            if p.node.name == "location":
                return p
        return None

    def server(self) -> "Place | None":
        for p in (self, *reversed(self.parents)):
            if p.node.name == "server" and p.node.block is not None:
                return p
        return None

    def describe(self) -> str:
        n = self.node
        return f"{n.name} {' '.join(n.args)}".strip()


def _children(place: Place) -> list[Place]:
    if place.node.block is None or place.node.name in _NOT_CONFIG:
        return []
    return list(_splice(place.node.block, place.rel, place.parents + (place,), place.files))


def _splice(nodes: list["Node"], rel: str, parents: tuple, files: dict, seen: tuple = ()) -> Iterator[Place]:
    for node in nodes:
        if node.name == "include" and len(node.args) == 1 and node.args[0] in files and node.args[0] not in seen:
            inc = node.args[0]
            yield from _splice(files[inc], inc, parents, files, seen + (inc,))
            continue
        yield Place(node, rel, parents, files)


def tree_places(files: dict[str, list["Node"]], root: str = "nginx.conf") -> list[Place]:
    """Top-level places of one host: `root` with generated includes spliced in; files that nothing
    includes are walked on their own."""
    reached: set[str] = set()

    def note_includes(nodes):
        for node in nodes:
            if node.name == "include" and node.args and node.args[0] in files:
                if node.args[0] not in reached:
                    reached.add(node.args[0])
                    note_includes(files[node.args[0]])
            if node.block is not None:
                note_includes(node.block)

    out: list[Place] = []
    if root in files:
        reached.add(root)
        note_includes(files[root])
        out += _splice(files[root], root, (), files)
    for rel in sorted(files):
        if rel not in reached:
            out += _splice(files[rel], rel, (), files)
    return out


def walk_places(places: list[Place]) -> Iterator[Place]:
    for p in places:
        yield p
        yield from walk_places(p.children)


def host_trees(ctx) -> Iterator[tuple[str, list[Place]]]:
    """(host, top-level places) for every built host."""
    by_host: dict[str, dict[str, list]] = {}
    for host, rel, tree in ctx.generated():
        by_host.setdefault(host, {})[rel] = tree
    for host in sorted(by_host):
        yield host, tree_places(by_host[host])


def parse_tree(text: str, rel: str = "nginx.conf", others: dict[str, str] | None = None) -> list[Place]:
    """Places of hand-written config text (and other files it includes): for unit tests and tools."""
    from proxygen.compile.check import parse

    files = {rel: parse(text, rel)}
    for name, body in (others or {}).items():
        files[name] = parse(body, name)
    return tree_places(files, rel)


# --- nginx's per-block directive lists -------------------------------------------------------------
def own(place: Place, name: str) -> list[Place]:
    """The directives `name` written in this block itself (includes spliced)."""
    return [c for c in place.children if c.node.name == name]


def effective(place: Place, name: str) -> list[Place]:
    """A list directive as nginx resolves it for this block: its own lines, else the nearest
    enclosing block's (all-or-nothing inheritance, like add_header, allow/deny, auth_basic)."""
    for p in (place, *reversed(place.parents)):
        mine = own(p, name)
        if mine:
            return mine
    return []


def effective_access(place: Place) -> list[Place]:
    """allow/deny rules in force in this block: its own, else the nearest enclosing block's."""
    for p in (place, *reversed(place.parents)):
        mine = [c for c in p.children if c.node.name in ("allow", "deny")]
        if mine:
            return mine
    return []


def effective_value(place: Place, name: str, default: str | None = None) -> str | None:
    found = effective(place, name)
    return found[-1].node.args[0] if found and found[-1].node.args else default


def auth_in_force(place: Place) -> bool:
    realm = effective_value(place, "auth_basic")
    return realm is not None and realm != "off"


def restricted(place: Place) -> bool:
    """A client may be refused here: a deny rule or basic auth is in force."""
    return any(a.node.name == "deny" for a in effective_access(place)) or auth_in_force(place)


def dropped(top: list[Place], name: str) -> Iterator[tuple[Place, list[Place], list[str], Place]]:
    """Blocks whose own `name` lines (add_header, proxy_set_header...) leave out some of the lines they
    would otherwise inherit: (block, its own lines, the names it drops, the block they come from).
    Lines are keyed by their first argument, case-insensitively (header names)."""

    def visit(places: list[Place], inherited: list[Place], origin: Place | None):
        for p in places:
            if p.node.block is None or p.node.name not in CONFIG_BLOCKS:
                continue
            mine = own(p, name)
            if mine:
                keys = {m.node.args[0].lower() for m in mine if m.node.args}
                missing = []
                for i in inherited:
                    arg = i.node.args[0] if i.node.args else ""
                    if arg.lower() not in keys and arg not in missing:
                        missing.append(arg)
                if missing:
                    yield p, mine, missing, origin
                yield from visit(p.children, mine, p)
            else:
                yield from visit(p.children, inherited, origin)

    yield from visit(top, [], None)


# --- from a generated node back to its declaration -------------------------------------------------
def inheritance_problems(top: list[Place], directives: tuple[str, ...]) -> list[tuple]:
    """(block, its own lines, dropped names, block they are inherited from, directive) for each directive."""
    return [(block, mine, missing, origin, name) for name in directives
            for block, mine, missing, origin in dropped(top, name)]


def inheritance_hits(ctx, directives: tuple[str, ...], typed_field, effect) -> Iterator[Hit]:
    """Hits for blocks whose own lines of an all-or-nothing directive drop the inherited ones.

    `typed_field(opts, directive)` names the declaration field that wrote the lines when no
    `directives:` entry did; `effect(directive)` says what the loss does (may be empty).
    """
    for host, top in host_trees(ctx):
        for block, mine, missing, origin, name in inheritance_problems(top, directives):
            source, loc, opts = declaration(ctx, mine[0])
            entry = next((e for e in (directive_entry(opts, m.node) for m in mine) if e), ())
            if not entry and opts is not None:
                entry = typed_field(opts, name)
            where = origin.describe() if origin is not None and origin.node.name != "http" else "http level"
            why = f"{effect(name)}: " if effect(name) else ""
            message = (f"{block.describe()}: its own {name} lines drop {', '.join(missing)} set at {where} "
                       f"({why}nginx keeps only a block's own {name} lines); repeat them here")
            yield Hit(source, loc + entry if source != "proxygen.yml" else ("hosts", host), message)


def declaration(ctx, place: Place) -> tuple[str, tuple, object | None]:
    """(source, key path, declaring Options object or None) of the block holding `place`."""
    loc_place = place.location()
    source, loc = ctx.declaration_of(place.rel, loc_place.node if loc_place is not None else None)
    if source == "proxygen.yml":
        return source, (), None
    name = source[len("sites/"):-len(".yml")] if source.endswith(".yml") else ""
    site = ctx.repo.sites.get(name)
    if site is None:
        return source, loc, None
    if loc_place is not None and loc[:1] == ("locations",):
        return source, loc, site.locations[loc[1]]
    if loc_place is not None:
        # a location the compiler adds (ACME challenge, error pages): reported on the site
        return source, (), None
    return source, (), site


def directive_entry(opts, node: "Node") -> tuple:
    """The key path inside a block of the `directives:` entry that wrote `node`, or () if none did."""
    if opts is None:
        return ()
    for j, d in enumerate(getattr(opts, "directives", [])):
        if d.name == node.name and list(d.args) == list(node.args):
            return ("directives", j)
    return ()


def rule_entry(opts, place: Place) -> tuple:
    """The `rules:` entry an `if` block (or a directive inside it) comes from, or ()."""
    if opts is None:
        return ()
    target = place if place.node.name == "if" else next(
        (p for p in reversed(place.parents) if p.node.name == "if"), None)
    if target is None or not target.parents:
        return ()
    block = target.parents[-1]
    ifs = [c for c in block.children if c.node.name == "if" and c.rel == target.rel]
    index = next((i for i, c in enumerate(ifs) if c.node is target.node), None)
    rules = getattr(opts, "rules", [])
    if index is None or index >= len(rules):
        return ()
    return ("rules", index)


def hit_at(ctx, place: Place, message: str, suffix: tuple = (), settings_loc: tuple = ()) -> Hit:
    """A Hit on the declaration of `place`: `suffix` (a key path inside the declaring block) when the
    block is declared by a site, `settings_loc` in proxygen.yml when the node comes from proxygen.yml."""
    source, loc, opts = declaration(ctx, place)
    if source == "proxygen.yml":
        return Hit(source, settings_loc, message)
    return Hit(source, loc + suffix if opts is not None else loc, message)


# --- variables ------------------------------------------------------------------------------------
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|([0-9]))")


def variables(value: str) -> list[str]:
    """Variable names in a value: `$host` -> "host", `${a}` -> "a", `$1` -> "1"."""
    return [m.group(1) or m.group(2) or m.group(3) for m in _VAR.finditer(value or "")]


def site_maps(ctx) -> dict[str, list]:
    """Map variable name (without $) -> [(source, site or None, map index, MapDecl)] over proxygen.yml's
    shared maps and every site's."""
    out: dict[str, list] = {}
    for i, m in enumerate(getattr(ctx.settings, "maps", [])):
        out.setdefault(m.variable.lstrip("$"), []).append(("proxygen.yml", None, i, m))
    for source, site in ctx.sites():
        for i, m in enumerate(site.maps):
            out.setdefault(m.variable.lstrip("$"), []).append((source, site, i, m))
    return out


def map_outputs(m) -> list[tuple[tuple, str, str | None]]:
    """(key path inside the map, value, regex of the entry or None) for the default and every entry."""
    out = [(("default",), m.default, None)]
    for j, e in enumerate(m.entries):
        out.append((("entries", j, "value"), e.value, e.regex))
    return out


def tainted_variables(ctx, is_tainted, capture_carries=None) -> set[str]:
    """Map variables that can carry a tainted value: a map whose default or entry value uses a tainted
    variable, or a capture of its regex when its source is tainted (and `capture_carries(regex, entry,
    group)` says the taint survives the capture). Followed to a fixed point."""
    maps = site_maps(ctx)
    tainted: set[str] = set()
    changed = True
    while changed:
        changed = False
        for var, decls in maps.items():
            if var in tainted:
                continue
            for _, _, _, m in decls:
                source_tainted = any(is_tainted(v) or v in tainted for v in variables(m.source))
                for j, (_, value, regex) in enumerate(map_outputs(m)):
                    names = variables(value)
                    captures = capture_names(regex) if regex else set()
                    entry = m.entries[j - 1] if j else None

                    def carries(n, regex=regex, entry=entry):
                        return capture_carries is None or capture_carries(regex, entry, n)

                    if any((n in captures and source_tainted and carries(n))
                           or (n not in captures and (is_tainted(n) or n in tainted)) for n in names):
                        tainted.add(var)
                        changed = True
                        break
                if var in tainted:
                    break
    return tainted


def python_syntax(regex: str) -> str:
    """PCRE's (?<name>...) and (?'name'...) written as Python's (?P<name>...)."""
    regex = re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", regex)
    return re.sub(r"\(\?'([A-Za-z_]\w*)'", r"(?P<\1>", regex)


def parse_regex(regex: str, ignore_case: bool = False):
    """The regex parsed by Python's own parser (re._parser), or None if Python cannot read it."""
    from re import _parser as sre_parse  # the parser behind re.compile: the regex's real structure

    try:
        return sre_parse.parse(python_syntax(regex), re.IGNORECASE if ignore_case else 0)
    except (re.error, RecursionError, OverflowError):
        return None


def capture_names(regex: str) -> set[str]:
    """Variables a regex match sets: $1.. for every group, $name for named groups."""
    parsed = parse_regex(regex)
    if parsed is None:
        return set()
    names = {str(i) for i in range(1, min(parsed.state.groups, 10))}
    return names | set(parsed.state.groupdict)


# What the client decides: request line, headers, cookies, query arguments (nginx's names, without $).
_CLIENT_PREFIXES = ("arg_", "http_", "cookie_")
_CLIENT_NAMES = frozenset({"request_uri", "uri", "document_uri", "args", "query_string", "request",
                           "request_body", "remote_user", "http_host", "content_type", "content_length"})
# Decoded by nginx (%0A becomes a newline): what can carry CR/LF into a header or a redirect.
DECODED = frozenset({"uri", "document_uri"})


def client_controlled(name: str) -> bool:
    return name.startswith(_CLIENT_PREFIXES) or name in _CLIENT_NAMES


def wildcard_names(site) -> bool:
    """Does $host take values the client picks (wildcard or regex server names)?"""
    return any(n.startswith("*") or n.endswith("*") or n.startswith("~") or n.startswith(".")
               for n in site.server_names)


_CATEGORY_REGEX = {"DIGIT": r"\d", "NOT_DIGIT": r"\D", "SPACE": r"\s", "NOT_SPACE": r"\S", "WORD": r"\w",
                   "NOT_WORD": r"\W", "LINEBREAK": r"\n", "NOT_LINEBREAK": r"[^\n]"}
LINE_BREAKS = (10, 13)  # LF, CR: Python's http.client (and so requests) splits headers on a bare CR too


def group_matches_newline(regex: str, group: str, ignore_case: bool = False) -> bool:
    """Can capture `group` ("1".."9" or a name) of `regex` contain a line feed or a carriage return?"""
    return bool(group_line_breaks(regex, group, ignore_case))


def group_line_breaks(regex: str, group: str, ignore_case: bool = False) -> set[int]:
    """The line-break characters (10 LF, 13 CR) capture `group` of `regex` can contain."""
    from re import _constants as C

    parsed = parse_regex(regex, ignore_case)
    if parsed is None:
        return set(LINE_BREAKS)  # unknown: assume the worst
    index = int(group) if group.isdigit() else parsed.state.groupdict.get(group)
    if index is None or index >= parsed.state.groups:
        return set()  # not a group of this regex: it sets nothing
    dotall = bool(parsed.state.flags & re.DOTALL)

    def in_category(category, ch: int) -> bool:
        name = str(category).replace("CATEGORY_", "").replace("UNI_", "")
        return re.fullmatch(_CATEGORY_REGEX.get(name, "."), chr(ch), re.DOTALL) is not None

    def single_one(op, av, ch: int) -> bool:
        if op == C.LITERAL:
            return av == ch
        if op == C.NOT_LITERAL:
            return av != ch
        if op == C.ANY:
            return dotall or ch != 10
        hit, negate = False, False
        for iop, iav in av:
            if iop == C.NEGATE:
                negate = True
            elif iop == C.LITERAL:
                hit |= iav == ch
            elif iop == C.RANGE:
                hit |= iav[0] <= ch <= iav[1]
            elif iop == C.CATEGORY:
                hit |= in_category(iav, ch)
        return hit != negate

    wanted = [10]

    def single(op, av) -> bool:
        return single_one(op, av, wanted[0])

    def newline(seq) -> bool:
        for op, av in seq:
            if op in (C.LITERAL, C.NOT_LITERAL, C.ANY, C.IN):
                if single(op, av):
                    return True
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
                if av[1] > 0 and newline(av[2]):
                    return True
            elif op == C.SUBPATTERN and newline(av[3]):
                return True
            elif op == C.ATOMIC_GROUP and newline(av):
                return True
            elif op == C.BRANCH and any(newline(alt) for alt in av[1]):
                return True
            elif op == C.GROUPREF:
                return True
        return False

    def find(seq):
        for op, av in seq:
            if op == C.SUBPATTERN and av[0] == index:
                return av[3]
            for child in ([av[2]] if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT) else
                          [av[3]] if op == C.SUBPATTERN else [av] if op == C.ATOMIC_GROUP else
                          list(av[1]) if op == C.BRANCH else [av[1]] if op in (C.ASSERT, C.ASSERT_NOT) else []):
                found = find(child)
                if found is not None:
                    return found
        return None

    body = find(list(parsed))
    if body is None:
        return set()
    out = set()
    for ch in LINE_BREAKS:
        wanted[0] = ch
        if newline(body):
            out.add(ch)
    return out
