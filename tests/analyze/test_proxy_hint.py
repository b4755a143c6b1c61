"""The note for a log whose clients look like one internal proxy (per-IP findings would see the proxy)."""

from __future__ import annotations

import pytest

from proxygen.analyze.run import analyze
from tests.logs.conftest import at_minute, main_line

PROXY_FORMAT = ('$proxy_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
                '"$http_user_agent" "$http_x_forwarded_for" $upstream_cache_status [$upstream_response_time]')


def _log(tmp_path, ips, n=1200):
    lines = [main_line(ip=ips[i % len(ips)], when=at_minute(i % 60, i % 60), xff=f"198.51.100.{i % 250}")
             for i in range(n)]
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _hints(analysis):
    return [m for m in analysis.summary.messages if "an internal address" in m]


@pytest.mark.parametrize("ips", [["10.1.0.5"], ["127.0.0.1"], ["10.1.0.5", "10.1.0.5", "203.0.113.9"],
                                 ["fd00::1"]])
def test_an_internal_address_with_most_requests_gets_the_note(tmp_path, ips):
    (hint,) = _hints(analyze([_log(tmp_path, ips)], fmt="main"))
    assert f"of the requests come from {ips[0]}, an internal address" in hint
    assert "$remote_addr renamed" in hint


@pytest.mark.parametrize("ips, n", [
    (["5.9.16.147"], 1200),                         # one public client: a real heavy hitter, not a proxy
    (["10.1.0.5"] + [f"203.0.113.{i}" for i in range(9)], 1200),  # internal, but 10 % of requests
    (["10.1.0.5"], 500),                           # too few requests to say
])
def test_no_note_otherwise(tmp_path, ips, n):
    assert _hints(analyze([_log(tmp_path, ips, n)], fmt="main")) == []


def test_following_the_advice_recovers_the_clients(tmp_path):
    path = _log(tmp_path, ["10.1.0.5"])
    analysis = analyze([path], fmt=PROXY_FORMAT)
    assert analysis.summary.ips == 250 and _hints(analysis) == []
