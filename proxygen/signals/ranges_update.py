"""Refreshing the published good-bot ranges (`proxygen crawlers update-ranges`).

Each operator's file is fetched from its published URL, validated (the same parser the analyzer uses)
and written atomically; a failed or invalid download leaves the previous file untouched. The analyzer
itself never touches the network for ranges: it reads these files, so it works offline.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from proxygen.atomic import atomic_write
from proxygen.errors import ProxygenError
from proxygen.signals.good_bots import parse_ranges, registry

MAX_BYTES = 5 * 1024 * 1024


@dataclass
class UpdateResult:
    bot: str
    url: str
    ok: bool
    message: str


def _fetch(url: str, timeout: float) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": "proxygen-update-ranges/1 (+https://openfoodfacts.org)"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (URLs come from our data file)
        data = resp.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ProxygenError(f"{url}: larger than {MAX_BYTES} bytes")
    return data


def update_ranges(dest: Path, *, only: list[str] | None = None, timeout: float = 15.0,
                  urls: dict[str, str] | None = None, fetch=_fetch) -> list[UpdateResult]:
    """Download every bot's published ranges into `dest` (one JSON file per bot)."""
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ProxygenError(f"{dest}: cannot create the ranges directory: {err.strerror or err}; "
                            "choose another with --dest (and crawlers.ranges_dir in proxygen.yml)") from None
    results = []
    known = {b.name for b in registry()}
    unknown = sorted(set(only or []) - known)
    if unknown:
        raise ProxygenError(f"unknown bot(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    for bot in registry():
        if only and bot.name not in only:
            continue
        url = (urls or {}).get(bot.name, bot.url)
        if not url or not bot.ranges_file:
            continue
        try:
            raw = fetch(url, timeout)
            doc = json.loads(raw.decode("utf-8"))
            ranges = parse_ranges(doc, url)
            if not ranges.networks:
                raise ProxygenError(f"{url}: no prefixes in the file; keeping the previous one")
        except (OSError, ValueError, ProxygenError) as err:
            results.append(UpdateResult(bot.name, url, False, str(err)))
            continue
        out = {"creationTime": doc.get("creationTime"), "source": url,
               "retrieved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "prefixes": doc["prefixes"]}
        try:
            atomic_write(dest / bot.ranges_file, json.dumps(out, indent=1) + "\n")
        except OSError as err:
            results.append(UpdateResult(bot.name, url, False, f"{dest / bot.ranges_file}: cannot write: "
                                                              f"{err.strerror or err}"))
            continue
        results.append(UpdateResult(bot.name, url, True,
                                    f"{len(ranges.networks)} prefixes, creationTime {doc.get('creationTime')}"))
    return results
