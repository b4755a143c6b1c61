"""Text printed inside a `#` comment goes through the funnel too: one line, no control or formatting
characters, and the re-check proves it stayed inside the comment it was printed in."""

from __future__ import annotations


import pytest

from proxygen.compile.check import CheckError, check_structure
from proxygen.compile.quote import COMMENT_MAX, QuoteError, comment_text
from proxygen.compile.render import Funnel, TemplateBug, _current, environment

from .payloads import CONTROL, STRUCTURAL


@pytest.mark.parametrize("payload", CONTROL + ["a\u202eb", "zero\u200bwidth", "cr\ronly"])
def test_control_and_formatting_characters_are_refused(payload):
    with pytest.raises(QuoteError, match="a comment cannot contain U\\+"):
        comment_text(payload)


@pytest.mark.parametrize("payload", [p for p in STRUCTURAL if p])
def test_nginx_syntax_is_harmless_text_in_a_comment(payload):
    assert comment_text(payload) == payload


def test_non_text_and_overlong_comments_are_refused():
    for bad in (None, True):
        with pytest.raises(QuoteError, match="cannot write"):
            comment_text(bad)
    with pytest.raises(QuoteError, match=f"limited to {COMMENT_MAX}"):
        comment_text("x" * (COMMENT_MAX + 1))


def _render(source: str, **variables):
    """Render template text the way the build does: (real, shadow, funnel)."""
    from proxygen.compile.render import _tidy

    funnel = Funnel(context="test")
    _current.append(funnel)
    try:
        shadow = _tidy(environment().from_string(source).render(**variables))
    finally:
        _current.pop()
    return funnel.real_text(shadow), shadow, funnel


def test_comment_text_reaches_the_file_and_passes_the_recheck():
    real, shadow, funnel = _render("# built {{ d|qc }}; {{ n }} networks\nx {{ v|q }};\n",
                                   d="2026-11-27 } deny all;", n=3, v="__pgq0__")
    assert real == "# built 2026-11-27 } deny all;; 3 networks\nx __pgq0__;\n"
    tree = check_structure("t.conf", real, shadow, funnel)
    assert [(n.name, n.args) for n in tree] == [("x", ["__pgq0__"])]


def test_recheck_catches_comment_text_that_left_its_comment():
    real, shadow, funnel = _render("# db {{ p|qc }}\nx 1;\n", p="asn.mmdb")
    # Text that slipped past validation (simulated here) would start a directive on the next line.
    funnel.comments[0] = "asn.mmdb\ninclude /etc/passwd;"
    with pytest.raises(CheckError, match="expected 1 directives, found 2"):
        check_structure("t.conf", funnel.real_text(shadow), shadow, funnel)
    funnel.comments[0] = "asn.mmdb"
    # The real text no longer says what the funnel recorded.
    with pytest.raises(CheckError, match="a comment changed: '# db asn.mmdb' became '# db other.mmdb'"):
        check_structure("t.conf", real.replace("asn", "other"), shadow, funnel)


def test_comment_filter_outside_a_comment_is_a_template_bug():
    real, shadow, funnel = _render("x {{ p|qc }};\n", p="y")
    with pytest.raises(TemplateBug, match="outside a comment"):
        check_structure("t.conf", real, shadow, funnel)


def test_quoted_value_inside_a_comment_is_still_a_template_bug():
    real, shadow, funnel = _render("# {{ p|q }}\n", p="y")
    with pytest.raises(TemplateBug, match="inside a comment"):
        check_structure("t.conf", real, shadow, funnel)


def test_asn_database_path_with_a_newline_cannot_inject_config(tmp_path):
    """The database path from proxygen.yml is printed in the geo's comment: a newline in it is refused."""
    from proxygen.compile.build import build
    from proxygen.errors import ProxygenError

    from .test_blocklist_build import _asn_repo

    name = "asn\nlisten 1;.mmdb"
    repo = _asn_repo(tmp_path, name, copy_to=name)
    with pytest.raises(ProxygenError, match=r"a comment cannot contain U\+000A"):
        build(repo, "edge")
