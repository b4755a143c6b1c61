"""nginx `log_format` strings compiled into line regexes with one named group per `$variable`.

A format is compiled once into an anchored regex (`^...$`) that polars runs over a whole
batch of lines with `str.extract_groups`: that keeps parsing in Rust, at over a million
lines a second, instead of a Python loop. Each variable's sub-pattern depends on what
surrounds it, so the regex stays unambiguous (and cheap for the regex engine):

- between double quotes (`"$http_user_agent"`): anything but an unescaped quote. nginx
  escapes `"` as `\\x22` (escape=default) or `\\"` (escape=json, and Apache), both accepted;
- between brackets (`[$time_local]`): anything but `]`;
- a closing quote that ends the format is optional: real logs hold lines cut inside their
  last quoted field (the user agent), which are still worth counting;
- elsewhere: a pattern known for the variable (`$status` is three digits, comma lists for
  `$upstream_*` and `$http_x_forwarded_for`), else anything up to the next literal character.

The built-in formats are those OFF uses (off-proxy.md section 4) plus nginx's `combined`
and the Apache/nginx `common` format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from proxygen.errors import ProxygenError, UsageError

#: Built-in formats, in the order detection tries them (most specific first).
BUILTIN_FORMATS: dict[str, str] = {
    "main": (
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
        '"$http_user_agent" "$http_x_forwarded_for" $upstream_cache_status [$upstream_response_time]'
    ),
    "combined_upstream": (
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent" c=$upstream_cache_status u=$upstream_addr t=$request_time'
    ),
    "proxied_requests": (
        '$http_x_forwarded_for - $remote_user [$time_local] "$request" $status '
        '$body_bytes_sent "$http_referer" "$http_user_agent" $request_time'
    ),
    "combined": (
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent"'
    ),
    "common": '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent',
}

_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")

# Sub-patterns for variables whose shape is known, used when the variable is not quoted.
_LIST = r"[^ ,]*(?:(?:, | : )[^ ,]*)*"  # "a, b" or "a : b" (nginx joins upstream values so)
_KNOWN_UNQUOTED: dict[str, str] = {
    "status": r"\d{3}",
    "body_bytes_sent": r"\d+|-",
    "bytes_sent": r"\d+|-",
    "request_length": r"\d+|-",
    "msec": r"[\d.]+",
    "time_local": r"\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}",
    "time_iso8601": r"\S+",
    "remote_addr": r"\S+",
    "remote_user": r"\S+",
    "http_x_forwarded_for": _LIST,
    "upstream_response_time": _LIST,
    "upstream_connect_time": _LIST,
    "upstream_header_time": _LIST,
    "upstream_status": _LIST,
    "upstream_addr": _LIST,
}
_QUOTED = r'(?:[^"\\]|\\.)*'
_BRACKETED = r"[^\]]*"


_REQUEST_SPLIT = (r'(?P<method>[A-Z]+) (?P<path>[^ ?"]*)(?:\?(?P<query>[^ "]*))? (?P<protocol>[^ "]*)')


@dataclass(frozen=True)
class LogFormat:
    """A named nginx log_format, compiled.

    `regex` is the general line regex (accepts escaped quotes). `line_regex(...)` builds the
    variants the parser runs: the FAST one assumes no quote inside quoted fields (true for
    nginx's default escaping) and splits `$request` into method/path/query/protocol inline, so
    most lines cost a single regex pass; lines it rejects go through the general one.
    """

    name: str
    format: str
    variables: tuple[str, ...] = field(default=())
    regex: str = ""
    tokens: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # ("lit", text) | (variable, sub-pattern)

    def __str__(self) -> str:
        return f"{self.name}: {self.format}"

    @property
    def client_ip_from_forwarded_for(self) -> bool:
        """Whether the client IP is the last element of X-Forwarded-For (the format has no $remote_addr)."""
        return "remote_addr" not in self.variables and "http_x_forwarded_for" in self.variables

    @property
    def request_split_inline(self) -> bool:
        """Whether the fast regex splits `$request` into method/path/query/protocol itself (quoted `$request`)."""
        return ("request", _QUOTED) in self.tokens

    def line_regex(self, capture: frozenset[str] | None = None, fast: bool = False) -> str:
        """The line regex capturing only `capture` (None = every variable); see the class docstring."""
        return _line_regex(self.tokens, capture, fast)


def _line_regex(tokens, capture, fast: bool) -> str:
    parts = ["^"]
    seen: set[str] = set()
    for kind, text in tokens:
        if kind == "lit":
            parts.append(text)
            continue
        sub = text
        if fast:
            sub = sub.replace(_QUOTED, '[^"]*').replace(r"\S+", "[^ ]+")
            if kind == "request" and text == _QUOTED:
                inner = _REQUEST_SPLIT
                if capture is not None:
                    inner = re.sub(r"\(\?P<(\w+)>", lambda m: m.group(0) if m.group(1) in capture else "(?:", inner)
                sub = inner
        if kind in seen or (capture is not None and kind not in capture):
            parts.append(f"(?:{sub})")
        else:
            seen.add(kind)
            parts.append(f"(?P<{kind}>{sub})")
    parts.append("$")
    return "".join(parts)


def compile_format(format_string: str, name: str = "custom") -> LogFormat:
    """Compile a log_format string into a `LogFormat` whose regex has one named group per variable.

    Raises `UsageError` when the string has no variable.
    """
    pieces = []  # alternating literal, variable, literal, ...
    pos = 0
    for match in _VARIABLE.finditer(format_string):
        pieces.append(format_string[pos:match.start()])
        pieces.append(match.group(1) or match.group(2))
        pos = match.end()
    pieces.append(format_string[pos:])
    variables = pieces[1::2]
    if not variables:
        raise UsageError(f"log format {name!r} has no $variable: {format_string!r}")
    if {"method", "path", "query", "protocol"} & set(variables):
        raise UsageError(f"log format {name!r}: $method/$path/$query/$protocol clash with the columns made from "
                         "$request; rename them in the log_format")
    tokens: list[tuple[str, str]] = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            if i == len(pieces) - 1 and piece == '"' and i > 0:
                # a line cut inside its last quoted field (seen in real logs) still parses
                tokens.append(("lit", '"?'))
            elif piece:
                tokens.append(("lit", re.escape(piece)))
            continue
        before, after = pieces[i - 1], pieces[i + 1]
        if before.endswith('"') and after.startswith('"'):
            sub = _QUOTED
        elif before.endswith("[") and after.startswith("]"):
            sub = _BRACKETED
        elif piece in _KNOWN_UNQUOTED:
            sub = _KNOWN_UNQUOTED[piece]
        elif after:
            sub = f"[^{re.escape(after[0])}]*"
        elif i + 1 == len(pieces) - 1:  # last variable, nothing after it
            sub = r"\S*"
        else:  # followed directly by another variable: shortest match
            sub = r"\S*?"
        tokens.append((piece, sub))
    return LogFormat(name=name, format=format_string, variables=tuple(dict.fromkeys(variables)),
                     regex=_line_regex(tokens, None, False), tokens=tuple(tokens))


def formats_in_nginx_conf(path: str) -> dict[str, str]:
    """Every `log_format NAME [escape=...] 'string'...` in an nginx config file (with crossplane).

    The file does not need to be a complete nginx.conf: a snippet holding only log_format
    directives (as OFF's log_format.conf is) works too.
    """
    import crossplane

    if not Path(path).is_file():
        raise UsageError(f"{path}: nginx config file not found")
    payload = crossplane.parse(path, catch_errors=True, check_ctx=False, check_args=False, comments=False)
    found: dict[str, str] = {}
    errors = []

    def walk(block):
        for directive in block:
            if directive["directive"] == "log_format" and directive.get("args"):
                args = list(directive["args"])
                fmt_name = args.pop(0)
                if args and args[0].startswith("escape="):
                    args.pop(0)
                found.setdefault(fmt_name, "".join(args))
            walk(directive.get("block") or [])

    for config in payload.get("config", []):
        for err in config.get("errors", []):
            where = err.get("file") or config.get("file") or path
            where += f":{err['line']}" if err.get("line") else ""
            # crossplane reports some syntax errors (a directive cut by the end of the file) with no text
            errors.append(f"{where}: {err.get('error') or 'not nginx config syntax'}")
        walk(config.get("parsed") or [])
    if not found and errors:
        raise ProxygenError(f"{path}: could not read log formats:\n" + "\n".join(errors))
    return found


TIME_VARIABLES = ("time_local", "time_iso8601", "msec")


def _with_time(fmt: LogFormat) -> LogFormat:
    if not any(v in fmt.variables for v in TIME_VARIABLES):
        raise UsageError(f"log format {fmt.name!r} has no time variable ($time_local, $time_iso8601 or $msec): "
                         f"requests cannot be placed in time: {fmt.format!r}")
    return fmt


def resolve_format(fmt: str, *, formats: dict[str, str] | None = None,
                   nginx_conf: str | None = None) -> LogFormat:
    """Turn a --format value into a `LogFormat` (see `_resolve`); it must contain a time variable."""
    return _with_time(_resolve(fmt, formats=formats, nginx_conf=nginx_conf))


def _resolve(fmt: str, *, formats: dict[str, str] | None = None, nginx_conf: str | None = None) -> LogFormat:
    """Turn a --format value into a `LogFormat`.

    `fmt` is looked up, in order, in `formats` (proxygen.yml log_formats), the log_format
    directives of `nginx_conf`, and the built-in names; a value containing `$` is a raw
    log_format string. Anything else is a `UsageError` listing the names known.
    """
    if formats and fmt in formats:
        return compile_format(formats[fmt], fmt)
    conf_formats = formats_in_nginx_conf(nginx_conf) if nginx_conf else {}
    if fmt in conf_formats:
        return compile_format(conf_formats[fmt], fmt)
    if fmt in BUILTIN_FORMATS:
        return compile_format(BUILTIN_FORMATS[fmt], fmt)
    if "$" in fmt:
        return compile_format(fmt, "custom")
    known = sorted({*BUILTIN_FORMATS, *(formats or {}), *conf_formats})
    where = f" (nor in {nginx_conf})" if nginx_conf else ""
    raise UsageError(f"unknown log format {fmt!r}{where}; known: {', '.join(known)}; "
                     "or pass a log_format string containing $variables")


def candidate_formats(formats: dict[str, str] | None = None,
                      nginx_conf: str | None = None) -> list[LogFormat]:
    """The formats detection tries: proxygen.yml's, the nginx config's, then the built-ins (those with a time)."""
    out: dict[str, LogFormat] = {}
    for name, string in (formats or {}).items():
        out.setdefault(name, compile_format(string, name))
    if nginx_conf:
        for name, string in formats_in_nginx_conf(nginx_conf).items():
            out.setdefault(name, compile_format(string, name))
    for name, string in BUILTIN_FORMATS.items():
        out.setdefault(name, compile_format(string, name))
    return [f for f in out.values() if any(v in f.variables for v in TIME_VARIABLES)]
