"""Typed string values of declarations: what each kind of field may contain.

Every string that reaches nginx config has one of these types. They reject
control characters everywhere, and `$` wherever nginx would expand a variable
the author did not mean: only `VarText` and `Regex` may contain `$`. The quote
function in proxygen.compile.quote is the second line of defence (it quotes
whatever passes here); these types give the early, field-named error.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

# Characters nginx (or a log reader, or a terminal) could treat as structure.
_FORBIDDEN_EXTRA = {"\u2028", "\u2029", "\u0085"}
_VAR_NAME = re.compile(r"\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*|[0-9])")


def control_character(value: str) -> str | None:
    """The first control character in `value`, if any (CR, LF, NUL, TAB, DEL, C1, line separators)."""
    for ch in value:
        if ch in _FORBIDDEN_EXTRA or unicodedata.category(ch) == "Cc":
            return ch
    return None


def _no_control(value: str) -> str:
    ch = control_character(value)
    if ch is not None:
        raise ValueError(f"contains a control character (U+{ord(ch):04X}); remove it")
    return value


def _no_dollar(value: str) -> str:
    if "$" in value:
        raise ValueError("'$' is not allowed here (nginx would read it as a variable)")
    return value


def _variables_well_formed(value: str) -> str:
    i = value.find("$")
    while i != -1:
        if not _VAR_NAME.match(value, i):
            raise ValueError(f"'$' at offset {i} does not start a variable name like $host or ${{host}}")
        i = value.find("$", i + 1)
    return value


def variables_in(value: str) -> list[str]:
    """Names of the nginx variables a VarText value references, in order."""
    return [m.group(1).strip("{}") for m in _VAR_NAME.finditer(value)]


def _regex_compiles(value: str) -> str:
    # PCRE's (?<name>...) and (?'name'...) are Python's (?P<name>...)
    python_syntax = re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", value)
    python_syntax = re.sub(r"\(\?'([A-Za-z_]\w*)'", r"(?P<\1>", python_syntax)
    try:
        re.compile(python_syntax)
    except re.error as err:
        raise ValueError(f"not a valid regular expression: {err}") from None
    return value


def _absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must be an absolute path (start with /)")
    if "/../" in value + "/" or value.endswith("/.."):
        raise ValueError("must not contain '..'")
    return value


_SIZE = re.compile(r"^[0-9]+[kKmMgG]?$")
_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|M|y)?)+$")
_RATE = re.compile(r"^[0-9]+r/[sm]$")
_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
_HOSTNAME_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?"
_SERVER_NAME = re.compile(rf"^(\*\.)?({_HOSTNAME_LABEL}\.)*{_HOSTNAME_LABEL}(\.\*)?$|^\.({_HOSTNAME_LABEL}\.)*{_HOSTNAME_LABEL}$")
_HEADER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VARIABLE = re.compile(r"^\$[A-Za-z_][A-Za-z0-9_]*$")


def _matches(pattern: re.Pattern[str], what: str):
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"not a valid {what}: {value!r}")
        return value

    return check


# Free literal text: no control characters, no variables (quoted on output).
Text = Annotated[str, AfterValidator(_no_control), AfterValidator(_no_dollar)]
# Text in which nginx expands $variables (the field's directive supports them).
VarText = Annotated[str, AfterValidator(_no_control), AfterValidator(_variables_well_formed)]
# A PCRE regular expression (checked with Python's re, close enough to catch typos).
Regex = Annotated[str, Field(min_length=1), AfterValidator(_no_control), AfterValidator(_regex_compiles)]
# An absolute filesystem path on the proxy host.
AbsPath = Annotated[str, Field(min_length=1), AfterValidator(_no_control), AfterValidator(_no_dollar),
                    AfterValidator(_absolute_path)]
# Identifiers: zone, upstream, format, certificate, site and host names.
Name = Annotated[str, AfterValidator(_no_control), AfterValidator(_matches(_NAME, "name (letters, digits, . _ -)"))]
Size = Annotated[str, AfterValidator(_matches(_SIZE, "size like 10m, 512K or 20M"))]
Duration = Annotated[str, AfterValidator(_matches(_DURATION, "duration like 90s, 5m or 1h30m"))]
Rate = Annotated[str, AfterValidator(_matches(_RATE, "rate like 15r/m or 10r/s"))]
NginxVersion = Annotated[str, AfterValidator(_matches(_VERSION, "nginx version like 1.25.5"))]
ServerName = Annotated[str, AfterValidator(_no_control),
                       AfterValidator(_matches(_SERVER_NAME, "server name (host, *.host, host.* or .host)"))]
HeaderName = Annotated[str, AfterValidator(_matches(_HEADER, "HTTP header name"))]
Variable = Annotated[str, AfterValidator(_matches(_VARIABLE, "nginx variable like $host"))]


def no_duplicates(items: list) -> list:
    """A list where an entry given twice is a mistake (a site on a host, a server name of a site)."""
    dup = sorted({str(i) for i in items if items.count(i) > 1})
    if dup:
        raise ValueError(f"listed twice: {', '.join(dup)}")
    return items
