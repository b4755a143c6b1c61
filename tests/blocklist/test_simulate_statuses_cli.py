"""`proxygen crawlers simulate` shows, per rule, how many requests got which status from nginx itself:
403/444 for blocks, and for a throttle each location's limit_req_status (text and --json)."""

import json
import subprocess
import sys

import yaml

from throttles import edge_settings, scraper_bot_and_range

SETTINGS = edge_settings("60r/m")
SITE = {
    "server_names": ["shop.example.org"], "crawler_defence": True, "pages": ["stop-crawling.txt"],
    "locations": [
        {"path": "/", "proxy": {"url": "http://10.0.0.3:9000"}},
        {"path": "/api/", "proxy": {"url": "http://10.0.0.3:9000"}, "rate_limit_status": 503,
         "rate_limits": [{"zone": "per-ip", "burst": 100, "nodelay": True}]},
    ],
}
BLOCKLIST = scraper_bot_and_range("{rate: 1r/m, burst: 1, nodelay: true}")


def _line(ip, path, ua="Mozilla/5.0 (X11; Linux) Firefox/120.0", second=0):
    return f'{ip} - - [27/Nov/2026:10:00:{second:02d} +0000] "GET {path} HTTP/1.1" 200 10 "-" "{ua}"\n'


LOG = "".join(
    [_line("203.0.113.7", "/") for _ in range(2)]
    + [_line("198.51.100.5", "/", "EvilBot/1.0")]
    + [_line("192.0.2.1", "/page") for _ in range(4)]          # burst 1: 2 pass, 2 answered 429
    + [_line("192.0.2.2", "/api/x") for _ in range(5)])        # 2 pass, 3 answered the location's 503


def _repo(tmp_path):
    (tmp_path / "sites").mkdir()
    (tmp_path / "proxygen.yml").write_text(yaml.safe_dump(SETTINGS))
    (tmp_path / "sites/shop.yml").write_text(yaml.safe_dump(SITE))
    (tmp_path / "blocklists").mkdir()
    (tmp_path / "blocklists/manual.yml").write_text(BLOCKLIST)
    (tmp_path / "access.log").write_text(LOG)


def run(args, cwd):
    return subprocess.run([sys.executable, "-m", "proxygen", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_statuses_per_rule_in_json_and_text(tmp_path):
    _repo(tmp_path)
    args = ["crawlers", "simulate", "access.log", "--format", "combined", "--site", "shop"]
    r = run([*args, "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["statuses"] == {"203.0.113.7": {"403": 2}, "ua~contains:EvilBot": {"444": 1},
                               "192.0.2.0/24": {"429": 2, "503": 3}}
    assert out["rules"]["192.0.2.0/24"]["throttled"] == 5
    r = run(args, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "192.0.2.0/24: allowed 4, throttled 5; answered 429 x2, 503 x3" in r.stdout
    assert "203.0.113.7: blocked 2; answered 403 x2" in r.stdout
    assert "ua~contains:EvilBot: blocked 1; answered 444 x1" in r.stdout
