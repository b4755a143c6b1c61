"""PX209's analysis on known-vulnerable and known-safe patterns (no timing: the answer is structural)."""

from __future__ import annotations

import pytest

from proxygen.lint.rules.px209_regex_redos import analyse, keep_branches

VULNERABLE = [
    r"(a+)+$", r"^(\w+\s?)*$", r"(.*a)+", r"(\w|\d)+$", r"(a|aa)*b", r"(ab|a.)+", r"^/(\w+/?)+$",
    r"(a|ab|b)+c", r"((a+)b?)*", r"(x+x+)+y", r"^(([a-z])+.)+[A-Z]([a-z])+$", r"(\d+\.?)+", r"(a{1,5})+b",
    r"^(/.*)+$", r"(?:\d+)*", r"(?<word>[a-z]+-?)+$",
]
SAFE = [
    r"(\w+,)*", r"^/(\w+/)*$", r"(\s+\w+)*", r"(a|b)+", r"(x|xy)+z", r"(foo|bar)*", r"^[a-z]+$", r"(a++)+",
    r"(?>a+)+", r"^/(css/|js/|fonts/)", r"Seekport|Ahrefs|DataForSeo", r"^[45]", r"(abc|abd)*",
    r"^\/(cgi\/search.pl|api\/v[0-9](\.[0-9]+)?\/search)", r"(\s*,\s*\w+)*", r"([^/]+/)*x", r"^(/[^/]*)+$",
    r"(a)\1+", r"^(?:[a-z]{1,40}\.){1,20}[a-z]{2,}$",
]


@pytest.mark.parametrize("regex", VULNERABLE)
def test_vulnerable_patterns_are_reported(regex):
    assert analyse(regex) is not None


@pytest.mark.parametrize("regex", SAFE)
def test_safe_patterns_are_not(regex):
    assert analyse(regex) is None


def test_case_folding_makes_branches_overlap():
    assert analyse(r"(A|a)+$", ignore_case=False) is None
    assert analyse(r"(A|a)+$", ignore_case=True) is not None


def test_dot_does_not_match_newline_unless_dotall():
    assert analyse(r"(\n|.)+$") is None
    assert analyse(r"(?s)(\n|.)+$") is not None


def test_branches_are_kept_as_written():
    assert keep_branches(r"a|[|\]]|b\|c|(x|y)") == r"a|(?=)[|\]]|(?=)b\|c|(?=)(x|(?=)y)"
