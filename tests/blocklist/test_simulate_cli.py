"""`proxygen crawlers simulate`: runs on a log with blocklists/, exit codes, JSON output."""

import json
import subprocess
import sys

from throttles import scraper_bot_and_range

LOG = """\
203.0.113.7 - - [27/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "curl/8"
203.0.113.7 - - [27/Nov/2026:10:00:01 +0000] "GET /x HTTP/1.1" 200 10 "-" "curl/8"
198.51.100.5 - - [27/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 10 "-" "EvilBot/1.0"
192.0.2.1 - - [27/Nov/2026:10:00:02 +0000] "GET / HTTP/1.1" 200 10 "-" "Mozilla/5.0 (X11; Linux) Firefox/120.0"
192.0.2.1 - - [27/Nov/2026:10:00:02 +0000] "GET / HTTP/1.1" 200 10 "-" "Mozilla/5.0 (X11; Linux) Firefox/120.0"
192.0.2.1 - - [27/Nov/2026:10:00:02 +0000] "GET / HTTP/1.1" 200 10 "-" "Mozilla/5.0 (X11; Linux) Firefox/120.0"
"""
BLOCKLIST = scraper_bot_and_range("{rate: 1r/m, burst: 1}")


def run(args, cwd):
    return subprocess.run([sys.executable, "-m", "proxygen", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_simulate_reports_per_client_and_rule(tmp_path):
    (tmp_path / "access.log").write_text(LOG)
    (tmp_path / "blocklists").mkdir()
    (tmp_path / "blocklists/manual.yml").write_text(BLOCKLIST)
    r = run(["crawlers", "simulate", "access.log", "--format", "combined", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["totals"]["requests"] == 6 and out["totals"]["blocked"] == 3 and out["totals"]["throttled"] == 1
    assert out["rules"]["203.0.113.7"]["blocked"] == 2 and out["rules"]["192.0.2.0/24"]["throttled"] == 1
    hit = {c["ip"]: c for c in out["legitimate_looking_hit"]}
    assert hit["192.0.2.1"]["why"].startswith("browser at") and hit["192.0.2.1"]["throttled"] == 1
    r = run(["crawlers", "simulate", "access.log", "--format", "combined"], tmp_path)
    assert r.returncode == 0 and "6 requests" in r.stdout and "192.0.2.0/24: allowed 2, throttled 1" in r.stdout


def test_simulate_errors_are_clean(tmp_path):
    r = run(["crawlers", "simulate", "missing.log"], tmp_path)
    assert r.returncode == 2 and "error: missing.log: no such file" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "access.log").write_text(LOG)
    (tmp_path / "blocklists").mkdir()
    (tmp_path / "blocklists/manual.yml").write_text("entries:\n  - ip: 1.2.3.4\n    action: block\n")
    r = run(["crawlers", "simulate", "access.log", "--format", "combined"], tmp_path)
    assert r.returncode == 1 and "blocklists/manual.yml:2:5: entries[0].reason: is required" in r.stderr
    r = run(["crawlers", "simulate", "access.log", "--site", "nope"], tmp_path)
    assert r.returncode == 2 and "--site needs proxygen.yml" in r.stderr


def test_simulate_logs_api_expands_asn_entries(tmp_path):
    from pathlib import Path

    from proxygen.simulate.run import simulate_logs

    (tmp_path / "access.log").write_text(
        '69.218.35.1 - - [27/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "curl/8"\n'
        '71.136.1.1 - - [27/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "curl/8"\n'
        '8.8.8.8 - - [27/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "curl/8"\n')
    d = tmp_path / "blocklists"
    d.mkdir()
    (d / "manual.yml").write_text("entries:\n  - asn: AS7132\n    action: block\n    reason: hoster\n")
    asn_db = Path(__file__).parent / "fixtures/GeoLite2-ASN-Test.mmdb"
    result = simulate_logs([str(tmp_path / "access.log")], blocklists_dir=d, fmt="combined", asn_db=asn_db)
    counts = {c.ip: c.counts for c in result.report.clients()}
    assert counts["69.218.35.1"]["blocked"] == 1 and counts["71.136.1.1"]["blocked"] == 1
    assert counts["8.8.8.8"]["allowed"] == 1
    assert result.report.rules()["AS7132"]["blocked"] == 2
