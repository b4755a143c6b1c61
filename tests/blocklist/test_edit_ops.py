"""add / remove / prune: hand-edited files keep every comment and their order; errors write nothing."""

from datetime import datetime, timezone

import pytest

from proxygen.blocklist import ops
from proxygen.blocklist.merge import Proposal, merge_proposals
from proxygen.blocklist.store import load_blocklists
from proxygen.errors import ProxygenError, UsageError
from proxygen.model.allowlists import Allowlists

NOW = datetime(2026, 11, 27, 12, tzinfo=timezone.utc)
MANUAL = """\
# Team blocklist. Ask on #infra before adding.
zones:
  crawl: {rate: 30r/m, burst: 5}   # shared with the analyzer

entries:
  # 2026-10 incident: scraper on /search
  - ip: 203.0.113.7
    action: block
    reason: scraper   # ticket 123
    expires: 2026-11-01

  - user_agent: Bytespider
    action: block
    status: 444
    reason: |
      AI crawler ignoring robots.txt,
      several thousand requests a minute
  # keep this one: partner asked
  - cidr: 198.51.100.0/24
    action: throttle
    zone: crawl
    reason: hosting range
# end of file comment
"""


@pytest.fixture
def d(tmp_path):
    d = tmp_path / "blocklists"
    d.mkdir()
    (d / "manual.yml").write_text(MANUAL)
    return d


def test_add_appends_a_block_and_keeps_everything_else(d):
    entry = ops.add(d, key="192.0.2.0/28", action="block", reason='hammering "/api"', now=NOW,
                    expires=ops.parse_expiry("30d", NOW))
    text = (d / "manual.yml").read_text()
    assert text.startswith(MANUAL.split("# end of file comment")[0])
    assert text.endswith("# end of file comment\n") or "# end of file comment" in text
    assert text.count("#") == MANUAL.count("#")
    bl = load_blocklists(d)
    assert [e.rule_id for e in bl.entries][-1] == "192.0.2.0/28"
    assert bl.entries[-1].reason == 'hammering "/api"' and bl.entries[-1].expires == datetime(2026, 12, 27, tzinfo=timezone.utc)
    assert entry.source == "manual"


def test_add_with_new_zone_defines_it_in_place(d):
    ops.add(d, user_agent="python-requests", action="throttle", zone="scripts", rate="10r/m", burst=2,
            reason="scripts", now=NOW)
    text = (d / "manual.yml").read_text()
    assert "  crawl: {rate: 30r/m, burst: 5}   # shared with the analyzer\n  scripts: {rate: 10r/m" in text
    assert load_blocklists(d).zones["scripts"].burst == 2


def test_remove_drops_exactly_the_entry_and_its_leading_comment(d):
    removed = ops.remove(d, key="198.51.100.0/24")
    assert [e.rule_id for e in removed] == ["198.51.100.0/24"]
    text = (d / "manual.yml").read_text()
    assert "partner asked" not in text and "hosting range" not in text
    assert text == MANUAL.replace("""  # keep this one: partner asked
  - cidr: 198.51.100.0/24
    action: throttle
    zone: crawl
    reason: hosting range
""", "")


def test_remove_block_scalar_entry(d):
    ops.remove(d, user_agent="Bytespider")
    text = (d / "manual.yml").read_text()
    assert "several thousand" not in text and "# keep this one: partner asked" in text
    assert [e.rule_id for e in load_blocklists(d).entries] == ["203.0.113.7", "198.51.100.0/24"]


def test_prune_removes_expired_from_manual_and_analyzer(d):
    merge_proposals(d, [Proposal("ip", "192.0.2.200", "block", "r", ttl_days=1)], now=NOW)
    later = datetime(2026, 12, 5, tzinfo=timezone.utc)
    assert sorted(e.rule_id for e in ops.prune(d, now=later, dry_run=True)) == ["192.0.2.200", "203.0.113.7"]
    assert "203.0.113.7" in (d / "manual.yml").read_text()  # dry run wrote nothing
    assert sorted(e.rule_id for e in ops.prune(d, now=later)) == ["192.0.2.200", "203.0.113.7"]
    text = (d / "manual.yml").read_text()
    assert "203.0.113.7" not in text and "# Team blocklist" in text and "# end of file comment" in text
    assert [e.rule_id for e in load_blocklists(d).entries] == ["ua~contains:Bytespider", "198.51.100.0/24"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(key="203.0.113.7", action="block", reason="again"), "already listed at"),
    (dict(key="10.1.2.3", action="block", reason="r"), "allowlisted network 10.0.0.0/8"),
    (dict(key="10.1.2.3/33", action="block", reason="r"), "not a valid CIDR"),
    (dict(key="192.0.2.1", action="throttle", zone="nope", reason="r"), "zone 'nope' is not defined"),
    (dict(key="192.0.2.1", action="throttle", zone="crawl", rate="99r/m", reason="r"), "already exists"),
    (dict(key="192.0.2.1", action="block", reason="r", file="analyzer.yml"), "written by `crawlers analyze"),
    (dict(key="192.0.2.1", action="block", reason="r", file="../escape.yml"), "inside the blocklists"),
    (dict(key="192.0.2.1", action="block", reason=" "), "reason: is required"),
])
def test_bad_adds_are_refused_and_write_nothing(d, kwargs, message):
    allow = Allowlists.model_validate({"networks": [{"cidr": "10.0.0.0/8", "reason": "internal"}]})
    with pytest.raises(UsageError, match=message):
        ops.add(d, allowlists=allow, now=NOW, **kwargs)
    assert (d / "manual.yml").read_text() == MANUAL
    assert sorted(p.name for p in d.iterdir()) == ["manual.yml"]


def test_invalid_file_blocks_edits(d):
    (d / "manual.yml").write_text(MANUAL + "  - ip: nope\n    action: block\n    reason: r\n")
    with pytest.raises(ProxygenError, match=r"manual\.yml:24:9: entries\[3\]\.ip"):
        ops.add(d, key="192.0.2.1", action="block", reason="r", now=NOW)


def test_flow_style_file_is_refused_not_mangled(d):
    text = "entries: [{ip: 192.0.2.1, action: block, reason: r}]\n"
    (d / "manual.yml").write_text(text)
    with pytest.raises(ProxygenError, match="edit the file by hand"):
        ops.add(d, key="192.0.2.2", action="block", reason="r", now=NOW)
    assert (d / "manual.yml").read_text() == text


def test_the_shipped_manual_file_accepts_edits(tmp_path):
    from pathlib import Path

    shipped = (Path(__file__).resolve().parents[2] / "blocklists/manual.yml").read_text()
    d = tmp_path / "blocklists"
    d.mkdir()
    (d / "manual.yml").write_text(shipped)
    assert load_blocklists(d).entries == []
    ops.add(d, key="203.0.113.7", action="block", reason="scraper", now=NOW)
    ops.add(d, key="198.51.100.0/24", action="throttle", zone="crawl", rate="30r/m", reason="range", now=NOW)
    text = (d / "manual.yml").read_text()
    assert text.startswith(shipped.split("entries: []")[0])   # every comment kept, in place
    assert [e.rule_id for e in load_blocklists(d).entries] == ["203.0.113.7", "198.51.100.0/24"]
    ops.remove(d, key="203.0.113.7")
    ops.remove(d, key="198.51.100.0/24")
    assert load_blocklists(d).entries == []


def test_directory_check_runs_before_the_write(tmp_path):
    """A zone defined differently in another file is refused before the target file is touched."""
    from proxygen.blocklist.entry import make_entry, make_zone
    from proxygen.blocklist.store import Blocklist, BlocklistFile
    from proxygen.errors import DeclarationError

    other = BlocklistFile(tmp_path / "other.yml", [], {"slow": make_zone("slow", {"rate": "10r/m"})})
    entry = make_entry({"ip": "203.0.113.9", "action": "throttle", "zone": "slow", "reason": "scraper"})
    target = tmp_path / "manual.yml"
    with pytest.raises(DeclarationError, match="defined differently"):
        ops._check_directory_with(Blocklist([other]), target, entry, make_zone("slow", {"rate": "99r/m"}))
    assert not target.exists()
    ops._check_directory_with(Blocklist([other]), target, entry, None)  # the existing zone: fine
