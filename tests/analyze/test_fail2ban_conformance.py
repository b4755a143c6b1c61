"""Conformance with fail2ban's own labelled filter tests (fixtures/fail2ban, copied from fail2ban).

Each labelled line says whether fail2ban's filter must match it. Our per-request signals must agree:
- apache-badbots: the bad user-agent signal;
- nginx-botsearch, apache-botsearch, nginx-bad-request: the probing signal;
- apache-fakegooglebot: the good-bot *claim* signal. fail2ban's filter matches every line claiming
  Googlebot and leaves verification to its ignorecommand (reverse DNS); our fake-bot signal adds that
  verification from Google's published ranges, so for 66.249.66.1 (Google's range) it disagrees on purpose.
The one deliberate disagreement on probing is checked explicitly below (and listed in the README).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from proxygen.signals import good_bots, paths, user_agents

FIXTURES = Path(__file__).parent / "fixtures" / "fail2ban"

ACCESS_RE = re.compile(
    r'^(?:\S+ )?(?P<ip>[0-9a-fA-F.:]+) \S+ \S+ (?:- )?\[[^\]]*\] (?:\S+ )?"(?P<req>(?:[^"\\]|\\.)*)" '
    r'(?P<status>\d{3}) \S+(?: "(?P<ref>[^"]*)" "(?P<ua>[^"]*)")?')
NGINX_ERROR_RE = re.compile(
    r'\[error\] .*(?:failed \(2: No such file or directory\)|is not found \(2: No such file or directory\)), '
    r'client: (?P<ip>[0-9a-fA-F.:]+), .*request: "(?P<req>[^"]*)"')
APACHE_ERROR_RE = re.compile(
    r"\[client (?P<ip>[0-9a-fA-F.:]+)\] (?:(?P<nf>File does not exist: |script '?|script not found or unable to "
    r"stat: )|(?P<denied>client denied by server configuration: ))(?P<file>/var/www[^\s',]*)")

# (file, line ip) pairs where our signal disagrees with fail2ban's label on purpose.
DELIBERATE = {
    # A 403 on /webmail/.htaccess is a probe of a sensitive path; fail2ban's apache-botsearch only looks at
    # "not found" messages, so its test says no-match.
    ("apache-botsearch", "122.49.201.178"),
}


def _split_request(req: str):
    parts = req.split(" ")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return parts[0], parts[1], None
    return None, None, None


def labelled(name: str) -> list[dict]:
    """Parsed labelled lines of one fixture file: ip, method, path, protocol, status, user_agent, match."""
    out, label = [], None
    for raw in (FIXTURES / name).read_text(encoding="utf-8", errors="replace").splitlines():
        if raw.startswith("# failJSON:"):
            label = json.loads(raw.split(":", 1)[1])
            continue
        if not raw.strip() or raw.startswith("#") or label is None:
            continue
        rec = None
        if m := ACCESS_RE.match(raw):
            method, path, protocol = _split_request(m["req"])
            rec = dict(ip=m["ip"], method=method, path=path, protocol=protocol, status=int(m["status"]),
                       user_agent=m["ua"])
        elif m := NGINX_ERROR_RE.search(raw):
            method, path, protocol = _split_request(m["req"])
            rec = dict(ip=m["ip"], method=method, path=path, protocol=protocol, status=404, user_agent=None)
        elif m := APACHE_ERROR_RE.search(raw):
            rec = dict(ip=m["ip"], method="GET", path=m["file"][len("/var/www"):], protocol="HTTP/1.1",
                       status=403 if m["denied"] else 404, user_agent=None)
        assert rec is not None, f"{name}: fixture line not understood: {raw}"
        assert rec["ip"] == label["host"], f"{name}: parsed {rec['ip']} but the label says {label['host']}"
        rec.update(match=bool(label["match"]), file=name)
        out.append(rec)
        label = None
    return out


def _disagreements(records, signal):
    return [(r["file"], r["ip"], r["path"], r["user_agent"], r["match"]) for r in records
            if signal(r) != r["match"] and (r["file"], r["ip"]) not in DELIBERATE]


def test_fixtures_are_all_read():
    counts = {name: len(labelled(name)) for name in
              ("apache-badbots", "apache-fakegooglebot", "nginx-botsearch", "apache-botsearch", "nginx-bad-request")}
    assert counts == {"apache-badbots": 4, "apache-fakegooglebot": 3, "nginx-botsearch": 14,
                      "apache-botsearch": 19, "nginx-bad-request": 8}


def test_bad_user_agent_signal_agrees_with_apache_badbots():
    records = labelled("apache-badbots")
    assert _disagreements(records, lambda r: user_agents.is_bad(r["user_agent"])) == []


@pytest.mark.parametrize("name", ["nginx-botsearch", "apache-botsearch", "nginx-bad-request"])
def test_probe_signal_agrees_with_botsearch_and_bad_request(name):
    records = labelled(name)
    signal = lambda r: paths.is_probe(r["method"], r["path"], r["protocol"], r["status"])  # noqa: E731
    assert _disagreements(records, signal) == []


def test_deliberate_probe_disagreement_is_real():
    [rec] = [r for r in labelled("apache-botsearch") if r["ip"] == "122.49.201.178"]
    assert rec["match"] is False
    assert paths.is_probe(rec["method"], rec["path"], rec["protocol"], rec["status"]) is True


def test_good_bot_claim_agrees_with_apache_fakegooglebot():
    records = labelled("apache-fakegooglebot")
    assert _disagreements(records, lambda r: good_bots.claimed_bot(r["user_agent"]) is not None) == []


def test_unverified_claim_uses_published_ranges():
    verifier = good_bots.GoodBotVerifier()
    by_ip = {r["ip"]: r for r in labelled("apache-fakegooglebot")}
    assert verifier.unverified_claim("66.249.66.1", by_ip["66.249.66.1"]["user_agent"]) is None  # real Google range
    assert verifier.unverified_claim("192.0.2.222", by_ip["192.0.2.222"]["user_agent"]).name == "googlebot"
    assert verifier.unverified_claim("145.239.69.22", by_ip["145.239.69.22"]["user_agent"]) is None  # no claim


def _frame(records):
    return pl.DataFrame(
        {k: [r[k] for r in records] for k in ("method", "path", "protocol", "status", "user_agent")},
        schema={"method": pl.Utf8, "path": pl.Utf8, "protocol": pl.Utf8, "status": pl.Int64, "user_agent": pl.Utf8})


def test_polars_expressions_match_python_signals_on_every_fixture_line():
    records = [r for name in ("apache-badbots", "apache-fakegooglebot", "nginx-botsearch", "apache-botsearch",
                              "nginx-bad-request") for r in labelled(name)]
    df = _frame(records).with_columns(
        probe=paths.probe_expression(), claim=good_bots.claim_expression(),
        **user_agents.flag_expressions())
    bad_any = df.select(pl.any_horizontal(pl.col("^ua_.*$")).alias("any"))["any"].to_list()
    for rec, probe, claim, bad in zip(records, df["probe"], df["claim"], bad_any):
        assert probe == paths.is_probe(rec["method"], rec["path"], rec["protocol"], rec["status"]), rec
        assert claim == (good_bots.claimed_bot(rec["user_agent"]) is not None), rec
        assert bad == user_agents.is_bad(rec["user_agent"]), rec


OFF_LEGIT = [
    ("GET", "/product/3017620422003/nutella-ferrero", 404, "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"),
    ("GET", "/api/v2/product/5900116091877.json", 404, "ciboulette%20scan/38 CFNetwork/1568.200.51 Darwin/24.1.0"),
    ("GET", "/cgi/search.pl?search_terms=mail", 404, "Smoothie/4.18.0 (Android)"),
    ("GET", "/facets/brands/webmail", 404, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"),
    ("GET", "/wp-login.php", 200, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36"),
    ("GET", "/data/openfoodfacts_mongodbdump.tar.gz", 404, "Wget/1.21"),
    ("GET", "/images/products/301/762/042/2003/front_fr.4.400.jpg", 404, "Dart/3.2 (dart:io)"),
]


@pytest.mark.parametrize("method,path,status,ua", OFF_LEGIT)
def test_ordinary_off_requests_are_not_probes(method, path, status, ua):
    assert paths.is_probe(method, path, "HTTP/1.1", status) is False


@pytest.mark.parametrize("ua", [
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Smoothie/4.18.0 (Android 14)",
    "Dart/3.2 (dart:io)",
    "okhttp/4.12.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0 Mobile Safari/537.36",
    "CalorieCounterApp/1.0 (spider-free; code 42)",
])
def test_ordinary_user_agents_are_not_bad(ua):
    assert user_agents.classify(ua) is None


@pytest.mark.parametrize("ua,cls", [
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", "ai_crawler"),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "seo_bot"),
    ("python-requests/2.31.0", "scraping_tool"),
    ("Go-http-client/1.1", "scraping_tool"),
    ("Scrapy/2.11.0 (+https://scrapy.org)", "scraping_tool"),
    ("-", "empty"),
    ("Mozilla/5.0 (compatible)", "empty"),
])
def test_bad_user_agents_are_classified(ua, cls):
    assert user_agents.classify(ua).ua_class == cls
