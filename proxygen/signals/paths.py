"""Probing signals: a 4xx on a sensitive path (wp-login.php, .env, shells...), or a request line that is
not HTTP at all (answered 400).

The path list is a data file (proxygen/data/sensitive_paths.json) with its sources. A sensitive path
answered 2xx/3xx is not a probe: it is a real page of some site.
"""

from __future__ import annotations

import re
from functools import lru_cache

from proxygen.signals.datafiles import load_json

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PROPFIND", "TRACE"})


@lru_cache(maxsize=None)
def sensitive_regex() -> str:
    """One case-insensitive alternation of every sensitive-path pattern."""
    parts = [f"(?:{e['pattern']})" for e in load_json("sensitive_paths.json")["entries"]]
    return "(?i)(?:" + "|".join(parts) + ")"


@lru_cache(maxsize=None)
def _compiled() -> list[tuple[str, re.Pattern]]:
    return [(e["category"], re.compile(e["pattern"], re.I)) for e in load_json("sensitive_paths.json")["entries"]]


def sensitive_category(path: str | None) -> str | None:
    """The category of a sensitive path (webmail, wordpress, dotfile, shell...), or None."""
    if not path:
        return None
    for category, rx in _compiled():
        if rx.search(path):
            return category
    return None


def is_bad_request(method: str | None, path: str | None, protocol: str | None, status: int | None) -> bool:
    """A 400 to a request line that is not an HTTP request (TLS/RDP bytes, 'HELP', CONNECT to a proxy)."""
    if status != 400:
        return False
    if not method or not path or method not in HTTP_METHODS:
        return True
    return not (protocol or "").startswith("HTTP/")


def is_probe(method: str | None, path: str | None, protocol: str | None, status: int | None) -> bool:
    """The per-request probing signal."""
    if status is None:
        return False
    if 400 <= status < 500 and sensitive_category(path) is not None:
        return True
    return is_bad_request(method, path, protocol, status)


def probe_expression():
    """polars expression of `is_probe` over the parsed columns method, path, protocol, status."""
    import polars as pl

    status = pl.col("status")
    path = pl.col("path").fill_null("")
    method = pl.col("method").fill_null("")
    protocol = pl.col("protocol").fill_null("")
    is_4xx = (status >= 400) & (status < 500)
    bad_line = (status == 400) & (
        (method == "") | (path == "") | ~method.is_in(sorted(HTTP_METHODS)) | ~protocol.str.starts_with("HTTP/")
    )
    # the regex only runs on 4xx paths: the others are blanked first (a regex on "" costs nothing)
    probed = pl.when(is_4xx).then(path).otherwise(pl.lit("")).str.contains(sensitive_regex())
    return ((is_4xx & probed) | bad_line).fill_null(False)
