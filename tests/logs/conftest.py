"""Shared fixtures for proxygen.logs tests: small logs written into tmp_path, and a synthetic ASN database."""

from __future__ import annotations

import pytest

from proxygen.synth import write_asn_mmdb

HERE = __import__("pathlib").Path(__file__).resolve().parent
DATA = HERE / "data"
REAL_10K = str(DATA / "elastic-apache-10k.log.gz")  # copy of /work/shared/data/logs/elastic-apache-10k.log


def main_line(ip="192.0.2.1", when="31/Jan/2025:12:00:00 +0000", request="GET /product/123 HTTP/2.0", status=200,
              size=512, referer="-", ua="Mozilla/5.0 (X11; Linux x86_64)", xff="-", cache="MISS", urt="0.004"):
    """One line in OFF's `main` format."""
    return (f'{ip} - - [{when}] "{request}" {status} {size} "{referer}" "{ua}" "{xff}" {cache} [{urt}]')


def at_minute(minute: int, second: int = 0) -> str:
    """A `$time_local` on 31 Jan 2025 at 12:mm:ss UTC."""
    return f"31/Jan/2025:12:{minute:02d}:{second:02d} +0000"


def write_log(tmp_path, lines, name="a.log") -> str:
    """The lines written as a file in tmp_path; its path."""
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def read_batch_by_batch(monkeypatch, group_rows: int = 1000):
    """Make every LogSource count as large: the aggregation then builds its tables `group_rows` lines at
    a time with merges, and the group tables one after the other (the memory-first ways)."""
    import importlib

    from proxygen.logs import source

    monkeypatch.setattr(source.LogSource, "large", property(lambda self: True))
    monkeypatch.setattr(importlib.import_module("proxygen.logs.aggregate"), "_GROUP_ROWS", group_rows)


@pytest.fixture(scope="session")
def asn_db(tmp_path_factory):
    return str(write_asn_mmdb(tmp_path_factory.mktemp("mmdb") / "asn.mmdb"))
