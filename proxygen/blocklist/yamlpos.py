"""YAML with positions: every value keeps the line and column it came from.

Validation errors must point at `blocklists/<file>.yml:line:col`, which plain
`yaml.safe_load` forgets; composing the node tree keeps the marks.

A blocklist is mostly a long `entries:` list of one-line `key: value` fields (what the analyzer
writes, and what people write by hand). That shape is read line by line (`_fast_load`), with each
scalar resolved and constructed exactly as PyYAML's safe loader would; anything else in the file
(flow collections, anchors, block scalars, multi-line values, comments after values, ...) sends the
whole file through the composing loader instead. Both give the same nodes, values and positions
(tests/blocklist/test_yamlpos.py compares them).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from proxygen.errors import DeclarationError, Position, Problem


# libyaml's parser keeps marks too and is ~10x faster than the pure-Python one.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Node:
    """A YAML value with where it starts; mappings and sequences hold Nodes."""

    __slots__ = ("value", "file", "line", "column", "_plain")

    def __init__(self, value: Any, file: str, line: int, column: int, plain: Any = None):
        self.value = value
        self.file = file
        self.line = line               # 1-based, like Position
        self.column = column
        self._plain = plain

    @property
    def position(self) -> Position:
        return Position(self.file, self.line, self.column)

    def plain(self) -> Any:
        """The value with positions stripped (nested)."""
        if self._plain is not None:
            return self._plain
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value

    def __eq__(self, other) -> bool:
        return (isinstance(other, Node) and (self.value, self.file, self.line, self.column)
                == (other.value, other.file, other.line, other.column))

    def __repr__(self) -> str:
        return f"Node({self.value!r} @ {self.line}:{self.column})"


def load(text: str, file: str) -> Node | None:
    """Parse one YAML document; syntax errors and duplicate keys become DeclarationErrors."""
    fast = _fast_load(text, file)
    if fast is not None:
        root, problems = fast
        if problems:
            raise DeclarationError(problems)
        return root
    return load_composed(text, file)


def load_composed(text: str, file: str) -> Node | None:
    """`load` through PyYAML's composer (any YAML)."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        problems: list[Problem] = []
        node = _convert(loader, root, file, problems)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        pos = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file)
        raise DeclarationError([Problem(pos, "", f"invalid YAML: {err.problem or err}")]) from None
    finally:
        loader.dispose()
    if problems:
        raise DeclarationError(problems)
    return node


def _convert(loader, node, file: str, problems: list[Problem]) -> Node:
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            key = str(key)
            if key in out:
                problems.append(Problem(Position(file, key_node.start_mark.line + 1, key_node.start_mark.column + 1),
                                        key, "duplicate key"))
                continue
            out[key] = _convert(loader, value_node, file, problems)
        return Node(out, file, line, column)
    if isinstance(node, yaml.SequenceNode):
        return Node([_convert(loader, item, file, problems) for item in node.value], file, line, column)
    return Node(loader.construct_object(node, deep=True), file, line, column)


# ----------------------------------------------------------------------------- line-by-line reading

# Anything that could make a line mean more than `key: value` sends the file to the composer.
_UNUSUAL = re.compile(r"[\t\r\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\u2028\u2029]")
_TOP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):[ ]*(?:#.*)?\Z")
_BLANK = re.compile(r"[ ]*(?:#.*)?\Z")
# `- key: value` (an entry's first field) or `key: value`, the value running to the end of the line
_LINE = re.compile(r"( *)(- )?([A-Za-z_][A-Za-z0-9_]*): +(\S(?:.*\S)?) *\Z")
# a plain scalar that is one line on its own: no indicator first, no `: ` or ` #` inside
_PLAIN_START = frozenset("-?:,[]{}#&*!|>'\"%@`")
_SIMPLE_DQ = re.compile(r'"([^"\\]*)"\Z')
_SIMPLE_SQ = re.compile(r"'((?:[^']|'')*)'\Z")


class _Scalars:
    """Plain scalars resolved (PyYAML's implicit resolvers, as Resolver.resolve applies them to a
    plain scalar) and constructed (the safe constructor), cached."""

    def __init__(self):
        self.by_first = yaml.resolver.Resolver.yaml_implicit_resolvers
        self.wildcard = list(self.by_first.get(None, []))
        self.cache: dict[str, Any] = {}

    def plain(self, text: str):
        hit = self.cache.get(text, self)
        if hit is not self:
            return hit
        value = text
        for tag, regexp in self.by_first.get(text[0], []) + self.wildcard if text[0] in self.by_first \
                or self.wildcard else ():
            if regexp.match(text):
                if tag != "tag:yaml.org,2002:str":
                    value = yaml.load(text, Loader=_Loader)
                break
        if len(self.cache) < 500_000:
            self.cache[text] = value
        return value


def _value(raw: str, scalars: _Scalars):
    """The value of a one-line scalar, or `_Scalars` when it is not one this reader handles."""
    first = raw[0]
    if first == '"':
        m = _SIMPLE_DQ.match(raw)
        if m:
            return m.group(1)
        if raw.endswith('"') and len(raw) > 1:
            try:
                return yaml.load(raw, Loader=_Loader)   # escapes: PyYAML decodes them
            except yaml.YAMLError:
                return _Scalars
        return _Scalars
    if first == "'":
        m = _SIMPLE_SQ.match(raw)
        return m.group(1).replace("''", "'") if m else _Scalars
    if first in _PLAIN_START or ": " in raw or " #" in raw or raw[-1] == ":":
        return _Scalars
    hit = scalars.cache.get(raw, _Scalars)
    return scalars.plain(raw) if hit is _Scalars else hit


def _fast_load(text: str, file: str):
    """(root Node, duplicate-key problems) for a file of top-level keys whose values are either a
    list of one-line `key: value` mappings or anything the composer reads on its own; None when the
    file is not of that shape."""
    if _UNUSUAL.search(text) or yaml.resolver.Resolver.yaml_path_resolvers:
        return None
    lines = text.split("\n")
    # top-level keys and the lines they own
    blocks: list[tuple[str, int, int]] = []      # (key, first line index, end line index)
    for i, line in enumerate(lines):
        if not line or line[0] in " #":
            if blocks or _BLANK.match(line):
                continue
            return None
        m = _TOP.match(line)
        if m is None:
            return None
        if blocks:
            blocks[-1] = (blocks[-1][0], blocks[-1][1], i)
        blocks.append((m.group(1), i, len(lines)))
    if not blocks:
        return None
    scalars = _Scalars()
    root: dict[str, Node] = {}
    problems: list[Problem] = []
    for key, start, end in blocks:
        if scalars.plain(key) != key or key in root:
            return None
        node = _fast_sequence(lines, start + 1, end, file, scalars, problems)
        if node is _Scalars:
            # not a list of one-line mappings (e.g. `zones:`): the composer reads this block alone,
            # at its own line numbers
            block = "\n" * start + "\n".join(lines[start:end])
            try:
                parsed = load_composed(block, file)
            except DeclarationError:
                return None
            if parsed is None or not isinstance(parsed.value, dict) or list(parsed.value) != [key]:
                return None
            node = parsed.value[key]
        elif node is None:
            return None
        root[key] = node
    first_key = blocks[0][1]
    return Node(root, file, first_key + 1, 1), problems


def _fast_sequence(lines, start: int, end: int, file: str, scalars: _Scalars, problems: list[Problem]):
    """The block sequence of one-line mappings in lines[start:end] as a Node; `_Scalars` when the
    block is something else (empty, a mapping, flow style...), None when it looks like one but is not
    simple enough."""
    items: list[Node] = []
    keys: dict[str, str] = {}
    dash = None
    current: dict | None = None
    plain: dict | None = None
    seq_line = 0
    for i in range(start, end):
        line = lines[i]
        m = _LINE.match(line)
        if m is None:
            if _BLANK.match(line):
                continue
            return _Scalars if dash is None else None
        indent, item, key, raw = m.groups()
        if dash is None and item is None:
            return _Scalars                 # a mapping, not a list: the composer reads the block
        value = _value(raw, scalars)
        if value is _Scalars:
            return None
        k = keys.get(key)
        if k is None:
            k = keys[key] = str(scalars.plain(key))
        if item is not None:
            if dash is None:
                dash, seq_line = len(indent), i
            elif len(indent) != dash:
                return None
            current = {k: Node(value, file, i + 1, m.start(4) + 1)}
            plain = {k: value}
            items.append(Node(current, file, i + 1, dash + 3, plain))
            continue
        if len(indent) != dash + 2:
            return None
        if k in current:
            problems.append(Problem(Position(file, i + 1, dash + 3), k, "duplicate key"))
            continue
        current[k] = Node(value, file, i + 1, m.start(4) + 1)
        plain[k] = value
    if dash is None:
        return _Scalars
    return Node(items, file, seq_line + 1, dash + 1)

