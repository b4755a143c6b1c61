"""Each detector: a must-flag and a must-not-flag case, on hand-built aggregation tables."""

from __future__ import annotations

from proxygen.analyze.detectors import (DETECTORS, distributed, fake_bot, ignores_limits, probing, rate,
                                        user_agent)
from .tables import BROWSER, context, group, ip, traffic, ua

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def keys(hits):
    return {(h.key_type, h.key, h.action) for h in hits}


def test_registry_is_explicit_and_complete():
    assert [d.NAME for d in DETECTORS] == ["rate", "distributed", "user_agent", "fake_bot", "probing",
                                           "ignores_limits"]
    for det in DETECTORS:
        assert det.SUMMARY and det.__doc__ and callable(det.detect)


# --- rate -------------------------------------------------------------------------------------------

def test_rate_flags_a_scraper_on_search():
    t = traffic(ips=[ip("203.0.113.7", 3000, rc_search=3000, sustained_rpm=50, peak_rpm=80),
                     ip("198.51.100.1", 20000, rc_product=20000, sustained_rpm=400, peak_rpm=500)])
    assert keys(rate.detect(context(t))) == {("ip", "203.0.113.7", "block"), ("ip", "198.51.100.1", "block")}


def test_rate_throttles_between_the_two_thresholds():
    t = traffic(ips=[ip("203.0.113.8", 3000, rc_product=3000, sustained_rpm=100, peak_rpm=150)])
    assert keys(rate.detect(context(t))) == {("ip", "203.0.113.8", "throttle")}


def test_rate_throttles_a_short_burst():
    t = traffic(ips=[ip("203.0.113.9", 900, rc_facets=900, sustained_rpm=9, peak_rpm=90)])  # 900 weighted/min
    [hit] = rate.detect(context(t))
    assert (hit.action, hit.key) == ("throttle", "203.0.113.9") and "burst" in hit.why


def test_rate_ignores_static_heavy_and_slow_clients():
    t = traffic(ips=[ip("192.0.2.10", 6000, rc_static=6000, sustained_rpm=100, peak_rpm=200),   # 10 weighted/min
                     ip("192.0.2.11", 500, rc_product=500, sustained_rpm=8, peak_rpm=20)])
    assert rate.detect(context(t)) == []


def test_rate_only_observes_a_shared_address():
    t = traffic(ips=[ip("192.0.2.20", 12000, rc_static=4000, rc_product=6000, rc_search=2000, n_uas=40,
                        sustained_rpm=200, peak_rpm=300)])
    [hit] = rate.detect(context(t))
    assert hit.action == "observe" and "shared address" in hit.why


# --- distributed ------------------------------------------------------------------------------------

def _asn_crawl(n_ips=300, per_ip=40, asn=64501, per_prefix=30, **kw):
    ips = [ip(f"100.64.{i // per_prefix}.{i % per_prefix}", per_ip, asn=asn, asn_org="Crawl Cloud", rc_facets=per_ip,
              top_ua="python-requests/2.31", **kw) for i in range(n_ips)]
    prefixes = {}
    for r in ips:
        p = prefixes.setdefault(r["prefix"], group("prefix", r["prefix"], 0, 0, rc_facets=0, n_uas=1))
        p["requests"] += per_ip; p["s2xx"] += per_ip; p["rc_facets"] += per_ip; p["ips"] += 1
    asn_row = group("asn", asn, n_ips * per_ip, n_ips, rc_facets=n_ips * per_ip, n_uas=1, asn_org="Crawl Cloud")
    return ips, list(prefixes.values()), [asn_row]


def test_distributed_flags_an_asn_crawling_facets_under_per_ip_limits():
    ips, prefixes, asns = _asn_crawl()
    legit = [ip(f"192.0.2.{i}", 200, rc_static=100, rc_product=100) for i in range(1, 40)]
    t = traffic(ips=ips + legit, prefixes=prefixes, asns=asns)
    hits = distributed.detect(context(t))
    assert keys(hits) == {("asn", "64501", "block")}  # spread over 10 /24s: the ASN is the rule
    assert hits[0].numbers["ips"] == 300


def test_distributed_prefers_the_prefix_when_it_holds_the_crawl():
    ips, prefixes, asns = _asn_crawl(n_ips=200, per_prefix=250)
    t = traffic(ips=ips, prefixes=prefixes, asns=asns)
    assert keys(distributed.detect(context(t))) == {("cidr", "100.64.0.0/24", "block")}


def test_distributed_without_asn_database_flags_each_crawled_prefix():
    ips, prefixes, _ = _asn_crawl(n_ips=300, per_prefix=30)  # 10 /24s, each 0.9% of all traffic
    legit = [ip(f"192.0.{i // 200}.{i % 200}", 120, rc_static=40, rc_product=80) for i in range(1000)]
    for r in ips + legit:
        r["asn"] = r["asn_org"] = None
    t = traffic(ips=ips + legit, prefixes=prefixes)
    hits = distributed.detect(context(t))
    assert {h.key_type for h in hits} == {"cidr"} and len(hits) == 10


def test_distributed_flags_deep_pagination_even_on_routes_not_classed_expensive():
    asn = group("asn", 64520, 9000, 300, rc_api=9000, flag_crawl_pattern=8000, n_uas=1)
    t = traffic(ips=[ip("192.0.2.1", 100000, rc_static=50000)], asns=[asn])
    [hit] = distributed.detect(context(t))
    assert hit.key == "64520" and "deep pagination" in hit.why and hit.numbers["expensive_share"] == 0


def test_distributed_ignores_many_app_users_and_browsers_in_one_asn():
    app = [ip(f"100.70.{i // 250}.{i % 250}", 20, asn=64502, top_ua="Smoothie/4.18 (Android)", rc_product=20)
           for i in range(1000)]
    asn_app = group("asn", 64502, 20000, 1000, rc_product=20000, n_uas=3)
    browsers = group("asn", 64503, 50000, 800, rc_static=30000, rc_product=15000, rc_search=5000, n_uas=300)
    t = traffic(ips=app, asns=[asn_app, browsers])
    assert distributed.detect(context(t)) == []


# --- user_agent -------------------------------------------------------------------------------------

def test_user_agent_flags_ai_crawlers_and_libraries_grouped_by_token():
    t = traffic(ips=[ip("192.0.2.1", 10)], uas=[
        ua("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; +https://openai.com/gptbot)", 300, 5),
        ua("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", 200, 5),
        ua("python-requests/2.31.0", 5000, 2),
        ua("-", 900, 50)])
    hits = user_agent.detect(context(t))
    assert keys(hits) == {("ua", "GPTBot", "block"), ("ua", "python-requests", "throttle"), ("ua", "-", "block")}
    gpt = next(h for h in hits if h.key == "GPTBot")
    assert gpt.numbers["requests"] == 500 and gpt.ua_match == "contains"
    assert next(h for h in hits if h.key == "-").ua_match == "exact"


def test_user_agent_says_nothing_when_the_format_has_no_user_agent():
    t = traffic(ips=[ip("192.0.2.1", 10)], uas=[ua(None, 50000, 900)])
    assert user_agent.detect(context(t)) == []


def test_user_agent_ignores_browsers_apps_and_observes_rare_bad_uas():
    t = traffic(ips=[ip("192.0.2.1", 10)], uas=[ua(BROWSER, 10000, 500), ua("Smoothie/4.18 (Android)", 8000, 900),
                                               ua(GOOGLEBOT, 3000, 20), ua("curl/8.5.0", 3)])
    assert keys(user_agent.detect(context(t))) == {("ua", "curl/", "observe")}


# --- fake_bot ---------------------------------------------------------------------------------------

def test_fake_bot_flags_googlebot_outside_google_ranges():
    t = traffic(ips=[ip("203.0.113.50", 400, top_ua=GOOGLEBOT, flag_claims_bot=400, asn=64510, asn_org="VPS Co")])
    [hit] = fake_bot.detect(context(t))
    assert (hit.key, hit.action, hit.numbers["claimed"]) == ("203.0.113.50", "block", "googlebot")
    assert "outside Google's published ranges" in hit.why


def test_fake_bot_accepts_googlebot_in_google_ranges_or_asn_and_unverifiable_bots():
    t = traffic(ips=[ip("66.249.66.1", 400, top_ua=GOOGLEBOT, flag_claims_bot=400, asn=15169),
                     ip("192.0.2.60", 50, top_ua=GOOGLEBOT, flag_claims_bot=50, asn=15169),  # Google's own ASN
                     ip("192.0.2.61", 50, top_ua="Mozilla/5.0 (compatible; PerplexityBot/1.0)", flag_claims_bot=50),
                     ip("192.0.2.62", 50, top_ua=BROWSER)])
    assert fake_bot.detect(context(t)) == []


class _FakeDns:
    """Stands in for network DNS: the test machine has no resolver to ask."""

    def __init__(self, answers):
        self.answers = answers

    def resolve_many(self, ips):
        return {i: self.answers[i] for i in ips if i in self.answers}

    def confirms(self, ip, suffixes, answer):
        from proxygen.signals.dns import DnsVerifier

        return DnsVerifier.confirms(self, ip, suffixes, answer)


def test_fake_bot_with_dns_confirms_a_bot_missing_from_the_lists_but_not_a_spoofed_ptr():
    t = traffic(ips=[ip("192.0.2.70", 40, top_ua=GOOGLEBOT, flag_claims_bot=40),
                     ip("192.0.2.71", 40, top_ua=GOOGLEBOT, flag_claims_bot=40)])
    dns = _FakeDns({"192.0.2.70": ("crawl-192-0-2-70.googlebot.com", ["192.0.2.70"]),
                    "192.0.2.71": ("crawl-1.googlebot.com", ["198.51.100.1"])})  # PTR set by the address owner
    assert keys(fake_bot.detect(context(t, dns=dns))) == {("ip", "192.0.2.71", "block")}


def test_fake_bot_without_a_dns_answer_keeps_the_benefit_of_the_doubt():
    # next to Google's published ranges (same /16); DNS unreachable (no answer) -> observe, not block
    t = traffic(ips=[ip("66.249.100.7", 40, top_ua=GOOGLEBOT, flag_claims_bot=40, asn=None, asn_org=None,
                        prefix="66.249.100.0/24"),
                     ip("66.249.100.8", 40, top_ua=GOOGLEBOT, flag_claims_bot=40, asn=None, asn_org=None,
                        prefix="66.249.100.0/24")])
    dns = _FakeDns({"66.249.100.8": ("vps-8.example.net", ["66.249.100.8"])})  # answered: not Google
    assert keys(fake_bot.detect(context(t, dns=dns))) == {("ip", "66.249.100.7", "observe"),
                                                          ("ip", "66.249.100.8", "block")}


# --- probing ----------------------------------------------------------------------------------------

def test_probing_flags_sensitive_path_bursts_and_random_url_scans():
    t = traffic(ips=[ip("203.0.113.90", 40, s4xx=38, flag_probe=35, distinct_paths=40),
                     ip("203.0.113.91", 300, s4xx=290, flag_not_found=290, distinct_paths=290)])
    assert keys(probing.detect(context(t))) == {("ip", "203.0.113.90", "block"), ("ip", "203.0.113.91", "throttle")}


def test_probing_ignores_a_few_404s_and_apps_with_unknown_barcodes():
    t = traffic(ips=[ip("192.0.2.90", 500, s4xx=20, flag_not_found=20, flag_probe=1, distinct_paths=300),
                     ip("192.0.2.91", 60, s4xx=25, flag_not_found=25, distinct_paths=25),
                     ip("192.0.2.92", 800, s4xx=790, distinct_paths=700)])  # refused with 403/429, not 404s
    assert probing.detect(context(t)) == []


# --- ignores_limits ---------------------------------------------------------------------------------

def test_ignores_limits_flags_a_client_hammering_through_429s():
    t = traffic(ips=[ip("203.0.113.120", 2000, limited=1800, after_limited=1950)])
    assert keys(ignores_limits.detect(context(t))) == {("ip", "203.0.113.120", "block")}


def test_ignores_limits_spares_clients_that_back_off():
    t = traffic(ips=[ip("192.0.2.120", 2000, limited=15, after_limited=10),
                     ip("192.0.2.121", 5000, limited=100, after_limited=4000)])  # 2% limited: a busy NAT
    assert ignores_limits.detect(context(t)) == []
