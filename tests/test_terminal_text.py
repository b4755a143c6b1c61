"""terminal_safe: what a terminal would obey is shown as an escape; everything else is kept as is."""

from __future__ import annotations

import pytest

from proxygen.report.terminal_text import terminal_safe


@pytest.mark.parametrize("text, shown", [
    ("curl\x1b[2J", "curl\\x1B[2J"),                      # clear the screen
    ("a\x1b]0;pwned\x07b", "a\\x1B]0;pwned\\x07b"),         # retitle the window, bell
    ("ok\rFAKE", "ok\\x0DFAKE"),                          # carriage return: overwrite the line
    ("x\x9b31m", "x\\x9B31m"),                             # C1 control sequence introducer
    ("del\x7f", "del\\x7F"),
    ("bot\u202eexe.gpj", "bot\\u202Eexe.gpj"),            # right-to-left override
    ("a\u2066b\u2069", "a\\u2066b\\u2069"),                 # bidi isolates
    ("one\u2028two\x0bthree\x0cfour\x1cfive\x85six", "one\\u2028two\\x0Bthree\\x0Cfour\\x1Cfive\\x85six"),
    ("\x00", "\\x00"),
])
def test_control_characters_are_escaped(text, shown):
    assert terminal_safe(text) == shown


@pytest.mark.parametrize("text", [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "tab\tand\nnewline",
    "/produit/3017620422003-nutella-ferrero é 产品 製品 məhsul ✓ 🍫",
    "[bold]markup stays text[/bold] \\x1B already escaped",
    "",
])
def test_ordinary_text_is_unchanged(text):
    assert terminal_safe(text) == text
