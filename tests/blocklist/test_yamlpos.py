"""Blocklist YAML read line by line gives exactly what PyYAML's composer gives: values, types and
every line:column; files of another shape go through the composer."""

import random

import pytest

from proxygen.blocklist import yamlpos
from proxygen.errors import DeclarationError


def _tree(node):
    """A comparable picture of a Node tree: values, types and positions."""
    if node is None:
        return None
    if isinstance(node.value, dict):
        value = {k: _tree(v) for k, v in node.value.items()}
    elif isinstance(node.value, list):
        value = [_tree(v) for v in node.value]
    else:
        value = (type(node.value).__name__, node.value)
    return (node.line, node.column, value)


def _both(text):
    """(line-by-line result, composer result); each a tree or the error's problems."""
    out = []
    for fn in (yamlpos.load, yamlpos.load_composed):
        try:
            out.append(_tree(fn(text, "f.yml")))
        except DeclarationError as err:
            out.append([str(p) for p in err.problems])
    return out


SCALARS = ["203.0.113.7", "198.51.100.0/24", "2001:db8::/32", "AS64500", "64500", "block", "throttle", "2026-12-31",
           "2026-12-31T10:00:00Z", "1,200 req/min on /cgi/search.pl", "'quoted: with colon'", '"double # hash"',
           "'it''s'", '"esc \\" quote"', '"tab\\there"', "yes", "null", "~", "1_000", "0x1F", "3.5", ".inf",
           "a#b", "a:b", "x - y", "Mozilla/5.0 (compatible; Bytespider)", "é ü 日本"]
KEYS = ["ip", "cidr", "asn", "user_agent", "action", "status", "zone", "reason", "evidence", "created", "expires",
        "y", "on", "match"]


def _document(rng):
    dash = rng.choice([0, 2, 4])
    pad = " " * dash
    lines = []
    if rng.random() < 0.3:
        lines += ["# a comment", ""]
    if rng.random() < 0.5:
        lines += ["zones:", "  crawl: {rate: 30r/m, burst: 20}", "  slow:", "    rate: 1r/s"]
    lines.append("entries:" + rng.choice(["", "  ", "   # the rules"]))
    for _ in range(rng.randrange(1, 8)):
        keys = rng.sample(KEYS, rng.randrange(1, 5))
        if rng.random() < 0.1:
            keys.append(keys[0])                      # duplicate key
        for n, key in enumerate(keys):
            value = rng.choice(SCALARS)
            sep = ":" + " " * rng.choice([1, 1, 1, 3])
            trail = rng.choice(["", "", " "])
            lines.append((pad + "- " if n == 0 else pad + "  ") + key + sep + value + trail)
            if rng.random() < 0.05:
                lines.append(rng.choice(["", "  # note", "    # deeper note"]))
    if rng.random() < 0.3:
        lines += ["zones:", "  again: {rate: 1r/s}"]  # a duplicate top-level key
    return "\n".join(lines) + rng.choice(["\n", "", "\n\n"])


@pytest.mark.parametrize("seed", range(300))
def test_line_by_line_equals_the_composer(seed):
    text = _document(random.Random(seed))
    fast, composed = _both(text)
    assert fast == composed, text


def test_the_analyzer_shape_is_read_line_by_line():
    text = ("zones:\n  crawl: {rate: 30r/m, burst: 20}\nentries:\n  - ip: 203.0.113.7\n    action: block\n"
            "    reason: \"a: b\"\n    created: 2026-11-20\n  - cidr: 198.51.100.0/24\n    action: throttle\n"
            "    zone: crawl\n    reason: range\n")
    root, problems = yamlpos._fast_load(text, "f.yml")
    assert problems == []
    assert _tree(root) == _tree(yamlpos.load_composed(text, "f.yml"))
    entries = root.value["entries"]
    assert entries.position.line == 4 and entries.value[1].position.line == 8
    assert entries.value[0].value["reason"].column == 13


@pytest.mark.parametrize("text", [
    "entries:\n  - ip: 1.2.3.4\n    reason: &a x\n  - ip: 1.2.3.5\n    reason: *a\n",
    "entries:\n  - ip: 1.2.3.4\n    reason: >\n      folded\n",
    "entries:\n  - ip: 1.2.3.4\n    reason: a long\n      value on two lines\n",
    "entries:\n  - ip: 1.2.3.4  # trailing comment\n",
    "---\nentries:\n  - ip: 1.2.3.4\n",
    "entries:\n\t- ip: 1.2.3.4\n",
    "entries:\n  - ip: 1.2.3.4\n   action: block\n",       # bad indentation: a YAML error
    "  - ip: 1.2.3.4\nentries:\n",
    "entries:\r\n  - ip: 1.2.3.4\r\n",
])
def test_other_shapes_go_through_the_composer(text):
    assert yamlpos._fast_load(text, "f.yml") is None
    fast, composed = _both(text)
    assert fast == composed


@pytest.mark.parametrize("text", [
    "entries: []\n",
    "entries:\n  - {ip: 1.2.3.4, action: block}\n",
    "entries:\n  - ip: [1.2.3.4\n",
    "zones:\n  crawl: {rate: 30r/m\nentries:\n  - ip: 1.2.3.4\n",
    "entries:\n  - ip: 1.2.3.4\nzones:\n  - 1\n  - 2\n",
])
def test_blocks_of_another_shape_are_composed_alone_with_their_line_numbers(text):
    fast, composed = _both(text)
    assert fast == composed


def test_the_random_documents_mostly_exercise_the_line_by_line_reader():
    handled = sum(yamlpos._fast_load(_document(random.Random(seed)), "f.yml") is not None for seed in range(300))
    assert handled > 100
