"""The one funnel through which every user value becomes nginx config text.

`quote()` turns a value into exactly one nginx argument, or refuses it:

- control characters (CR, LF, NUL, TAB, DEL, C1, U+2028/2029) are errors: nginx would
  accept a CR/LF inside quotes and replay it at runtime (header injection);
- a value is left bare only if it is made of characters that cannot start a comment,
  end a directive, open or close a block, start a quoted string or an escape;
- anything else is double-quoted with `\\` and `"` escaped, so a leading `#`, a trailing
  backslash, `;`, `{`, `}`, quotes, spaces and the sequences nginx decodes in strings
  (`\\n`, `\\r`, `\\t`) all arrive as the literal text;
- `$` is accepted only when the caller says the field expands variables (or is a regex).

`comment_text()` is the funnel for text printed inside a `#` comment (e.g. the ASN database's
build date): nginx ends a comment only at a newline, so the text must be one line with no control
or invisible formatting characters (a bidi override would make the file read differently than
nginx reads it).

Templates never call these directly: they use the `q`, `qv`, `qr` and `qc` filters of
proxygen.compile.render, which also record each value for the structural re-check.
"""

from __future__ import annotations

import re
import unicodedata

from proxygen.errors import ProxygenError
from proxygen.model.values import control_character

# Characters that may appear in a bare (unquoted) nginx argument without changing how it is read.
_BARE = re.compile(r"^[A-Za-z0-9_./:,=+@%~*^!?&|()\[\]<>-]+$")
_BARE_WITH_VARS = re.compile(r"^(?:[A-Za-z0-9_./:,=+@%~*^!?&|()\[\]<>-]|\$(?=[A-Za-z_0-9]))+$")
_VARIABLE = re.compile(r"\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*|[0-9])")


class QuoteError(ProxygenError):
    """A value cannot be written into nginx config safely."""


class Quoted(str):
    """Text that went through the funnel: the only text a template may print.

    A plain `str` subclass: any operation on it (`+`, `~`, `replace`, `upper`, `join`...) gives
    back a plain `str` or a markupsafe Markup, which the environment refuses to print. `__html__`
    only tells Jinja's autoescape (on solely to tell values apart) to leave the text alone.
    """

    __slots__ = ()

    def __html__(self) -> str:
        return self


def quote(value: object, *, variables: bool = False, regex: bool = False) -> str:
    """Return `value` as one nginx argument; raise QuoteError if that is impossible."""
    if isinstance(value, bool) or value is None:
        raise QuoteError(f"cannot write {value!r} as an nginx argument")
    text = str(value)
    ch = control_character(text)
    if ch is not None:
        raise QuoteError(f"{text!r}: contains a control character (U+{ord(ch):04X})")
    if "$" in text and not regex:
        if not variables:
            raise QuoteError(f"{text!r}: '$' is not allowed here (nginx would read a variable)")
        i = text.find("$")
        while i != -1:
            if not _VARIABLE.match(text, i):
                raise QuoteError(f"{text!r}: '$' at offset {i} does not start a variable name")
            i = text.find("$", i + 1)
    if text and (_BARE_WITH_VARS if (variables or regex) else _BARE).match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


COMMENT_MAX = 200


def comment_text(value: object) -> str:
    """Return `value` as text that stays inside one `#` comment line; raise QuoteError otherwise."""
    if isinstance(value, bool) or value is None:
        raise QuoteError(f"cannot write {value!r} in a comment")
    text = str(value)
    ch = control_character(text)
    if ch is None:
        # Format (Cf: bidi overrides, zero-width), separator (Zl, Zp) and surrogate characters.
        ch = next((c for c in text if unicodedata.category(c) in ("Cf", "Zl", "Zp", "Cs")), None)
    if ch is not None:
        raise QuoteError(f"{text!r}: a comment cannot contain U+{ord(ch):04X} (a control or formatting character)")
    if len(text) > COMMENT_MAX:
        raise QuoteError(f"{text[:40]!r}...: a comment is limited to {COMMENT_MAX} characters")
    return text


def unquote_token(token: str, quoted: bool) -> str:
    """What nginx makes of a token as crossplane's lexer returns it (ngx_conf_read_token's unescaping).

    crossplane already turned `\\"` into `"` inside a double-quoted string and keeps other escapes;
    nginx then turns `\\\\` into `\\`, `\\'`/`\\"` into the quote, and `\\t`, `\\r`, `\\n` into the
    control characters. Comparing this with the intended value catches every quoting slip.
    """
    if "\\" not in token:
        return token
    out = []
    i = 0
    while i < len(token):
        c = token[i]
        if c == "\\" and i + 1 < len(token):
            n = token[i + 1]
            if n in "\"'\\":
                out.append(n)
                i += 2
                continue
            if n in "trn":
                out.append({"t": "\t", "r": "\r", "n": "\n"}[n])
                i += 2
                continue
        out.append(c)
        i += 1
    return "".join(out)
