"""Helpers of the PX2xx rules: what a regex capture can hold, and the generated tree with includes spliced."""

from __future__ import annotations

import pytest

from proxygen.lint.rules._security import capture_names, group_matches_newline, parse_tree, walk_places


@pytest.mark.parametrize("regex, group, newline", [
    (r"^/(.*)$", "1", True),            # '.' matches \r (not \n)
    (r"^/([^\r\n]*)$", "1", False),
    (r"(?s)^/(.*)$", "1", True),
    (r"^/([^/]+)$", "1", True),         # a negated class matches \n
    (r"^/(?<x>\s+)", "x", True),
    (r"^/(?'x'[\w-]+)", "x", False),
    (r"^/(\w+)/(\d+)", "2", False),
    (r"^/(a)", "3", False),             # no such group: it sets nothing
    (r"^/(?:x)(%0A|\n)", "1", True),
])
def test_group_matches_newline(regex, group, newline):
    assert group_matches_newline(regex, group) is newline


def test_capture_names_number_and_pcre_names():
    assert capture_names(r"^/(?<a>x)(?'b'y)(z)") == {"1", "2", "3", "a", "b"}


def test_includes_are_spliced_where_they_are_written_and_keep_their_file():
    top = parse_tree("http { server { include snippets/s.conf; location / { } } }",
                     others={"snippets/s.conf": "if ($x) { return 403; }", "orphan.conf": "server { }"})
    places = list(walk_places(top))
    assert [(p.describe(), p.rel) for p in places] == [
        ("http", "nginx.conf"), ("server", "nginx.conf"), ("if ($x)", "snippets/s.conf"),
        ("return 403", "snippets/s.conf"), ("location /", "nginx.conf"), ("server", "orphan.conf")]
    assert places[3].server() is not None and places[3].location() is None
