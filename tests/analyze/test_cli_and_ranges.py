"""`proxygen crawlers analyze` / `update-ranges` end to end, the settings model, and DNS confirmation."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from proxygen.model.crawlers import CrawlerSettings
from proxygen.signals import good_bots
from proxygen.signals.dns import DnsVerifier
from proxygen.signals.ranges_update import update_ranges
from proxygen.synth import generate, write_asn_mmdb

ROOT = Path(__file__).resolve().parents[2]


def run(*args, cwd=None, stdin=None):
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "proxygen", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, input=stdin, timeout=300)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    log = d / "access.log"
    generate(log, lines=20_000, seed=11)
    return log, write_asn_mmdb(d / "asn.mmdb")


def test_analyze_json_html_and_exit_code_zero(synth, tmp_path):
    log, db = synth
    out = tmp_path / "report.html"
    proc = run("crawlers", "analyze", str(log), "--asn-db", str(db), "--json", "--html", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["summary"]["lines_read"] == 20_000 and doc["summary"]["rules"] > 5
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_analyze_table_when_piped(synth):
    log, db = synth
    proc = run("crawlers", "analyze", str(log), "--asn-db", str(db), "--top", "3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("20,000 lines read") and "\n1. block " in proc.stdout
    assert "more findings (use --top or --json)" in proc.stdout


def test_analyze_reads_stdin(synth):
    log, _ = synth
    proc = run("crawlers", "analyze", "-", "--json", stdin=log.read_text())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["parsed"] == 20_000


def test_analyze_applies_allowlists_from_proxygen_yml(synth, tmp_path):
    log, db = synth
    (tmp_path / "proxygen.yml").write_text(
        'hosts:\n  edge:\n    nginx_version: "1.22.1"\nhttp:\n  access_log_format: combined\n'
        "allowlists:\n  user_agents:\n    - pattern: python-requests\n      reason: partner script (test)\n"
        "crawlers:\n  thresholds:\n    user_agent:\n      min_requests: 5\n")
    proc = run("crawlers", "analyze", str(log), "--asn-db", str(db), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    f = next(f for f in json.loads(proc.stdout)["findings"] if f["key"] == "python-requests")
    assert f["action"] == "observe" and "partner script (test)" in f["allowlisted"]


def test_bad_crawlers_settings_exit_1_with_position(synth, tmp_path):
    log, _ = synth
    (tmp_path / "proxygen.yml").write_text(
        'hosts:\n  edge:\n    nginx_version: "1.22.1"\nhttp:\n  access_log_format: combined\n'
        "crawlers:\n  thresholds:\n    rate:\n      block_cost_per_min: -3\n")
    proc = run("crawlers", "analyze", str(log), cwd=tmp_path)
    assert proc.returncode == 1 and "proxygen.yml:" in proc.stderr and "block_cost_per_min" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_input_errors_exit_1_and_write_nothing(tmp_path):
    garbage = tmp_path / "garbage.log"
    garbage.write_text("this is not an access log\n" * 50)
    out = tmp_path / "r.html"
    proc = run("crawlers", "analyze", str(garbage), "--html", str(out))
    assert proc.returncode == 1 and "cannot detect the log format" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


def test_unwritable_html_target_exits_1(synth, tmp_path):
    log, _ = synth
    proc = run("crawlers", "analyze", str(log), "--html", str(tmp_path / "missing-dir" / "r.html"))
    assert proc.returncode == 1 and "does not exist; nothing written" in proc.stderr


def test_html_target_that_is_a_directory_exits_1_and_leaves_nothing(synth, tmp_path):
    log, _ = synth
    target = tmp_path / "out"
    target.mkdir()
    proc = run("crawlers", "analyze", str(log), "--html", str(target))
    assert proc.returncode == 1 and "cannot write the report" in proc.stderr
    assert list(tmp_path.iterdir()) == [target] and list(target.iterdir()) == []


def test_usage_errors_exit_2(tmp_path):
    assert run("crawlers", "analyze").returncode == 2
    assert run("crawlers", "analyze", "x.log", "--top", "0").returncode == 2
    proc = run("crawlers", "analyze", str(tmp_path / "nope.log"))
    assert proc.returncode == 2 and "no such file" in proc.stderr


# --- settings --------------------------------------------------------------------------------------

def test_crawler_settings_defaults_and_validation():
    s = CrawlerSettings()
    assert s.weights()["search"] == 10 and s.weights()["static"] < 1
    assert s.thresholds.rate.throttle_cost_per_min < s.thresholds.rate.block_cost_per_min
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        CrawlerSettings.model_validate({"route_classes": [{"name": "x", "pattern": "(", "weight": 1}]})
    with pytest.raises(ValidationError, match="implicit class"):
        CrawlerSettings.model_validate({"route_classes": [{"name": "other", "pattern": "^/", "weight": 1}]})
    with pytest.raises(ValidationError):
        CrawlerSettings.model_validate({"thresholds": {"rate": {"throttle_cost_per_min": -1}}})
    with pytest.raises(ValidationError):
        CrawlerSettings.model_validate({"tresholds": {}})  # typo caught, not ignored


# --- update-ranges against a real local HTTP server -----------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802
        body = self.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"not found")

    def log_message(self, *args):
        pass


@pytest.fixture()
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_update_ranges_writes_valid_files_and_keeps_old_ones_on_failure(http_server, tmp_path):
    _Handler.files = {
        "/googlebot.json": json.dumps({"creationTime": "2026-11-26T23:00:00.000000", "prefixes": [
            {"ipv6Prefix": "2001:4860:4801:10::/64"}, {"ipv4Prefix": "66.249.66.0/27"}]}).encode(),
        "/bingbot.json": b'{"creationTime": "x", "prefixes": [{"ipv4Prefix": "not-a-network"}]}',
    }
    (tmp_path / "bingbot.json").write_text('{"prefixes": [{"ipv4Prefix": "157.55.39.0/24"}]}')
    results = update_ranges(tmp_path, only=["googlebot", "bingbot", "applebot"], urls={
        "googlebot": f"{http_server}/googlebot.json", "bingbot": f"{http_server}/bingbot.json",
        "applebot": f"{http_server}/missing.json"})
    status = {r.bot: r.ok for r in results}
    assert status == {"googlebot": True, "bingbot": False, "applebot": False}
    doc = json.loads((tmp_path / "googlebot.json").read_text())
    assert doc["creationTime"] == "2026-11-26T23:00:00.000000" and doc["source"].endswith("/googlebot.json")
    assert "157.55.39.0/24" in (tmp_path / "bingbot.json").read_text()  # untouched
    assert not (tmp_path / "applebot.json").exists()
    # the analyzer reads the refreshed directory
    verifier = good_bots.GoodBotVerifier(tmp_path)
    bot = good_bots.claimed_bot("Googlebot/2.1")
    assert verifier.verify(bot, "66.249.66.5") and not verifier.verify(bot, "66.249.70.5")
    assert verifier.verify(bot, "2001:4860:4801:10::1")


def test_shipped_range_files_are_valid_and_dated():
    for bot in good_bots.registry():
        if bot.ranges_file:
            path = Path(good_bots.data_path("good_bots")) / bot.ranges_file
            doc = json.loads(path.read_text())
            assert doc["creationTime"] and doc["source"].startswith("https://"), path
            good_bots.parse_ranges(doc, str(path))


# --- DNS confirmation -----------------------------------------------------------------------------

def test_dns_verifier_caches_and_requires_forward_confirmation(tmp_path):
    calls = []

    def resolver(ip):  # the test machine has no DNS to ask; the verifier's logic is what is tested
        calls.append(ip)
        return {"192.0.2.1": ("crawl-1.googlebot.com", ["192.0.2.1"]),
                "192.0.2.2": ("crawl-2.googlebot.com", ["198.51.100.2"]),
                "192.0.2.3": ("evilgooglebot.com", ["192.0.2.3"])}.get(ip, (None, []))

    cache = tmp_path / "rdns.json"
    v = DnsVerifier(timeout=2, cache_path=cache, resolver=resolver)
    answers = v.resolve_many(["192.0.2.1", "192.0.2.2", "192.0.2.3"])
    suffixes = ("googlebot.com", "google.com")
    assert v.confirms("192.0.2.1", suffixes, answers["192.0.2.1"]) == "crawl-1.googlebot.com"
    assert v.confirms("192.0.2.2", suffixes, answers["192.0.2.2"]) is None  # forward lookup disagrees
    assert v.confirms("192.0.2.3", suffixes, answers["192.0.2.3"]) is None  # suffix must be a domain
    again = DnsVerifier(timeout=2, cache_path=cache, resolver=resolver)
    again.resolve_many(["192.0.2.1"])
    assert sorted(calls) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]  # the second verifier used the cache file


def test_dns_verifier_gives_up_at_its_deadline(tmp_path):
    import time

    def slow(ip):
        time.sleep(3)
        return ("x.googlebot.com", [ip])

    v = DnsVerifier(timeout=0.3, cache_path=tmp_path / "c.json", resolver=slow)
    t0 = time.monotonic()
    assert v.resolve_many(["192.0.2.9"]) == {}
    assert time.monotonic() - t0 < 2
