"""ASN enrichment from a MaxMind-format database (GeoLite2-ASN, DB-IP ASN Lite, IPinfo Lite).

Lookups happen after aggregation, never per line, and at most once per DISTINCT client IP (in practice once
per database network the IPs fall in, see `proxygen.logs.aggregate._asn_of`): a log of ten
million lines typically has a few hundred thousand IPs, and the lookup is the slow part.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from proxygen.errors import UsageError

WHERE_TO_GET_A_DATABASE = (
    "Pass --asn-db FILE (or set asn_db in proxygen.yml) with a "
    "MaxMind-format ASN database: GeoLite2-ASN (free account at maxmind.com), DB-IP ASN Lite "
    "(https://db-ip.com/db/download/ip-to-asn-lite, no account), or IPinfo Lite (https://ipinfo.io/lite)."
)
HOW_TO_GET_A_DATABASE = "ASN grouping is off: no ASN database given. " + WHERE_TO_GET_A_DATABASE


@dataclass(frozen=True)
class AsnInfo:
    asn: int | None
    org: str | None


def _record_to_info(record) -> AsnInfo:
    """Read the ASN from the record shapes of the three common databases."""
    if not isinstance(record, dict):
        return AsnInfo(None, None)
    asn = record.get("autonomous_system_number")
    org = record.get("autonomous_system_organization")
    if asn is None and "asn" in record:  # IPinfo Lite: {"asn": "AS15169", "as_name": ...}
        raw = str(record.get("asn", ""))
        asn = int(raw[2:]) if raw.upper().startswith("AS") and raw[2:].isdigit() else (
            int(raw) if raw.isdigit() else None)
        org = record.get("as_name") or record.get("name")
    return AsnInfo(int(asn) if asn is not None else None, org)


class AsnDb:
    """An open ASN database. Use `AsnDb.open(path)`; `lookup_many` for distinct IPs."""

    def __init__(self, reader, path: str):
        self._reader = reader
        self.path = path
        meta = reader.metadata()
        self.database_type = meta.database_type
        self.build_epoch = meta.build_epoch

    @classmethod
    def open(cls, path: str) -> "AsnDb":
        """Open a .mmdb file; a missing or unreadable file is a `UsageError` naming it."""
        import maxminddb

        if not Path(path).is_file():
            raise UsageError(f"{path}: ASN database not found. {WHERE_TO_GET_A_DATABASE}")
        try:
            reader = maxminddb.open_database(path)
        except (maxminddb.InvalidDatabaseError, ValueError, OSError) as err:
            raise UsageError(f"{path}: not a readable MaxMind (.mmdb) database: {err}") from None
        return cls(reader, path)

    def lookup(self, ip: str) -> AsnInfo:
        """ASN of one address; (None, None) when the address is unknown or not an address."""
        try:
            record = self._reader.get(ip)
        except (ValueError, TypeError):
            return AsnInfo(None, None)
        return _record_to_info(record)

    def lookup_many(self, ips: list[str]) -> tuple[list[int | None], list[str | None]]:
        """ASNs and organisations of many distinct addresses (same order)."""
        get = self._reader.get
        try:
            records = list(map(get, ips))  # the C loop; one bad address sends us to the careful one
        except (ValueError, TypeError):
            def careful(ip):
                try:
                    return get(ip)
                except (ValueError, TypeError):
                    return None

            records = list(map(careful, ips))
        return self._columns(records)

    def lookup_network(self, ip: str) -> tuple[AsnInfo, int | None]:
        """The answer for one address and the prefix length of the database network holding it (None
        when the value is not an address): every address in that network has the same answer."""
        try:
            record, length = self._reader.get_with_prefix_len(ip)
        except (ValueError, TypeError):
            return AsnInfo(None, None), None
        return _record_to_info(record), length

    @staticmethod
    def _columns(records: list) -> tuple[list[int | None], list[str | None]]:
        try:  # GeoLite2-ASN / DB-IP shape
            asns = [r["autonomous_system_number"] if r is not None else None for r in records]
            orgs = [r.get("autonomous_system_organization") if r is not None else None for r in records]
        except (KeyError, TypeError):  # other shapes (IPinfo Lite...)
            infos = [_record_to_info(r) for r in records]
            asns = [i.asn for i in infos]
            orgs = [i.org for i in infos]
        return asns, orgs

    def close(self) -> None:
        self._reader.close()


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
