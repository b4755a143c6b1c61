"""The whole analysis on a labelled synthetic log (proxygen.synth), through the Python API."""

from __future__ import annotations

import ipaddress
import json
from collections import Counter

import pytest

from proxygen.analyze.run import analyze
from proxygen.model.allowlists import Allowlists
from proxygen.report import json_report
from proxygen.synth import generate, write_asn_mmdb


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    log = d / "access.log"
    labels = generate(log, lines=50_000, seed=7)
    db = write_asn_mmdb(d / "asn.mmdb")
    return log, labels, db


@pytest.fixture(scope="module")
def result(synth):
    log, _, db = synth
    return analyze([str(log)], asn_db=db)


def _ips_by_label(synth) -> dict[str, set[str]]:
    log, labels, _ = synth
    out: dict[str, set[str]] = {}
    for line, label in zip(log.read_text().splitlines(), labels.read_text().splitlines()):
        out.setdefault(label, set()).add(line.split(" ", 1)[0])
    return out


def test_summary_counts_the_log(result):
    s = result.summary
    assert (s.lines_read, s.parsed, s.malformed) == (50_000, 50_000, 0)
    assert s.format == "main" and s.first_time < s.last_time and s.requests == 50_000


def test_every_abusive_scenario_gets_a_rule_of_the_expected_kind(result, synth):
    ips = _ips_by_label(synth)
    rules = {(p["key_type"], p["key"]): p for p in result.proposals()}
    ip_rules = {k for t, k in rules if t == "ip"}
    ua_rules = {k for t, k in rules if t == "ua"}
    asn_rules = {k for t, k in rules if t == "asn"}
    assert ips["abuse:scraper"] <= ip_rules
    assert ips["abuse:fake_googlebot"] <= ip_rules
    assert ips["abuse:ignores_limits"] <= ip_rules
    assert ips["abuse:probing"] <= ip_rules
    assert {"GPTBot", "ClaudeBot", "Bytespider"} <= ua_rules
    assert {"python-requests", "Scrapy", "Go-http-client", "curl/", "-"} <= ua_rules
    assert asn_rules == {"136907"}  # the distributed crawl's cloud ASN, and no other network rule


def test_no_rule_touches_legitimate_clients(result, synth):
    ips = _ips_by_label(synth)
    legit = set().union(*(v for k, v in ips.items() if k.startswith("legit:")))
    for p in result.proposals():
        if p["key_type"] == "ip":
            assert p["key"] not in legit, p
        if p["key_type"] == "cidr":
            net = ipaddress.ip_network(p["key"])
            assert not any(ipaddress.ip_address(i) in net for i in legit), p


def test_real_googlebot_and_the_office_are_reported_but_observed(tmp_path):
    # a busy office and a busy real Googlebot: both trip the rate detector, neither may become a rule
    log = tmp_path / "busy.log"
    labels = generate(log, lines=20_000, seed=5, scenarios={"legit:office_nat": 0.5, "legit:googlebot": 0.5})
    [office_ip] = {line.split(" ", 1)[0] for line, label in zip(log.read_text().splitlines(),
                                                                labels.read_text().splitlines())
                   if label == "legit:office_nat"}
    res = analyze([str(log)], asn_db=write_asn_mmdb(tmp_path / "asn.mmdb"))
    assert res.proposals() == []
    by_key = {(f.key_type, f.key): f for f in res.findings}
    googlebot = [f for f in res.findings if f.key_type == "ip" and f.key.startswith("66.249.")]
    assert len(googlebot) == 12
    assert all(f.action == "observe" and f.proposed_action != "observe" and "verified googlebot" in f.allowlisted
               for f in googlebot)
    office = by_key[("ip", office_ip)]
    assert office.action == "observe" and office.allowlisted is None and "shared address" in office.why


def test_findings_carry_evidence(result):
    f = next(f for f in result.findings if f.key_type == "asn")
    assert f.asn == 136907 and f.asn_org == "HUAWEI CLOUDS" and f.ips >= 300
    assert f.requests > 0 and 0 < f.share < 1 and f.first_seen <= f.last_seen
    assert f.detectors[0].detector == "distributed" and f.detectors[0].numbers["expensive_share"] > 0.9
    assert len(f.samples) == 3 and all(s.split(" ", 1)[0].startswith(("124.243.", "159.138.")) for s in f.samples)
    assert f.why.startswith("AS136907 (HUAWEI CLOUDS): ") and f.why.endswith(".")
    ua = next(f for f in result.findings if f.key_type == "ua" and f.key == "GPTBot")
    assert ua.ua_match == "contains" and ua.samples and all("GPTBot" in s for s in ua.samples)


def test_proposals_are_blocklist_proposals(result):
    from proxygen.blocklist.merge import Proposal

    proposals = [Proposal(**p) for p in result.proposals()]
    assert proposals and all(p.action in ("block", "throttle") and p.reason and p.evidence for p in proposals)
    assert {p.ua_match for p in proposals if p.key_type == "ua"} == {"contains", "exact"}  # '-' is exact


def test_ranking_puts_rules_first_then_score(result):
    order = ["block", "throttle", "observe"]
    ranks = [(order.index(f.action), -f.score) for f in result.findings]
    assert ranks == sorted(ranks)


def test_allowlists_turn_findings_into_observations(synth):
    log, _, db = synth
    allow = Allowlists.model_validate({
        "networks": [{"cidr": "88.198.0.0/16", "reason": "partner crawler (test)"},
                     {"cidr": "124.243.140.0/24", "reason": "partner inside the crawling cloud (test)"}],
        "user_agents": [{"pattern": "GPTBot", "reason": "licensed AI partner (test)"}],
    })
    res = analyze([str(log)], asn_db=db, allowlists=allow)
    by_key = {(f.key_type, f.key): f for f in res.findings}
    scraper = [f for f in res.findings if f.key_type == "ip" and f.key.startswith("88.198.")]
    assert scraper and all(f.action == "observe" and f.proposed_action != "observe" for f in scraper)
    assert all("allowlisted network 88.198.0.0/16" in f.allowlisted for f in scraper)
    gpt = by_key[("ua", "GPTBot")]
    assert gpt.action == "observe" and "licensed AI partner" in gpt.allowlisted
    # the ASN announces an allowlisted /24 (no request from it in the log): the ASN rule is refused
    asn = by_key[("asn", "136907")]
    assert asn.action == "observe" and "124.243.140.0/24" in asn.allowlisted
    proposals = res.proposals()
    assert not any(p["key"].startswith("88.198.") or p["key"] in ("GPTBot", "136907") for p in proposals)


def test_json_report_schema(result):
    doc = json.loads(json_report.render(result))
    assert doc["schema"] == "proxygen/crawlers-analyze/v1"
    s = doc["summary"]
    assert {"lines_read", "parsed", "malformed", "time_range", "requests", "ips", "findings", "rules"} <= set(s)
    assert s["time_range"]["first"].endswith("Z") and s["rules"] == len(result.proposals())
    required = {"key_type", "key", "action", "score", "detectors", "requests", "ips", "asn", "first_seen",
                "last_seen", "samples", "why", "share", "asn_org", "allowlisted", "proposed_action"}
    for f in doc["findings"]:
        assert required <= set(f)
        assert f["key_type"] in ("ip", "cidr", "asn", "ua") and f["action"] in ("block", "throttle", "observe")
        assert isinstance(f["score"], int) and 0 <= f["score"] <= 100
        assert all({"name", "action", "numbers", "why"} <= set(d) for d in f["detectors"])
    assert Counter(f["key_type"] for f in doc["findings"])["ua"] >= 8


def test_analysis_of_an_empty_log(tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_text("")
    res = analyze([str(empty)], fmt="main")
    assert res.findings == [] and res.summary.lines_read == 0
    assert json.loads(json_report.render(res))["findings"] == []


def test_malformed_lines_are_counted_and_shown(tmp_path):
    good = (tmp_path / "mixed.log")
    lines = [f'192.0.2.{i} - - [31/Jan/2025:12:{i:02d}:00 +0000] "GET /product/{i} HTTP/1.1" 200 512 "-" '
             f'"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"' for i in range(40)]
    lines[10] = "garbage that is not a log line"
    lines[20] = '192.0.2.1 - - [not a date] "GET / HTTP/1.1" 200 1 "-" "-"'
    good.write_text("\n".join(lines) + "\n")
    res = analyze([str(good)], fmt="combined")
    assert (res.summary.lines_read, res.summary.parsed, res.summary.malformed) == (40, 38, 2)
    doc = json.loads(json_report.render(res))
    assert [s.split(": ", 1)[0].rsplit(":", 1)[1] for s in doc["summary"]["malformed_samples"]] == ["11", "21"]


def test_user_agent_examples_are_the_same_on_every_run(tmp_path):
    """A crawler rotating its user agent sends many with the same count: the examples a finding shows are
    the busiest, ties broken by the text, not by hash-table order."""
    from tests.logs.conftest import at_minute, main_line

    uas = [f"python-requests/2.31 r/{i:03d}" for i in range(300)]
    lines = [main_line(ip=f"198.51.100.{i % 200}", when=at_minute(i % 60), ua=ua) for i, ua in enumerate(uas)]
    lines += [main_line(ip="198.51.100.7", when=at_minute(1), ua=uas[250])] * 2  # the busiest
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n")
    runs = [next(f for f in analyze([str(path)], fmt="main").findings if f.key == "python-requests")
            for _ in range(3)]
    expected = [uas[250], *uas[:4]]
    assert all(f.user_agents == expected for f in runs)
    assert all(f.detectors[0].numbers["examples"] == expected for f in runs)
