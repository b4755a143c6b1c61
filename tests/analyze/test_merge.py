"""Merging hits into findings: allowlists and good bots are applied before anything becomes a rule."""

from __future__ import annotations

from proxygen.analyze.findings import Hit
from proxygen.analyze.merge import build_findings
from proxygen.model.allowlists import Allowlists
from .tables import context, group, ip, traffic

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def _hit(key_type, key, action="block"):
    return Hit("test", key_type, key, action, 0.8, {"n": 1}, "did something")


def _one(t, hit, allow=None, asn_lookup=None):
    ctx = context(t)
    ctx.asn_lookup = asn_lookup
    [f] = build_findings(ctx, [hit], allow or Allowlists())
    return f


def test_merged_hits_take_the_strongest_action_and_explain_all():
    t = traffic(ips=[ip("203.0.113.1", 1000)])
    ctx = context(t)
    [f] = build_findings(ctx, [Hit("a", "ip", "203.0.113.1", "throttle", 0.6, {}, "first reason"),
                               Hit("b", "ip", "203.0.113.1", "block", 0.9, {}, "second reason")], Allowlists())
    assert f.action == "block" and [h.detector for h in f.detectors] == ["b", "a"]
    assert f.why == "IP 203.0.113.1 (AS64500 Example Net): second reason; first reason."
    assert f.requests == 1000 and f.share == 1.0 and f.to_proposal()["action"] == "block"


def test_network_rules_never_cover_googlebot():
    t = traffic(ips=[ip("66.249.66.1", 100, top_ua=GOOGLEBOT, asn=15169, prefix="66.249.66.0/24"),
                     ip("203.0.113.5", 100, asn=64999, top_ua=GOOGLEBOT)],
                prefixes=[group("prefix", "66.249.66.0/24", 100, 1)],
                asns=[group("asn", 15169, 100, 1), group("asn", 64999, 100, 1)])
    cidr = _one(t, _hit("cidr", "66.249.66.0/24"))
    assert cidr.action == "observe" and "published googlebot ranges" in cidr.allowlisted
    assert _one(t, _hit("asn", "15169")).allowlisted == "AS15169 is where Google's googlebot crawls from"
    # an ASN holding a verified Googlebot address outside AS15169 (e.g. published ranges moved)
    t2 = traffic(ips=[ip("66.249.70.9", 100, top_ua=GOOGLEBOT, asn=64998)], asns=[group("asn", 64998, 100, 1)])
    assert "verified googlebot" in _one(t2, _hit("asn", "64998")).allowlisted
    # but the fake one in another ASN is fair game
    assert _one(t, _hit("ip", "203.0.113.5")).action == "block"


def test_allowlisted_networks_and_user_agents():
    allow = Allowlists.model_validate({
        "networks": [{"cidr": "10.0.0.0/8", "reason": "internal"}],
        "user_agents": [{"pattern": "Smoothie", "reason": "OFF app"},
                        {"pattern": "PartnerBot", "reason": "partner", "networks": ["198.51.100.0/24"]}]})
    t = traffic(ips=[ip("10.1.2.3", 100), ip("192.0.2.7", 100, top_ua="Smoothie/4.18 (Android)"),
                     ip("198.51.100.9", 100, top_ua="PartnerBot/1.0"), ip("203.0.113.9", 100, top_ua="PartnerBot/1.0")],
                prefixes=[group("prefix", "10.1.2.0/24", 100, 1)])
    assert "internal" in _one(t, _hit("ip", "10.1.2.3"), allow).allowlisted
    assert "OFF app" in _one(t, _hit("ip", "192.0.2.7"), allow).allowlisted
    assert "partner" in _one(t, _hit("ip", "198.51.100.9"), allow).allowlisted
    assert _one(t, _hit("ip", "203.0.113.9"), allow).allowlisted is None  # spoofed partner UA elsewhere
    assert "overlaps allowlisted network 10.0.0.0/8" in _one(t, _hit("cidr", "10.1.2.0/24"), allow).allowlisted
    f = _one(t, Hit("user_agent", "ua", "Smoothie", "block", 0.9, {}, "x", ua_match="contains"), allow)
    assert f.action == "observe" and f.to_proposal() is None


def test_asn_rule_refused_when_it_announces_an_allowlisted_network():
    allow = Allowlists.model_validate({"networks": [{"cidr": "192.0.2.0/24", "reason": "monitoring"}]})
    t = traffic(ips=[ip("203.0.113.1", 100, asn=64777)], asns=[group("asn", 64777, 100, 1)])
    lookup = {"192.0.2.0": 64777}.get
    f = _one(t, _hit("asn", "64777"), allow, asn_lookup=lookup)
    assert f.action == "observe" and "announces allowlisted network 192.0.2.0/24" in f.allowlisted
    assert _one(t, _hit("asn", "64777"), allow, asn_lookup={}.get).action == "block"
