"""Every payload of the injection corpus in every string field of a site that uses every field.

Each (field, payload) must either be refused with an error naming sites/full.yml, a line and the
field, or be built so that the output, parsed by crossplane's own parser, has exactly the structure
of a build with a harmless value in that field (a value never changes the structure), with the
payload arriving as an argument.
"""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from proxygen.compile.build import build
from proxygen.compile.quote import unquote_token
from proxygen.errors import ProxygenError
from proxygen.model import load_repository
from proxygen.model.yamlpos import format_loc

from .conftest import FULL_SITE, write_repo
from .payloads import ALL, CONTROL

# dict keys that are user values too (names of upstreams, header names)
_KEYED = {"upstreams", "proxy_headers"}


def string_fields(node, loc=()):
    """Every (loc, is_key) of a string in the site, keys of name-keyed mappings included."""
    if isinstance(node, dict):
        for key, value in node.items():
            if loc and loc[-1] in _KEYED:
                yield loc + (key,), True
            yield from string_fields(value, loc + (key,))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from string_fields(item, loc + (i,))
    elif isinstance(node, str):
        yield loc, False


FIELDS = list(string_fields(FULL_SITE))


def with_value(site, loc, value, is_key):
    site = copy.deepcopy(site)
    parent = site
    for part in loc[:-1]:
        parent = parent[part]
    if is_key:
        parent[value] = parent.pop(loc[-1])
    else:
        parent[loc[-1]] = value
    return site


_SHAPES: dict[str, tuple] = {}


def crossplane_shape(files: dict[str, str], tmp_path):
    """Structure (names, argument counts, nesting) and all arguments, as crossplane's parser sees them."""
    shape, args = [], []
    for rel in sorted(files):
        if files[rel] not in _SHAPES:  # a file identical to one already parsed has the same shape
            _SHAPES[files[rel]] = _file_shape(rel, files[rel], tmp_path)
        file_shape, file_args = _SHAPES[files[rel]]
        shape += file_shape
        args += file_args
    return shape, args


def _file_shape(rel: str, text: str, tmp_path):
    import crossplane

    shape, args = [], []

    def walk(block, depth, data=False):
        for d in block:
            # in map/geo bodies the first word is a value (the source), not a directive name
            name = "<entry>" if data else d["directive"]
            shape.append((depth, name, len(d["args"]), "block" in d))
            args.extend([d["directive"], *d["args"]] if data else d["args"])
            if "block" in d:
                walk(d["block"], depth + 1, d["directive"] in ("map", "geo", "types"))

    path = tmp_path / "parse" / rel.replace("/", "_")
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    parsed = crossplane.parse(str(path), single=True, strict=False, check_ctx=False, check_args=False,
                              comments=False)
    assert parsed["status"] == "ok", parsed["errors"]
    walk(parsed["config"][0]["parsed"], 0)
    return shape, args


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("baseline")
    write_repo(tmp)
    files = build(load_repository(tmp), "edge").hosts["edge"].files
    return files


def _build_or_error(tmp_path, site):
    write_repo(tmp_path, sites={"full": site})
    try:
        return build(load_repository(tmp_path), "edge").hosts["edge"].files, None
    except ProxygenError as err:
        return None, str(err)


# YAML itself folds some characters (U+0085 is a YAML line break): test what a YAML file can carry.
YAML_PAYLOADS = [p for p in ALL if yaml.safe_load(yaml.safe_dump({"v": p}, allow_unicode=True))["v"] == p]


def test_corpus_survives_yaml():
    assert len(YAML_PAYLOADS) >= len(ALL) - 1
    assert "x\r\nX-Injected: 1" in YAML_PAYLOADS and "#comment; deny all" in YAML_PAYLOADS


@pytest.mark.parametrize("payload", YAML_PAYLOADS, ids=[repr(p)[:30] for p in YAML_PAYLOADS])
def test_payload_in_every_string_field(payload, tmp_path, baseline):
    base_shape, _ = crossplane_shape(baseline, tmp_path)
    accepted = refused = 0
    for loc, is_key in FIELDS:
        files, error = _build_or_error(tmp_path, with_value(FULL_SITE, loc, payload, is_key))
        field = format_loc(loc)
        if error is not None:
            refused += 1
            assert "sites/full.yml" in error, (field, error)
            assert re.search(r"sites/full\.yml:\d+:\d+: ", error) or "sites/full.yml: " in error, (field, error)
            assert "Traceback" not in error
            continue
        assert payload not in CONTROL, f"{field}: control characters must never be accepted"
        accepted += 1
        shape, args = crossplane_shape(files, tmp_path)
        assert shape == base_shape, f"{field}={payload!r} changed the structure"
        emitted = [unquote_token(a, False) for a in args]
        if payload and not any(k in loc for k in ("description", "why")):
            assert any(payload in a for a in emitted) or any(payload in a for a in args), (field, payload)
    assert accepted + refused == len(FIELDS)
    if payload in CONTROL:
        assert accepted == 0
    elif payload and "$" not in payload:
        assert accepted >= 10  # the structural comparison really ran on text fields


def test_every_field_is_exercised():
    # the walk sees the strings of every part of the model used by FULL_SITE
    fields = {format_loc(loc) for loc, _ in FIELDS}
    for expected in ("server_names[1]", "tls.certificate", "locations[0].path", "locations[1].proxy.url",
                     "maps[0].entries[1].regex", "rules[0].equals", "directives[0].args[1]",
                     "locations[4].basic_auth.realm", "logs.access.if", "upstreams.pool"):
        assert expected in fields
    assert len(FIELDS) > 60
