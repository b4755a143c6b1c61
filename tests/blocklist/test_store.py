"""Loading blocklists/: validation with file:line:col, zones, expiry."""

from datetime import datetime, timezone

import pytest

from proxygen.blocklist.store import load_blocklists
from proxygen.errors import DeclarationError

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)


def _dir(tmp_path, text, name="manual.yml"):
    d = tmp_path / "blocklists"
    d.mkdir(exist_ok=True)
    (d / name).write_text(text)
    return d


def test_loads_every_key_type_with_positions(tmp_path):
    d = _dir(tmp_path, """\
zones:
  crawl: {rate: 15r/m, burst: 10}
entries:
  - ip: 203.0.113.7
    action: block
    reason: scraper
  - cidr: 198.51.100.0/24
    action: throttle
    zone: crawl
    reason: hosting range
    expires: 2026-12-31
  - asn: AS64500
    action: block
    status: 444
    reason: bulletproof hoster
  - user_agent: Bytespider
    action: tarpit
    reason: AI crawler
""")
    bl = load_blocklists(d)
    assert [e.rule_id for e in bl.entries] == ["203.0.113.7", "198.51.100.0/24", "AS64500", "ua~contains:Bytespider"]
    assert [e.code for e in bl.entries] == ["block403", "t:crawl", "block444", "tarpit"]
    assert bl.entries[1].position.line == 7
    assert bl.zones["crawl"].rate_milli == 250  # 15r/m, as nginx stores it
    assert bl.entries[0].source == "manual"
    assert bl.entries[1].expires == datetime(2026, 12, 31, tzinfo=timezone.utc)
    assert not bl.entries[1].expired(NOW) and bl.entries[1].expired(datetime(2027, 1, 1, tzinfo=timezone.utc))


@pytest.mark.parametrize("entry, where, message", [
    ("  - ip: 203.0.113.0/24\n    action: block\n    reason: r\n", "2:9: entries[0].ip", "use `cidr:`"),
    ("  - cidr: 203.0.113.7/24\n    action: block\n    reason: r\n", "2:11: entries[0].cidr", "did you mean 203.0.113.0/24"),
    ("  - cidr: 0.0.0.0/0\n    action: block\n    reason: r\n", "2:11: entries[0].cidr", "broader than /8"),
    ("  - ip: 1.2.3.4\n    action: ban\n    reason: r\n", "3:13: entries[0].action", "must be one of"),
    ("  - ip: 1.2.3.4\n    action: block\n", "2:5: entries[0].reason", "is required"),
    ("  - ip: 1.2.3.4\n    action: block\n    status: 500\n    reason: r\n", "4:13: entries[0].status", "403 or 444"),
    ("  - ip: 1.2.3.4\n    action: throttle\n    zone: nope\n    reason: r\n", "2:5: zone", "not defined"),
    ("  - user_agent: '.*'\n    match: regex\n    action: block\n    reason: r\n", "2:17: entries[0].user_agent",
     "matches an empty user agent"),
    ("  - user_agent: '(unclosed'\n    match: regex\n    action: block\n    reason: r\n",
     "2:17: entries[0].user_agent", "invalid regular expression"),
    ("  - ip: 1.2.3.4\n    cidr: 1.2.3.0/24\n    action: block\n    reason: r\n", "2:5: entries[0].entry",
     "exactly one of"),
    ("  - ip: 1.2.3.4\n    action: block\n    reason: r\n    colour: red\n", "5:13: entries[0].colour",
     "unknown field"),
    ("  - ip: 1.2.3.4\n    action: block\n    reason: r\n    expires: soon\n", "5:14: entries[0].expires",
     "not a date"),
    ("  - ip: 1.2.3.4\n    action: block\n    reason: r\n  - ip: 1.2.3.4\n    action: block\n    reason: again\n",
     "5:5: entries[1]", "duplicate of the entry at line 2"),
])
def test_errors_name_file_line_field(tmp_path, entry, where, message):
    d = _dir(tmp_path, "entries:\n" + entry)
    with pytest.raises(DeclarationError) as err:
        load_blocklists(d)
    text = str(err.value)
    assert f"manual.yml:{where}:" in text and message in text, text


def test_yaml_syntax_error_has_position(tmp_path):
    d = _dir(tmp_path, "entries:\n  - ip: [1.2.3.4\n")
    with pytest.raises(DeclarationError, match=r"manual\.yml:\d+:\d+: invalid YAML"):
        load_blocklists(d)


def test_zone_defined_differently_in_two_files_is_an_error(tmp_path):
    _dir(tmp_path, "zones:\n  crawl: {rate: 15r/m}\n", "a.yml")
    d = _dir(tmp_path, "zones:\n  crawl: {rate: 30r/m}\n", "b.yml")
    with pytest.raises(DeclarationError, match="defined differently"):
        load_blocklists(d)


def test_analyzer_file_defaults_source_and_loads_last(tmp_path):
    _dir(tmp_path, "entries:\n  - ip: 1.2.3.4\n    action: block\n    reason: r\n", "analyzer.yml")
    d = _dir(tmp_path, "entries:\n  - ip: 1.2.3.5\n    action: block\n    reason: r\n", "manual.yml")
    bl = load_blocklists(d)
    assert [(e.key, e.source) for e in bl.entries] == [("1.2.3.5", "manual"), ("1.2.3.4", "analyzer")]


def test_missing_directory_is_empty(tmp_path):
    assert load_blocklists(tmp_path / "nope").entries == []
