"""Loading the data files shipped in proxygen/data (UA lists, sensitive paths, good-bot ranges)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from proxygen.errors import ProxygenError

# Characters escaped by Rust's regex::escape; escaping exactly these keeps a pattern valid in both
# Python's re and polars' (Rust) regex engine.
_META = set("\\.+*?()|[]{}^$#&-~")


def escape(text: str) -> str:
    """Escape `text` for a literal match in both Python re and Rust regex."""
    return "".join("\\" + ch if ch in _META else ch for ch in text)


def data_path(name: str) -> Path:
    return Path(str(resources.files("proxygen") / "data" / name))


@lru_cache(maxsize=None)
def load_json(name: str) -> Any:
    """A JSON data file of the package, e.g. `ai_crawlers.json`."""
    return read_json(data_path(name))


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProxygenError(f"{path}: data file not found") from None
    except json.JSONDecodeError as err:
        raise ProxygenError(f"{path}:{err.lineno}:{err.colno}: not valid JSON: {err.msg}") from None
