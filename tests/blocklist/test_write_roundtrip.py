"""Writing blocklists is exact: every value written reads back as the same value, through every
reader a blocklist file meets, and hand-edited files keep their comments and order through edits."""

from __future__ import annotations

import ipaddress
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxygen.blocklist import ops, yamlpos
from proxygen.blocklist.edit import EditError, _scalar, add_to_file, dump_file, plain_ok, rewrite_file
from proxygen.blocklist.entry import EntryValueError, ThrottleZone, make_entry, to_utc_datetime
from proxygen.blocklist.store import load_blocklists, parse_file

ROOT = Path(__file__).resolve().parents[2]

# Strings YAML reads as something else, or that end, start or interrupt a plain scalar.
SPECIAL = [
    "yes", "No", "ON", "off", "y", "n", "true", "False", "~", "null", "Null", "", " ", "0", "-1", "+1", "1e3",
    "1.5", ".5", "1_000", "0x1F", "0o17", "017", "0b101", "12:30:45", "190:20:30.15", ".inf", "-.Inf", ".NaN",
    "2026-11-27", "2026-11-27T10:00:00Z", "2026-11-27 10:00:00.5 +02:00", "<<", "=", "!", "&", "*", "-", "--",
    "---", "...", "- a", "-a", "? a", "?a", ": a", ":a", "a:", "a: b", "a:b", "a #b", "a#b", "#", "'", '"',
    "''", '""', "\\", "\\n", "&anchor", "*alias", "!tag", "!!str", "|", ">", "%YAML 1.1", "@", "`", "[a]",
    "{a: 1}", ",", "a, b", "[", "]", "{", "}", "a ", " a", "\t", "a\tb", "\ta", "\n", "a\nb", "\r\n", "\x85",
    "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff", "\x7f", "\x9f", "\xa0", "a\xa0", "\u3000", "\x00", "\x1b",
    "é", "日本", "🙂", "192.0.2.1", "2001:db8::", "1:2:3:4:5:6:7:8", "::1", "AS64500", "1,200 req/min",
]
special = st.sampled_from(SPECIAL)
# Random text mixed with the special pieces: any Unicode text (lone surrogates aside: see below).
texts = st.one_of(special, st.text(), st.lists(st.one_of(special, st.text(max_size=5)), max_size=6).map("".join))


def _read_all_ways(document: str):
    """The `key` value of a one-entry document, as each reader of blocklist files sees it."""
    fast = yamlpos.load(document, "t.yml").value["entries"].value[0].value["key"].value
    composed = yamlpos.load_composed(document, "t.yml").value["entries"].value[0].value["key"].value
    pure = yaml.safe_load(document)["entries"][0]["key"]
    libyaml = yaml.load(document, Loader=yaml.CSafeLoader)["entries"][0]["key"]
    return fast, composed, pure, libyaml


@settings(max_examples=1500, deadline=None)
@given(texts)
def test_every_string_reads_back_as_written(text):
    document = f"entries:\n  - key: {_scalar(text)}\n    other: x\n"
    assert _read_all_ways(document) == (text, text, text, text)


@pytest.mark.parametrize("text", SPECIAL)
def test_yaml_special_strings_read_back_as_written(text):
    document = f"entries:\n  - key: {_scalar(text)}\n"
    assert _read_all_ways(document) == (text, text, text, text)


def test_plain_only_when_it_is_a_plain_string():
    assert [t for t in ("192.0.2.1", "198.51.100.0/24", "2001:db8:1::/64", "AS64500", "1,200 req/min on /search",
                        "Mozilla/5.0 (compatible; Bytespider)", "it's", "a:b", "é") if not plain_ok(t)] == []
    assert [t for t in ("yes", "~", "1.0e+3", "2026-11-27", "1:2:3:4:5:6:7:8", "a: b", "a #b", "a:", " a", "", "\u2028",
                        "...", "#x", "'x", "2001:db8::") if plain_ok(t)] == []


def test_a_lone_surrogate_is_refused_before_anything_is_written(tmp_path):
    entry = make_entry({"ip": "192.0.2.1", "action": "block", "reason": "bad \udcff bytes"})
    target = tmp_path / "analyzer.yml"
    with pytest.raises(EditError, match="192.0.2.1: reason: .*surrogate"):
        rewrite_file(target, {}, [entry], "")
    assert not target.exists()
    manual = tmp_path / "manual.yml"
    manual.write_text("# mine\nentries: []\n", encoding="utf-8")
    with pytest.raises(EditError, match="surrogate"):
        add_to_file(manual, entry)
    assert manual.read_text(encoding="utf-8") == "# mine\nentries: []\n"


def test_other_values_read_back_as_written():
    for value in (True, False, 0, 403, 2**40):
        document = f"entries:\n  - key: {_scalar(value)}\n"
        assert [(got, type(got)) for got in _read_all_ways(document)] == [(value, type(value))] * 4
    for value in (datetime(2026, 11, 27, tzinfo=timezone.utc), datetime(2026, 11, 27, 13, 5, 9, tzinfo=timezone.utc),
                  datetime(2026, 11, 27, 13, 5, 9, 120, tzinfo=timezone.utc),
                  datetime(2026, 11, 27, 23, 30, tzinfo=timezone(timedelta(hours=-2)))):
        document = f"entries:\n  - key: {_scalar(value)}\n"
        assert [to_utc_datetime(got, "key") for got in _read_all_ways(document)] == [value] * 4


# ----------------------------------------------------------------------------- whole entries

def _network(version: int, address: int, prefix: int) -> str:
    cls = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
    return str(cls((address, prefix), strict=False))


ipv4 = st.integers(0x01000000, 0xDFFFFFFF)
ipv6 = st.integers(0x2000 << 112, (0x3FFF << 112) | ((1 << 112) - 1))
keys = st.one_of(
    ipv4.map(lambda a: ("ip", str(ipaddress.IPv4Address(a)))),
    ipv6.map(lambda a: ("ip", str(ipaddress.IPv6Address(a)))),
    st.tuples(ipv4, st.integers(8, 31)).map(lambda t: ("cidr", _network(4, *t))),
    st.tuples(ipv6, st.integers(16, 127)).map(lambda t: ("cidr", _network(6, *t))),
    st.integers(1, 2**32 - 1).map(lambda n: ("asn", n)),
    texts.map(lambda t: ("user_agent", t)),
)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1),
                       timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30))]))


@st.composite
def entries(draw):
    key_type, key = draw(keys)
    action = draw(st.sampled_from(["block", "throttle", "tarpit"]))
    data = {key_type: key, "action": action, "reason": draw(texts), "source": draw(st.sampled_from(["manual", "analyzer"]))}
    if key_type == "user_agent":
        data["match"] = draw(st.sampled_from(["exact", "contains", "regex"]))
    if action == "block":
        data["status"] = draw(st.sampled_from([403, 444]))
    if action == "throttle":
        data["zone"] = "crawl"
    if draw(st.booleans()):
        data["evidence"] = draw(texts)
    if draw(st.booleans()):
        data["created"] = draw(moments)
        if draw(st.booleans()):
            data["expires"] = data["created"] + draw(st.timedeltas(min_value=timedelta(microseconds=1),
                                                                  max_value=timedelta(days=400)))
    try:
        return make_entry(data)
    except EntryValueError:  # e.g. an empty reason or a control character in a user agent
        return None


ZONES = {"crawl": ThrottleZone(name="crawl", rate="30r/m", burst=10)}


def _unique(items):
    seen, out = set(), []
    for e in items:
        if e is not None and e.identity not in seen:
            seen.add(e.identity)
            out.append(e)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entries(), max_size=12).map(_unique))
def test_written_entries_load_back_equal(items):
    text = dump_file(ZONES, items, "# header\n")
    for reader in (parse_file, lambda t, p: _composed(t, p)):
        got = reader(text, Path("analyzer.yml"))
        assert [e.with_(position=None) for e in got.entries] == items
        assert got.zones == ZONES
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        rewrite_file(d / "analyzer.yml", ZONES, items, "# header\n")   # the --emit write, with its check
        assert load_blocklists(d).entries == items
        assert (d / "analyzer.yml").read_text(encoding="utf-8") == text


def _composed(text: str, path: Path):
    """parse_file's checks on the composer's reading of the text (not the line reader's)."""
    from proxygen.blocklist import store

    real = store.yamlpos.load
    store.yamlpos.load = yamlpos.load_composed
    try:
        return parse_file(text, path)
    finally:
        store.yamlpos.load = real


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entries(), min_size=1, max_size=4).map(_unique))
def test_entries_added_to_a_hand_edited_file_load_back_equal(items):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "manual.yml"
        shutil.copy(ROOT / "blocklists/manual.yml", path)
        for i, entry in enumerate(items):
            add_to_file(path, entry, ZONES["crawl"] if i == 0 else None)
        assert [e.with_(position=None) for e in parse_file(path.read_text(encoding="utf-8"), path).entries] == items


# ----------------------------------------------------------------------------- hand-edited files

NOW = datetime(2026, 11, 27, 12, tzinfo=timezone.utc)
COMMENTED = """\
# Team blocklist: ask on #infra first.
zones:
  crawl: {rate: 30r/m, burst: 5}   # shared

entries:
  # 2026-10 incident
  - ip: 203.0.113.7
    action: block
    reason: scraper   # ticket 123

  - user_agent: Bytespider
    action: block
    status: 444
    reason: |
      AI crawler,
      several thousand requests a minute
  # partner asked to keep this
  - cidr: 198.51.100.0/24
    action: throttle
    zone: crawl
    reason: hosting range
# end of file
"""


def _comment_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def test_the_repository_manual_yml_keeps_its_comments_through_add_and_remove(tmp_path):
    d = tmp_path / "blocklists"
    d.mkdir()
    original = (ROOT / "blocklists/manual.yml").read_text(encoding="utf-8")
    (d / "manual.yml").write_text(original, encoding="utf-8")
    keys = ["192.0.2.1", "198.51.100.0/24", "AS64500", "2001:db8::/48"]
    for key in keys:
        ops.add(d, key=key, action="block", reason=f"yes: {key} # not a comment", now=NOW)
    ops.add(d, user_agent="- on", action="tarpit", reason="no", now=NOW)
    text = (d / "manual.yml").read_text(encoding="utf-8")
    assert _comment_lines(text) == _comment_lines(original)
    assert text.startswith(original.split("entries: []")[0])
    assert [e.rule_id for e in load_blocklists(d).entries] == [*keys[:2], "AS64500", "2001:db8::/48", "ua~contains:- on"]
    assert [e.reason for e in load_blocklists(d).entries][:1] == ["yes: 192.0.2.1 # not a comment"]
    ops.remove(d, key="198.51.100.0/24")
    ops.remove(d, user_agent="- on")
    after = (d / "manual.yml").read_text(encoding="utf-8")
    assert _comment_lines(after) == _comment_lines(original)
    assert [e.rule_id for e in load_blocklists(d).entries] == ["192.0.2.1", "AS64500", "2001:db8::/48"]
    for key in ("192.0.2.1", "AS64500", "2001:db8::/48"):
        ops.remove(d, key=key)
    emptied = (d / "manual.yml").read_text(encoding="utf-8")
    assert _comment_lines(emptied) == _comment_lines(original) and load_blocklists(d).entries == []


# the lines of each original entry in COMMENTED (a comment directly above an entry goes with it)
BLOCKS = {"203.0.113.7": (5, 9), "ua~contains:Bytespider": (10, 16), "198.51.100.0/24": (16, 21)}


def _is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(line == h for h in it) for line in needles)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20)), min_size=1, max_size=8))
def test_random_adds_and_removes_keep_every_other_line_and_the_order(steps):
    original = COMMENTED.splitlines()
    assert original[BLOCKS["203.0.113.7"][0]] == "  # 2026-10 incident"
    assert original[BLOCKS["198.51.100.0/24"][0]] == "  # partner asked to keep this"
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        path = d / "manual.yml"
        path.write_text(COMMENTED, encoding="utf-8")
        order = ["203.0.113.7", "ua~contains:Bytespider", "198.51.100.0/24"]
        removed: set[int] = set()
        for add, n in steps:
            key = f"192.0.2.{n}"
            if add and key not in order:
                ops.add(d, key=key, action="throttle", zone="crawl", reason=f"step {n}: on # {n}", now=NOW)
                order.append(key)
            elif not add and order:
                victim = order[n % len(order)]
                if victim.startswith("ua~"):
                    ops.remove(d, user_agent="Bytespider")
                else:
                    ops.remove(d, key=victim)
                order.remove(victim)
                if victim in BLOCKS:
                    removed.update(range(*BLOCKS[victim]))
            lines = path.read_text(encoding="utf-8").splitlines()
            assert [e.rule_id for e in load_blocklists(d).entries] == order
            kept = [line for i, line in enumerate(original) if i not in removed]
            assert _is_subsequence(kept, lines), "\n".join(lines)
            assert len(lines) >= len(kept)


# ----------------------------------------------------------------------------- partial composing

@st.composite
def hand_edited(draw):
    """A hand-edited file: comments above and after entries, inline comments, block scalars holding
    `#` lines, blank lines, a zones block before or after the entries."""
    dash = draw(st.sampled_from([0, 2, 4]))
    pad, body = " " * dash, " " * (dash + 2)
    out = ["# team blocklist\n"]
    zones = "zones:\n  crawl: {rate: 30r/m, burst: 5}   # shared\n"
    zones_after = draw(st.booleans())
    if not zones_after:
        out.append(zones)
    out.append("entries:" + draw(st.sampled_from(["", "   # the list"])) + "\n")
    n = draw(st.integers(1, 6))
    for i in range(n):
        out.extend(draw(st.lists(st.sampled_from(["\n", f"{pad}# note {i}\n", f"# top {i}\n"]), max_size=2)))
        out.append(f"{pad}- ip: 192.0.2.{i}" + draw(st.sampled_from(["", "  # inline"])) + "\n")
        out.append(f"{body}action: " + draw(st.sampled_from(["block", "throttle\n" + f"{body}zone: crawl"])) + "\n")
        reason = draw(st.sampled_from([
            "plain words", "plain   # with a comment", '"quoted: yes"',
            f"|\n{body}  line one\n{body}  # not a comment\n{body}  last", f">\n{body}  folded\n{body}  text\n",
            f"|\n{body}  ends with\n{body}  # a hash line",
        ]))
        out.append(f"{body}reason: {reason}\n")
    if zones_after:
        out.append(zones)
    out.append(draw(st.sampled_from(["", "# end\n", "\n\n# end\n"])))
    return "".join(out), n


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hand_edited(), st.sets(st.integers(0, 5)))
def test_editing_from_positions_equals_composing_the_whole_file(case, victims):
    from proxygen.blocklist.edit import _drop_lines, _item_end, _lines, insert_entry_text, remove_entries_text

    text, n = case
    parsed = parse_file(text, Path("manual.yml"))
    assert len(parsed.entries) == n
    new = make_entry({"cidr": "198.51.100.0/24", "action": "block", "reason": "yes: #1"})
    lines = _lines(text)
    assert _item_end(lines, parsed.entries[-1].position, len(lines)) is not None   # the partial path applies
    assert insert_entry_text(text, new, None, parsed) == insert_entry_text(text, new)
    ids = {e.identity for i, e in enumerate(parsed.entries) if i in victims}
    assert _drop_lines(lines, parsed.entries, ids) is not None
    removed = remove_entries_text(text, ids, parsed)
    assert removed == remove_entries_text(text, ids)
    assert parse_file(removed, Path("manual.yml")).entries == [e for e in parsed.entries if e.identity not in ids]


def test_removing_the_entry_after_a_block_scalar_keeps_that_scalar_s_hash_lines(tmp_path):
    d = tmp_path / "blocklists"
    d.mkdir()
    text = """\
entries:
  - ip: 192.0.2.1
    action: block
    reason: |
      scraper
      # these two lines belong to the reason
  # and this comment to the next entry
  - ip: 192.0.2.2
    action: block
    reason: next
"""
    (d / "manual.yml").write_text(text, encoding="utf-8")
    ops.remove(d, key="192.0.2.2")
    assert (d / "manual.yml").read_text(encoding="utf-8") == text.split("  # and this")[0]
    assert load_blocklists(d).entries[0].reason == "scraper\n# these two lines belong to the reason"


@pytest.mark.parametrize("name", ["crawl", "on", "null", "yes", "n", "true", "analyzer_30rm_b10"])
def test_zones_named_like_other_yaml_values_read_back(tmp_path, name):
    zones = {name: ThrottleZone(name=name, rate="5r/s", burst=0, nodelay=False, dry_run=True, per="rule")}
    entry = make_entry({"ip": "192.0.2.1", "action": "throttle", "zone": name, "reason": "r"})
    rewrite_file(tmp_path / "analyzer.yml", zones, [entry], "")
    got = load_blocklists(tmp_path)
    assert got.zones == zones and got.entries == [entry]
    manual = tmp_path / "manual" / "manual.yml"
    manual.parent.mkdir()
    add_to_file(manual, entry, zones[name])
    assert parse_file(manual.read_text(encoding="utf-8"), manual).zones == zones
