"""nginx's leaky bucket, against values worked out by hand from ngx_http_limit_req_module.c."""

import pytest

from proxygen.blocklist.entry import parse_rate
from proxygen.simulate.limit_req import (DELAYED, DELAYED_DRY_RUN, NOT_LIMITED, PASSED, REJECTED,
                                         REJECTED_DRY_RUN, Limit, Zones, check)

T0 = 1_000_000_000


@pytest.mark.parametrize("rate, milli", [("15r/m", 250), ("1r/m", 16), ("60r/m", 1000), ("2r/s", 2000),
                                         ("60000r/m", 1000000), ("240r/m", 4000)])
def test_rates_use_nginx_integer_arithmetic(rate, milli):
    assert parse_rate(rate) == milli


def _run(limit, times, dry_run=False, zones=None):
    zones = zones or Zones()
    return [check([limit], ["k"], T0 + t, zones, dry_run) for t in times], zones


def test_burst_then_reject_then_leak():
    # 60r/m = 1000 milli/s, burst 2: excess 0, 1000, 2000 pass; 3000 > 2000 rejected.
    out, zones = _run(Limit("z", 1000, burst=2, nodelay=True), [0, 0, 0, 0, 999, 1000])
    assert [v.status for v in out] == [PASSED, PASSED, PASSED, REJECTED, REJECTED, PASSED]
    # at +999 ms: 2000 - 999 + 1000 = 2001 > 2000; at +1000 ms: 2000 - 1000 + 1000 = 2000 passes
    assert zones.zone("z")["k"] == [2000, T0 + 1000]


def test_rejected_requests_do_not_touch_the_bucket():
    out, zones = _run(Limit("z", 1000, burst=0, nodelay=True), [0, 500, 999, 1000])
    assert [v.status for v in out] == [PASSED, REJECTED, REJECTED, PASSED]


def test_delay_without_nodelay():
    # 2r/s, burst 5, no nodelay: second request at once has excess 1000 -> delayed 1000*1000/2000 = 500 ms.
    out, _ = _run(Limit("z", 2000, burst=5), [0, 0, 0])
    assert [(v.status, v.delay_ms) for v in out] == [(PASSED, 0), (DELAYED, 500), (DELAYED, 1000)]


def test_delay_parameter_lets_some_through_undelayed():
    out, _ = _run(Limit("z", 2000, burst=5, delay=1), [0, 0, 0])
    assert [(v.status, v.delay_ms) for v in out] == [(PASSED, 0), (PASSED, 0), (DELAYED, 500)]


def test_dry_run_reports_but_never_accounts_rejections():
    out, zones = _run(Limit("z", 1000, burst=0, nodelay=True), [0, 0, 0], dry_run=True)
    assert [v.status for v in out] == [PASSED, REJECTED_DRY_RUN, REJECTED_DRY_RUN]
    assert zones.zone("z")["k"][0] == 0
    out, _ = _run(Limit("z", 2000, burst=5), [0, 0], dry_run=True)
    assert [v.status for v in out] == [PASSED, DELAYED_DRY_RUN]


def test_clock_going_backwards():
    # ms < 0 counts as 0; ms < -60000 counts as 1
    out, zones = _run(Limit("z", 1000, burst=1, nodelay=True), [1000, 500, -100000])
    assert [v.status for v in out] == [PASSED, PASSED, REJECTED]
    assert zones.zone("z")["k"] == [1000, T0 + 1000]


def test_empty_key_is_never_limited():
    assert check([Limit("z", 16, 0, True)], [""], T0, Zones()).status == NOT_LIMITED


def test_two_limits_earlier_zone_accounted_only_when_all_pass():
    a, b = Limit("a", 1000, burst=5, nodelay=True), Limit("b", 1000, burst=0, nodelay=True)
    zones = Zones()
    assert check([a, b], ["x", "x"], T0, zones).status == PASSED
    v = check([a, b], ["x", "x"], T0, zones)
    assert (v.status, v.zone) == (REJECTED, "b")
    # the rejection by b left a's bucket as it was (excess 0 after the first request)
    assert zones.zone("a")["x"][0] == 0
    # a zone rejecting first stops before b
    tight = Limit("a", 1000, burst=0, nodelay=True)
    zones = Zones()
    check([tight, b], ["y", "y"], T0, zones)
    v = check([tight, b], ["y", "y"], T0 + 10, zones)
    assert (v.status, v.zone) == (REJECTED, "a")


def test_idle_fully_leaked_nodes_are_dropped_like_nginx():
    # rate 250 (15r/m), burst 100: build excess 14,000 then wait 60 s (leak 15,000).
    zones = Zones()
    limit = Limit("z", 250, burst=100, nodelay=True)
    for _ in range(15):
        check([limit], ["old"], T0, zones)
    assert zones.zone("z")["old"][0] == 14000
    # 60 s later (leak 15,000) a new key makes nginx drop the idle node: "old" restarts at excess 0,
    # where a kept node would have had 14000 - 15000 + 1000 = 0 ... and with 14500 it would be 500.
    zones.zone("z")["old"][0] = 14500
    check([limit], ["new"], T0 + 60000, zones)
    assert "old" not in zones.zone("z")
    check([limit], ["old"], T0 + 60000, zones)
    assert zones.zone("z")["old"][0] == 0
    # a node used less than 60 s ago is kept
    zones = Zones()
    check([limit], ["old"], T0, zones)
    check([limit], ["new"], T0 + 59999, zones)
    assert "old" in zones.zone("z")
