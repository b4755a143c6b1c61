"""The blocklist entry model: one rule about one client key, and the throttle zones rules refer to.

An entry says *who* (an IP, a CIDR, an ASN or a user-agent pattern), *what* (block with 403/444,
throttle through a named zone, or tarpit to the stop-crawling page), and *why* (reason, evidence,
source, created, expires): the record the runbook never had.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timezone

KEY_TYPES = ("ip", "cidr", "asn", "user_agent")
ACTIONS = ("block", "throttle", "tarpit")
UA_MATCHES = ("exact", "contains", "regex")
SOURCES = ("manual", "analyzer")
BLOCK_STATUSES = (403, 444)
ZONE_PER = ("client", "rule")

# Broader than this is almost certainly a typo (0.0.0.0/0 blocks the world), so it is refused.
MIN_PREFIX = {4: 8, 6: 16}
_ZONE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_RATE = re.compile(r"^([1-9][0-9]{0,6})r/([sm])$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Stronger actions win when an IP rule and a UA rule both match, and a broader entry of equal or
# stronger action makes a narrower one redundant.
SEVERITY = {"throttle": 1, "tarpit": 2, "block403": 3, "block444": 4}


class EntryValueError(ValueError):
    """A field value is invalid; `field` names it for the file:line:col message."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


def parse_rate(rate: str) -> int:
    """nginx's internal rate in milli-requests per second: `15r/m` -> 250, `2r/s` -> 2000.

    Same integer arithmetic as ngx_http_limit_req_zone (`rate * 1000 / scale`).
    """
    m = _RATE.match(str(rate).strip())
    if not m:
        raise EntryValueError("rate", f"{rate!r} is not a rate like 30r/m or 5r/s")
    n, unit = int(m.group(1)), m.group(2)
    return n * 1000 // (60 if unit == "m" else 1)


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_V4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}(?:/(3[0-2]|[12][0-9]|[89]))?\Z")


def normalize_network(value: str, key_type: str) -> str:
    """A canonical network string; host bits set or a too-broad prefix are errors, not guesses."""
    text = str(value).strip()
    m = _CANONICAL_V4.match(text)
    if m is not None and (m.group(5) is None) == (key_type == "ip"):
        # already canonical IPv4 (most of a large blocklist): only the host bits need checking
        if key_type == "ip":
            return text
        address = (int(m.group(1)) << 24) | (int(m.group(2)) << 16) | (int(m.group(3)) << 8) | int(m.group(4))
        if address & ((1 << (32 - int(m.group(5)))) - 1) == 0:
            return text
    if key_type == "ip" and "/" in text:
        raise EntryValueError("ip", f"{text!r} has a prefix length; use `cidr:` for networks")
    try:
        if key_type == "ip":
            return str(ipaddress.ip_address(text))
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise EntryValueError(key_type, f"{text!r} is not a valid {'IP address' if key_type == 'ip' else 'CIDR'}") from None
    if not _host_bits_clear(text):
        raise EntryValueError("cidr", f"{text!r} has host bits set; did you mean {net}?")
    if net.prefixlen < MIN_PREFIX[net.version]:
        raise EntryValueError(
            "cidr", f"{net} is broader than /{MIN_PREFIX[net.version]}; refusing to block that much of the internet"
        )
    return str(net)


def _host_bits_clear(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=True)
        return True
    except ValueError:
        return False


def normalize_asn(value) -> int:
    text = str(value).strip().upper()
    if text.startswith("AS"):
        text = text[2:]
    if not text.isdigit() or not 0 < int(text) < 2**32:
        raise EntryValueError("asn", f"{value!r} is not an AS number like 12345 or AS12345")
    return int(text)


def check_user_agent(pattern, match: str) -> str:
    if not isinstance(pattern, str) or not pattern.strip():
        raise EntryValueError("user_agent", "must be a non-empty string")
    if _CONTROL.search(pattern):
        raise EntryValueError("user_agent", "must not contain control characters (newline, tab, ...)")
    if len(pattern) > 1000:
        raise EntryValueError("user_agent", "is longer than 1000 characters")
    if match == "regex":
        try:
            compiled = re.compile(pattern)
        except re.error as err:
            raise EntryValueError("user_agent", f"invalid regular expression: {err}") from None
        if compiled.search(""):
            raise EntryValueError("user_agent", f"regex {pattern!r} matches an empty user agent, i.e. everyone")
    return pattern


def to_utc_datetime(value, field_name: str) -> datetime:
    """A YAML date or datetime (or ISO string) as an aware UTC datetime; a date means its 00:00 UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=timezone.utc)
    if isinstance(value, str):
        try:
            return to_utc_datetime(datetime.fromisoformat(value.strip()), field_name)
        except ValueError:
            pass
    raise EntryValueError(field_name, f"{value!r} is not a date like 2026-12-31")


@dataclass(frozen=True)
class ThrottleZone:
    """A limit_req zone that throttle entries point at (`zones:` in a blocklist file).

    `per: client` gives every matching client its own bucket ($binary_remote_addr); `per: rule`
    makes all clients matching one rule share a bucket, the answer to crawls spread over many IPs.
    """

    name: str
    rate: str
    burst: int = 10
    nodelay: bool = True
    dry_run: bool = False
    per: str = "client"
    position: object = field(default=None, compare=False)

    @property
    def rate_milli(self) -> int:
        return parse_rate(self.rate)

    def same_settings(self, other: "ThrottleZone") -> bool:
        return (self.rate_milli, self.burst, self.nodelay, self.dry_run, self.per) == (
            other.rate_milli, other.burst, other.nodelay, other.dry_run, other.per)


def make_zone(name: str, data: dict) -> ThrottleZone:
    """Validate a zone definition; raises EntryValueError naming the bad field."""
    if not isinstance(name, str) or not _ZONE_NAME.match(name):
        raise EntryValueError("name", f"zone name {name!r} must be lowercase letters, digits and _ (max 48)")
    unknown = set(data) - {"rate", "burst", "nodelay", "dry_run", "per"}
    if unknown:
        raise EntryValueError(sorted(unknown)[0], "unknown field (expected rate, burst, nodelay, dry_run, per)")
    if "rate" not in data:
        raise EntryValueError("rate", "is required (e.g. 30r/m)")
    parse_rate(data["rate"])
    burst = data.get("burst", 10)
    if isinstance(burst, bool) or not isinstance(burst, int) or not 0 <= burst <= 100000:
        raise EntryValueError("burst", f"{burst!r} must be an integer from 0 to 100000")
    for flag in ("nodelay", "dry_run"):
        if flag in data and not isinstance(data[flag], bool):
            raise EntryValueError(flag, "must be true or false")
    per = data.get("per", "client")
    if per not in ZONE_PER:
        raise EntryValueError("per", f"{per!r} must be one of {', '.join(ZONE_PER)}")
    return ThrottleZone(name=name, rate=str(data["rate"]).strip(), burst=burst, nodelay=data.get("nodelay", True),
                        dry_run=data.get("dry_run", False), per=per)


@dataclass(frozen=True)
class Entry:
    """One rule. `key` is canonical: an address, a network, an AS number as text, or a UA pattern."""

    key_type: str
    key: str
    action: str
    reason: str
    source: str = "manual"
    status: int | None = None      # block: 403 (default) or 444 (close the connection)
    zone: str | None = None        # throttle: a zone defined under `zones:`
    match: str | None = None       # user_agent: exact | contains (default) | regex
    evidence: str | None = None
    created: datetime | None = None
    expires: datetime | None = None
    position: object = field(default=None, compare=False)

    @property
    def identity(self) -> tuple[str, str, str]:
        """What makes two entries the same rule (files, reasons and dates aside)."""
        if self.key_type == "ip":  # an address is its host network (the key is already canonical)
            return ("cidr", f"{self.key}/{128 if ':' in self.key else 32}", "")
        return (self.key_type, self.key, self.match or "")

    @property
    def rule_id(self) -> str:
        """A short readable id used in reports and rendered comments, e.g. `ua~contains:Bytespider`."""
        if self.key_type == "user_agent":
            return f"ua~{self.match}:{self.key}"
        if self.key_type == "asn":
            return f"AS{self.key}"
        return self.key

    @property
    def code(self) -> str:
        """The value the rendered geo/map gives a matching request."""
        if self.action == "block":
            return f"block{self.status or 403}"
        if self.action == "tarpit":
            return "tarpit"
        return f"t:{self.zone}"

    @property
    def severity(self) -> int:
        return SEVERITY["throttle" if self.action == "throttle" else self.code]

    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.key)

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and self.expires <= now

    def with_(self, **changes) -> "Entry":
        return replace(self, **changes)


ENTRY_FIELDS = ("ip", "cidr", "asn", "user_agent", "match", "action", "status", "zone", "reason", "evidence",
                "source", "created", "expires")


def make_entry(data: dict, default_source: str = "manual", position=None) -> Entry:
    """Validate one entry mapping; raises EntryValueError naming the first bad field."""
    unknown = [k for k in data if k not in ENTRY_FIELDS]
    if unknown:
        raise EntryValueError(unknown[0], f"unknown field (expected one of {', '.join(ENTRY_FIELDS)})")
    keys = [k for k in KEY_TYPES if k in data]
    if len(keys) != 1:
        raise EntryValueError("entry", "needs exactly one of ip, cidr, asn, user_agent"
                              + (f" (got {', '.join(keys)})" if keys else ""))
    key_type = keys[0]
    match = None
    if key_type == "user_agent":
        match = data.get("match", "contains")
        if match not in UA_MATCHES:
            raise EntryValueError("match", f"{match!r} must be one of {', '.join(UA_MATCHES)}")
        key = check_user_agent(data["user_agent"], match)
    elif "match" in data:
        raise EntryValueError("match", "only applies to user_agent entries")
    elif key_type == "asn":
        key = str(normalize_asn(data["asn"]))
    else:
        key = normalize_network(data[key_type], key_type)

    action = data.get("action")
    if action not in ACTIONS:
        raise EntryValueError("action", f"{action!r} must be one of {', '.join(ACTIONS)}")
    status = data.get("status")
    if action == "block":
        status = 403 if status is None else status
        if status not in BLOCK_STATUSES:
            raise EntryValueError("status", f"{status!r} must be 403 or 444")
    elif status is not None:
        raise EntryValueError("status", "only applies to action: block")
    zone = data.get("zone")
    if action == "throttle":
        if not isinstance(zone, str) or not zone:
            raise EntryValueError("zone", "throttle needs a zone (a name defined under `zones:`)")
    elif zone is not None:
        raise EntryValueError("zone", "only applies to action: throttle")

    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise EntryValueError("reason", "is required: say why, for whoever reads this at 3 a.m.")
    evidence = data.get("evidence")
    if evidence is not None and not isinstance(evidence, str):
        raise EntryValueError("evidence", "must be text")
    for text_field, text in (("reason", reason), ("evidence", evidence or "")):
        if "\x00" in text:
            raise EntryValueError(text_field, "must not contain NUL characters")
    source = data.get("source", default_source)
    if source not in SOURCES:
        raise EntryValueError("source", f"{source!r} must be one of {', '.join(SOURCES)}")
    created = to_utc_datetime(data["created"], "created") if data.get("created") is not None else None
    expires = to_utc_datetime(data["expires"], "expires") if data.get("expires") is not None else None
    if created and expires and expires <= created:
        raise EntryValueError("expires", "is not after `created`")
    return Entry(key_type=key_type, key=key, action=action, reason=reason.strip(), source=source, status=status,
                 zone=zone, match=match, evidence=evidence, created=created, expires=expires, position=position)
