"""Forward-confirmed reverse DNS for good-bot claims (--verify-dns).

The PTR name must end in one of the operator's suffixes AND resolve back to the same address: a PTR
alone is chosen by whoever owns the address. Lookups run in a small thread pool with a deadline, and
answers are cached in a JSON file so a second run during the same incident costs nothing.
"""

from __future__ import annotations

import json
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

CACHE_TTL = 24 * 3600


def default_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "proxygen" / "rdns.json"


def _lookup(ip: str) -> tuple[str | None, list[str]]:
    try:
        name = socket.gethostbyaddr(ip)[0].rstrip(".").lower()
    except (OSError, UnicodeError):
        return None, []
    try:
        forward = sorted({info[4][0] for info in socket.getaddrinfo(name, None)})
    except (OSError, UnicodeError):
        forward = []
    return name, forward


class DnsVerifier:
    def __init__(self, timeout: float = 2.0, cache_path: Path | None = None, resolver=_lookup):
        self.timeout = timeout
        self.cache_path = cache_path or default_cache_path()
        self.resolver = resolver
        self.cache: dict[str, dict] = {}
        try:
            self.cache = json.loads(self.cache_path.read_text())
        except (OSError, ValueError):
            self.cache = {}

    def resolve_many(self, ips: list[str]) -> dict[str, tuple[str | None, list[str]]]:
        """PTR name and forward addresses of each IP; IPs not answered before the deadline are left out."""
        now = time.time()
        out = {}
        todo = []
        for ip in ips:
            hit = self.cache.get(ip)
            if hit and now - hit.get("at", 0) < CACHE_TTL:
                out[ip] = (hit.get("name"), hit.get("forward", []))
            else:
                todo.append(ip)
        if todo:
            pool = ThreadPoolExecutor(max_workers=min(16, len(todo)))
            futures = {pool.submit(self.resolver, ip): ip for ip in todo}
            done, _ = wait(futures, timeout=self.timeout)
            pool.shutdown(wait=False, cancel_futures=True)
            for fut in done:
                ip = futures[fut]
                name, forward = fut.result()
                out[ip] = (name, forward)
                if name is not None:  # a failed lookup may be a network outage: ask again next run
                    self.cache[ip] = {"name": name, "forward": forward, "at": now}
            self._save()
        return out

    def confirms(self, ip: str, suffixes: tuple[str, ...], answer: tuple[str | None, list[str]] | None) -> str | None:
        """The confirmed host name when the PTR ends in a suffix and resolves back to `ip`."""
        if not answer or not suffixes:
            return None
        name, forward = answer
        if not name or ip not in forward:
            return None
        if any(name == s or name.endswith("." + s) for s in suffixes):
            return name
        return None

    def _save(self) -> None:
        from proxygen.atomic import atomic_write

        try:
            atomic_write(self.cache_path, json.dumps(self.cache))
        except OSError:
            pass  # a cache that cannot be written only costs time
