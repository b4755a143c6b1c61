"""merge_proposals: idempotent, deduplicated, aggregated, capped, and never touching allowlisted clients."""

from datetime import datetime, timedelta, timezone

from proxygen.blocklist.merge import Proposal, merge_proposals
from proxygen.blocklist.store import load_blocklists
from proxygen.model.allowlists import Allowlists

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=timezone.utc)
ALLOW = Allowlists.model_validate({
    "networks": [{"cidr": "10.0.0.0/8", "reason": "internal"}],
    "user_agents": [{"pattern": "OFF-Smoothie", "reason": "our app"}],
})
MANUAL = """\
# hand-written: must survive untouched
entries:
  - ip: 192.0.2.9   # known scraper
    action: block
    reason: manual ban
"""


def _proposals():
    return [
        Proposal("ip", "203.0.113.7", "block", "300 req/min on /search", evidence="1,234 requests in 4 min"),
        Proposal("cidr", "198.51.100.0/25", "throttle", "distributed crawl", rate="30r/m", burst=10),
        Proposal("cidr", "198.51.100.128/25", "throttle", "distributed crawl (second half)", rate="30r/m", burst=10),
        Proposal("ua", "Bytespider", "block", "AI crawler"),
        Proposal("ip", "10.1.2.3", "block", "looks bad but is internal"),
        Proposal("ua", "Smoothie", "block", "would hit our own app"),
        Proposal("ip", "192.0.2.9", "block", "also proposed by the analyzer"),
        Proposal("asn", "64500", "observe", "just watching"),
    ]


def test_merge_adds_aggregates_refuses_and_is_idempotent(tmp_path):
    d = tmp_path / "blocklists"
    d.mkdir()
    (d / "manual.yml").write_text(MANUAL)
    s = merge_proposals(d, _proposals(), allowlists=ALLOW, now=NOW)
    assert s.written
    assert sorted(e.rule_id for e in s.added) == ["198.51.100.0/25", "198.51.100.128/25", "203.0.113.7",
                                                  "ua~contains:Bytespider"]
    assert s.aggregated == ["198.51.100.0/25 + 198.51.100.128/25 -> 198.51.100.0/24"]
    refused = {p.key: why for p, why in s.refused}
    assert "allowlisted network 10.0.0.0/8" in refused["10.1.2.3"]
    assert "allowlisted user agent 'OFF-Smoothie'" in refused["Smoothie"]
    assert [p.key for p, _ in s.unchanged] == ["192.0.2.9"]
    assert [p.key for p in s.observed] == ["64500"]

    bl = load_blocklists(d)
    analyzer = bl.file("analyzer.yml")
    assert [e.rule_id for e in analyzer.entries] == ["198.51.100.0/24", "203.0.113.7", "ua~contains:Bytespider"]
    assert analyzer.entries[0].zone == "analyzer_30rm_b10" and bl.zones["analyzer_30rm_b10"].rate_milli == 500
    assert all(e.source == "analyzer" and e.expires == datetime(2026, 12, 27, tzinfo=timezone.utc)
               for e in analyzer.entries)
    assert (d / "manual.yml").read_text() == MANUAL

    text = (d / "analyzer.yml").read_text()
    again = merge_proposals(d, _proposals(), allowlists=ALLOW, now=NOW)
    assert not again.written and again.added == [] and again.extended == []
    assert (d / "analyzer.yml").read_text() == text
    assert {p.key for p, _ in again.unchanged} >= {"203.0.113.7", "198.51.100.0/25", "Bytespider"}

    later = merge_proposals(d, _proposals()[:1], allowlists=ALLOW, now=NOW + timedelta(days=3))
    assert [e.rule_id for e in later.extended] == ["203.0.113.7"]
    assert later.extended[0].expires == datetime(2026, 12, 30, tzinfo=timezone.utc)


def test_cap_refuses_beyond_the_limit(tmp_path):
    props = [Proposal("ip", f"203.0.113.{i}", "block", "r") for i in range(1, 11, 2)]
    s = merge_proposals(tmp_path, props, cap=3, now=NOW)
    assert len(s.added) == 3
    assert [why for _, why in s.refused] == ["the cap of 3 analyzer entries is reached"] * 2


def test_invalid_proposal_is_refused_not_written(tmp_path):
    s = merge_proposals(tmp_path, [Proposal("cidr", "0.0.0.0/0", "block", "everything"),
                                   Proposal("ip", "not-an-ip", "block", "r")], now=NOW)
    assert len(s.refused) == 2 and "broader than /8" in s.refused[0][1]
    assert s.added == []


def test_expired_analyzer_entries_are_dropped_on_merge(tmp_path):
    merge_proposals(tmp_path, [Proposal("ip", "203.0.113.7", "block", "r", ttl_days=1)], now=NOW)
    s = merge_proposals(tmp_path, [], now=NOW + timedelta(days=2))
    assert [e.rule_id for e in s.expired] == ["203.0.113.7"]
    assert load_blocklists(tmp_path).entries == []


def test_verified_good_bot_ranges_are_refused(tmp_path):
    s = merge_proposals(tmp_path, [Proposal("cidr", "66.249.64.0/24", "block", "fast"),
                                   Proposal("ua", "Googlebot", "block", "fake googlebots")],
                        good_bots=["66.249.64.0/19"], now=NOW)
    assert "verified good bot" in s.refused[0][1]


def test_throttle_without_rate_uses_the_default_zone(tmp_path):
    s = merge_proposals(tmp_path, [Proposal("ip", "203.0.113.9", "throttle", "fast")], now=NOW)
    assert [e.zone for e in s.added] == ["analyzer_30rm_b10"]
    assert load_blocklists(tmp_path).zones["analyzer_30rm_b10"].burst == 10


def test_analyzer_finding_dicts_construct_proposals(tmp_path):
    # what proxygen.analyze's Finding.to_proposal() returns
    finding = {"key_type": "ua", "key": "Bytespider", "action": "block", "reason": "AI crawler",
               "evidence": "score 0.9; 12,000 requests (4.0%), 300 IPs", "ua_match": "contains"}
    s = merge_proposals(tmp_path, [Proposal(**finding)], now=NOW)
    assert [e.rule_id for e in s.added] == ["ua~contains:Bytespider"]


def test_ipv4_and_ipv6_networks_with_the_same_action_merge_separately(tmp_path):
    d = tmp_path / "blocklists"
    props = [Proposal("cidr", "2001:db8:1::/64", "block", "v6 crawl"),
             Proposal("cidr", "2001:db8:1:0:8000::/65", "block", "v6 crawl, inside the /64"),
             Proposal("ip", "203.0.113.4", "block", "v4 scraper"),
             Proposal("ip", "203.0.113.5", "block", "v4 scraper too"),
             Proposal("cidr", "203.0.113.6/31", "block", "v4 neighbours")]
    s = merge_proposals(d, props, now=NOW)
    assert s.written
    keys = [e.rule_id for e in load_blocklists(d).entries]
    assert keys == ["203.0.113.4/30", "2001:db8:1::/64"]
