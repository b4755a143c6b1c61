"""render_data: what the build emits, and that BlocklistRules reads it the way nginx would."""

import ipaddress
from datetime import datetime, timezone
from pathlib import Path

import maxminddb
import pytest

from proxygen.blocklist.render import render_data
from proxygen.blocklist.store import load_blocklists
from proxygen.errors import ProxygenError
from proxygen.model.allowlists import Allowlists
from proxygen.simulate.rules import BlocklistRules

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)
ASN_DB = Path(__file__).resolve().parents[2] / "tests/blocklist/fixtures/GeoLite2-ASN-Test.mmdb"


def _load(tmp_path, text):
    d = tmp_path / "blocklists"
    d.mkdir(exist_ok=True)
    (d / "manual.yml").write_text(text)
    return load_blocklists(d)


def test_adjacent_networks_aggregate_and_expired_entries_are_not_emitted(tmp_path):
    bl = _load(tmp_path, """\
entries:
  - cidr: 203.0.113.0/25
    action: block
    reason: a
  - cidr: 203.0.113.128/25
    action: block
    reason: b
  - ip: 198.51.100.1
    action: block
    reason: old
    expires: 2026-11-01
""")
    data = render_data(bl, None, NOW)
    assert [(g.network, g.value, g.rules) for g in data.geo] == [
        ("203.0.113.0/24", "block403", ("203.0.113.0/25", "203.0.113.128/25"))]
    assert any("198.51.100.1: expired" in s for s in data.skipped)
    # before it expired, it was emitted
    assert "198.51.100.1/32" in [g.network for g in render_data(bl, None, datetime(2026, 10, 1, tzinfo=timezone.utc)).geo]


def test_precedence_most_specific_wins_but_never_weakens_a_broader_block(tmp_path):
    bl = _load(tmp_path, """\
zones:
  slow: {rate: 30r/m}
entries:
  - cidr: 10.0.0.0/8
    action: throttle
    zone: slow
    reason: wide throttle
  - cidr: 10.1.0.0/16
    action: block
    reason: worse part
  - cidr: 10.1.2.0/24
    action: throttle
    zone: slow
    reason: would escape the block
  - ip: 10.2.0.1
    action: block
    status: 444
    reason: worst
""")
    data = render_data(bl, None, NOW)
    assert [(g.network, g.value) for g in data.geo] == [
        ("10.0.0.0/8", "t:slow"), ("10.1.0.0/16", "block403"), ("10.2.0.1/32", "block444")]
    rules = BlocklistRules(data)
    assert rules.decide("10.1.2.3", "x").action == "block403"
    assert rules.decide("10.9.9.9", "x").throttles == (("slow", "10.9.9.9", "10.0.0.0/8"),)


def test_allowlisted_network_inside_a_rule_is_carved_out_and_rule_inside_allowlist_dropped(tmp_path):
    bl = _load(tmp_path, """\
entries:
  - cidr: 192.0.2.0/24
    action: block
    reason: range
  - ip: 10.20.30.40
    action: block
    reason: inside our own network
""")
    allow = Allowlists.model_validate({"networks": [{"cidr": "192.0.2.64/26", "reason": "partner"},
                                                    {"cidr": "10.0.0.0/8", "reason": "internal"}]})
    data = render_data(bl, None, NOW, allowlists=allow)
    rules = BlocklistRules(data)
    assert rules.decide("192.0.2.1", "x").action == "block403"
    assert rules.decide("192.0.2.70", "x").action == "allow"
    assert rules.decide("10.20.30.40", "x").action == "allow"
    assert any("10.20.30.40" in s and "allowlisted" in s for s in data.skipped)


def test_user_agents_exact_in_hash_regexes_ordered_by_severity(tmp_path):
    bl = _load(tmp_path, """\
entries:
  - user_agent: python-requests/2.31.0
    match: exact
    action: block
    reason: exact
  - user_agent: ~weird exact
    match: exact
    action: block
    reason: leading tilde must not become a regex
  - user_agent: Scrapy
    action: tarpit
    reason: tarpit
  - user_agent: (?i)scrapy/2
    match: regex
    action: block
    status: 444
    reason: worse
  - user_agent: OFF-Smoothie-fake
    match: exact
    action: block
    reason: collides with an allowlisted app
""")
    allow = Allowlists.model_validate({"user_agents": [{"pattern": "OFF-Smoothie", "reason": "our app"}]})
    data = render_data(bl, None, NOW, allowlists=allow)
    assert [u.pattern for u in data.ua_exact] == ["python-requests/2.31.0"]
    assert [u.value for u in data.ua_regex] == ["allow", "block444", "block403", "tarpit"]
    rules = BlocklistRules(data)
    assert rules.decide("1.1.1.1", "PYTHON-REQUESTS/2.31.0").action == "block403"   # nginx hash: any case
    assert rules.decide("1.1.1.1", "Scrapy/2.11").action == "block444"               # more severe regex first
    assert rules.decide("1.1.1.1", "Scrapy/1.0").action == "tarpit"
    assert rules.decide("1.1.1.1", "~weird exact").action == "block403"
    assert rules.decide("1.1.1.1", "OFF-Smoothie-fake").action == "allow"
    assert any("OFF-Smoothie-fake" in s for s in data.skipped)


def test_map_hash_sizes_fit_long_user_agents(tmp_path):
    long_ua = "A" * 900
    bl = _load(tmp_path, f"entries:\n  - user_agent: {long_ua}\n    match: exact\n    action: block\n    reason: r\n")
    data = render_data(bl, None, NOW)
    assert data.map_hash_bucket_size >= 900 + 16 and data.map_hash_bucket_size & (data.map_hash_bucket_size - 1) == 0


def test_asn_expands_to_its_aggregated_networks_with_build_date(tmp_path):
    bl = _load(tmp_path, "entries:\n  - asn: AS7132\n    action: block\n    reason: hoster\n")
    with maxminddb.open_database(str(ASN_DB)) as db:
        expected = {n for n, rec in db if rec.get("autonomous_system_number") == 7132}
        data = render_data(bl, db, NOW)
    nets = [ipaddress.ip_network(g.network) for g in data.geo]
    assert nets and all(g.rules == ("AS7132",) for g in data.geo)
    assert set(ipaddress.collapse_addresses(expected)) == set(nets)
    assert data.asn_database.build_date == "2026-02-04"


def test_asn_without_database_is_a_clear_error(tmp_path):
    bl = _load(tmp_path, "entries:\n  - asn: 7132\n    action: block\n    reason: hoster\n")
    with pytest.raises(ProxygenError, match="ASN entries need the ASN database"):
        render_data(bl, None, NOW)
