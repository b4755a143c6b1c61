"""YAML loading that remembers where every key and value came from.

Declarations are plain YAML read with PyYAML's SafeLoader; while building the
Python data we record the line and column of each mapping key and value, so a
pydantic error at `("locations", 2, "proxy", "upstream")` becomes
`sites/off.yml:41:9: locations[2].proxy.upstream: ...`. Duplicate keys are
errors (YAML silently keeps the last one, which hides mistakes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from proxygen.errors import DeclarationError, Position, Problem

Loc = tuple[Any, ...]


@dataclass
class Document:
    """A loaded YAML file: its data and the position of every key path in it."""

    file: str
    data: Any
    positions: dict[Loc, Position] = field(default_factory=dict)

    def position(self, loc: Loc) -> Position:
        """The position of the longest prefix of `loc` that we know (the file if none)."""
        loc = tuple(loc)
        while loc:
            if loc in self.positions:
                return self.positions[loc]
            loc = loc[:-1]
        return self.positions.get((), Position(self.file, 1, 1))


def _pos(file: str, node: yaml.Node) -> Position:
    return Position(file, node.start_mark.line + 1, node.start_mark.column + 1)


def load_yaml(path: Path, display: str | None = None) -> Document:
    """Load one YAML file; syntax errors and duplicate keys raise DeclarationError."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DeclarationError([Problem(Position(name), "", f"cannot read: {err}")]) from None
    return load_yaml_text(text, name)


def load_yaml_text(text: str, name: str) -> Document:
    doc = Document(name, None)
    # libyaml's loader (when available) composes the same nodes with the same marks, ~5x faster
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        problems: list[Problem] = []
        doc.data = {} if node is None else _build(loader, node, (), doc, problems)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        pos = Position(name, mark.line + 1, mark.column + 1) if mark else Position(name)
        raise DeclarationError([Problem(pos, "", f"invalid YAML: {err.problem or err.context}")]) from None
    except yaml.YAMLError as err:
        raise DeclarationError([Problem(Position(name), "", f"invalid YAML: {err}")]) from None
    finally:
        loader.dispose()
    if problems:
        raise DeclarationError(problems)
    doc.positions.setdefault((), Position(name, 1, 1))
    return doc


def _build(loader, node: yaml.Node, loc: Loc, doc: Document, problems: list[Problem]) -> Any:
    doc.positions.setdefault(loc, _pos(doc.file, node))
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            # keys are names: `off:` is the zone "off", not YAML 1.1's False
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else loader.construct_object(key_node)
            if not isinstance(key, (str, int, float, bool)):
                problems.append(Problem(_pos(doc.file, key_node), format_loc(loc), "mapping keys must be plain scalars"))
                continue
            if key in out:
                problems.append(Problem(_pos(doc.file, key_node), format_loc(loc + (key,)),
                                        "duplicate key (YAML would silently keep only the last one)"))
                continue
            doc.positions[loc + (key,)] = _pos(doc.file, key_node)
            out[key] = _build(loader, value_node, loc + (key,), doc, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, loc + (i,), doc, problems) for i, item in enumerate(node.value)]
    if node.tag == "tag:yaml.org,2002:bool" and node.value.lower() not in ("true", "false"):
        return node.value  # YAML 1.2 semantics: yes/no/on/off are strings
    return loader.construct_object(node, deep=True)


def format_loc(loc: Loc) -> str:
    """`("locations", 2, "proxy")` -> `locations[2].proxy`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def problems_from_validation(err: ValidationError, doc: Document, prefix: Loc = (), model: Any = None) -> list[Problem]:
    """Turn pydantic's errors into positioned problems.

    pydantic tags errors inside a union with the branch (`basic_auth.BasicAuth.realm`,
    `literal[False]`); the tags are dropped, and when one branch reached deeper into what
    the user wrote, the shallower "should be False/None" errors of the other branches go.
    """
    found: list[tuple[Loc, str]] = []
    for e in err.errors(include_url=False):
        loc: Loc = ()
        for part in e["loc"]:
            if _is_internal(part, prefix + loc + (part,), doc):
                continue
            loc += (part,)
        message = e["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        if e["type"] == "extra_forbidden":
            message = "unknown field" + _did_you_mean(loc, model)
        if (loc, message) not in found:
            found.append((loc, message))
    problems = []
    merged: dict[Loc, list[str]] = {}
    for loc, message in found:
        if any(other[:len(loc)] == loc and len(other) > len(loc) for other, _ in found):
            continue  # a more specific error exists inside this field
        merged.setdefault(loc, []).append(message)
    for loc, messages in merged.items():
        problems.append(Problem(doc.position(prefix + loc), format_loc(prefix + loc), _one_message(messages)))
    return problems


def _one_message(messages: list[str]) -> str:
    """Several branches of a union refused the value: say once what would be accepted."""
    messages = [re.sub(r"a valid dictionary or instance of (\w+)", r"a mapping (\1)", m) for m in messages]
    if len(messages) == 1 or not all(m.startswith("Input should be ") for m in messages):
        return "; ".join(messages)
    options = []
    for m in messages:
        option = m[len("Input should be "):].split(", unable")[0]
        if option not in options:
            options.append(option)
    return "Input should be " + ", or ".join(options)


def _is_internal(part: Any, full_loc: Loc, doc: Document) -> bool:
    """pydantic's union-branch tags: 'function-after[...]', 'literal[False]', model class names."""
    if not isinstance(part, str) or full_loc in doc.positions:
        return False
    return "[" in part or part.startswith("function-") or part in ("none", "str", "int", "bool") or (
        part[:1].isupper() and part.isalnum())


def _did_you_mean(loc: Loc, model: Any) -> str:
    import difflib

    names: list[str] = []
    if model is not None:
        names = list(_fields_at(model, loc[:-1]))
    if not names or not loc:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    return f" (did you mean '{close[0]}'?)" if close else f" (known fields: {', '.join(sorted(names))})"


def _fields_at(model: Any, loc: Loc):
    """Field names of the model reached by following `loc` from `model` (best effort)."""
    from pydantic import BaseModel

    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(part)
        if info is None:
            return []
        current = _model_in(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _model_in(annotation: Any) -> Any:
    import typing

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def validate(model: Any, doc: Document, data: Any = None, prefix: Loc = (), context: dict | None = None):
    """Validate `data` (default: the whole document) as `model`; raise DeclarationError with positions."""
    try:
        return model.model_validate(doc.data if data is None else data, context=context)
    except ValidationError as err:
        raise DeclarationError(problems_from_validation(err, doc, prefix, model)) from None
