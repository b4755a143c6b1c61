"""The aggregation core: per-key counts, rates, route classes, flags, prefixes, ASNs, merging across batches."""

from __future__ import annotations

import importlib
from datetime import datetime, timezone

import polars as pl
import pytest

from proxygen.errors import UsageError
from proxygen.logs import aggregate, open_logs
from proxygen.logs import reader
from proxygen.logs.aggregate import estimate_distinct, ip_prefixes, trim_sketch

from .conftest import at_minute, main_line, read_batch_by_batch, write_log

aggregate_module = importlib.import_module("proxygen.logs.aggregate")  # the package re-exports the function
source_module = importlib.import_module("proxygen.logs.source")


@pytest.fixture(autouse=True, params=["whole", "batched"])
def aggregation_path(request, monkeypatch):
    """Every case runs through both ways of building the tables: all lines grouped at once (inputs
    under the large-input size) and batch by batch with merges (large inputs, stdin)."""
    if request.param == "batched":
        read_batch_by_batch(monkeypatch)
    return request.param


def _row(df, key):
    rows = df.filter(pl.col("key") == key).to_dicts()
    assert len(rows) == 1, f"{key} not in {df['key'].to_list()}"
    return rows[0]


@pytest.fixture()
def small_log(tmp_path):
    lines = []
    # 192.0.2.10: 3 searches, 2 products, 1 static, then 429 and more requests
    for i, (path, status) in enumerate([("/cgi/search.pl?search_terms=a", 200), ("/cgi/search.pl?search_terms=b", 200),
                                        ("/api/v2/search?q=1", 200), ("/product/1/x", 200),
                                        ("/api/v2/product/2.json", 304), ("/images/icons/a.svg", 200),
                                        ("/facets/brands", 429), ("/category/en:sodas", 200),
                                        ("/brand/lu", 503), ("/wp-login.php", 404)]):
        lines.append(main_line(ip="192.0.2.10", when=at_minute(0, i), request=f"GET {path} HTTP/2.0", status=status,
                               size=100, ua="BotA/1.0"))
    # 192.0.2.99 (same /24), two UAs, in minutes 0 and 5; a 500
    lines.append(main_line(ip="192.0.2.99", when=at_minute(0, 30), status=500, size=10, ua="BotB/2.0"))
    lines.append(main_line(ip="192.0.2.99", when=at_minute(5, 0), status=301, size=10, ua="BotC/3.0"))
    # IPv6, and a UA of exactly "-"
    lines.append(main_line(ip="2001:db8:aa:1::5", when=at_minute(1, 0), ua="-"))
    lines.append(main_line(ip="2001:db8:aa:2::6", when=at_minute(1, 1), ua="-"))
    lines.sort(key=lambda ln: ln.split("[")[1])
    return write_log(tmp_path, lines)


def test_per_ip_counts(small_log):
    traffic = aggregate(open_logs([small_log]))
    row = _row(traffic.by_ip, "192.0.2.10")
    assert row["requests"] == 10
    assert (row["s2xx"], row["s3xx"], row["s4xx"], row["s5xx"]) == (6, 1, 2, 1)
    assert row["limited"] == 2
    assert row["after_limited"] == 3  # the requests after the 429 at second 6
    assert row["bytes"] == 1000
    assert row["distinct_paths"] == 10
    assert row["first_seen"] == datetime(2025, 1, 31, 12, 0, 0, tzinfo=timezone.utc)
    assert row["last_seen"] == datetime(2025, 1, 31, 12, 0, 9, tzinfo=timezone.utc)
    assert (row["rc_search"], row["rc_facets"], row["rc_product"], row["rc_api"], row["rc_static"], row["rc_other"]) \
        == (3, 3, 2, 0, 1, 1)
    assert row["peak_rpm"] == 10 and row["sustained_rpm"] == 1.0
    assert row["top_ua"] == "BotA/1.0" and row["n_uas"] == 1
    assert row["prefix"] == "192.0.2.0/24"
    assert row["asn"] is None


def test_prefix_rows_sum_their_ips(small_log):
    traffic = aggregate(open_logs([small_log]))
    row = _row(traffic.by_prefix, "192.0.2.0/24")
    assert row["requests"] == 12 and row["ips"] == 2
    assert row["n_uas"] == 3 and row["top_ua"] == "BotA/1.0"
    assert row["s5xx"] == 2 and row["s3xx"] == 2
    assert row["peak_rpm"] == 11  # minute 0: 10 + 1
    assert row["distinct_paths"] == 11  # 10 + "/product/123" of the other IP
    v6 = _row(traffic.by_prefix, "2001:db8:aa::/48")
    assert v6["ips"] == 2 and v6["requests"] == 2


def test_prefix_lengths_are_parameters(small_log):
    traffic = aggregate(open_logs([small_log]), prefix_v4=16, prefix_v6=64)
    assert set(traffic.by_prefix["key"]) == {"192.0.0.0/16", "2001:db8:aa:1::/64", "2001:db8:aa:2::/64"}
    assert traffic.prefix_lengths == (16, 64)


def test_user_agent_rows_keep_literal_dash(small_log):
    traffic = aggregate(open_logs([small_log]))
    dash = _row(traffic.by_ua, "-")
    assert dash["requests"] == 2 and dash["ips"] == 2
    assert _row(traffic.by_ua, "BotA/1.0")["limited"] == 2


def test_sustained_rate_is_best_ten_minute_average(tmp_path):
    lines = []
    for minute in range(20):  # 30 r/min for 20 minutes, plus one burst of 90 in minute 3
        count = 90 if minute == 3 else 30
        lines += [main_line(when=at_minute(minute, s % 60), request=f"GET /p/{minute}/{s} HTTP/1.1")
                  for s in range(count)]
    traffic = aggregate(open_logs([write_log(tmp_path, lines)]))
    row = _row(traffic.by_ip, "192.0.2.1")
    assert row["peak_rpm"] == 90
    assert row["sustained_rpm"] == pytest.approx((9 * 30 + 90) / 10)
    assert traffic.per_minute["requests"].to_list()[:4] == [30, 30, 30, 90]
    timeline = traffic.timeline("ip", "192.0.2.1")
    assert timeline.height == 20 and timeline["requests"].sum() == 20 * 30 + 60


def test_route_classes_from_settings_first_match_wins(small_log):
    classes = [("wp", r"^/wp-"), ("search", r"search"), ("everything", r".")]
    row = _row(aggregate(open_logs([small_log]), route_classes=classes).by_ip, "192.0.2.10")
    assert (row["rc_wp"], row["rc_search"], row["rc_everything"], row["rc_other"]) == (1, 3, 6, 0)


def test_bad_route_class_is_usage_error(small_log):
    with pytest.raises(UsageError, match="invalid path regex"):
        aggregate(open_logs([small_log]), route_classes=[("x", "(")])


def test_flags_count_per_key(small_log):
    flags = {"probe": pl.col("path").str.contains(r"^/wp-"), "dash_ua": pl.col("user_agent") == "-"}
    traffic = aggregate(open_logs([small_log]), flags=flags)
    assert _row(traffic.by_ip, "192.0.2.10")["flag_probe"] == 1
    assert _row(traffic.by_ip, "2001:db8:aa:1::5")["flag_dash_ua"] == 1
    assert _row(traffic.by_prefix, "2001:db8:aa::/48")["flag_dash_ua"] == 2
    assert traffic.flags == ["probe", "dash_ua"]


def test_asn_grouping_with_a_database(tmp_path, asn_db):
    lines = [main_line(ip=ip, when=at_minute(0, i)) for i, ip in
             enumerate(["66.249.64.1", "66.249.70.2", "66.249.70.3", "88.198.1.1", "198.51.100.1"])]
    traffic = aggregate(open_logs([write_log(tmp_path, lines)]), asn_db=asn_db)
    assert traffic.asn_enabled and traffic.asn_message is None
    google = _row(traffic.by_asn, 15169)
    assert google["ips"] == 3 and google["requests"] == 3 and google["asn_org"] == "Google LLC"
    assert _row(traffic.by_ip, "88.198.1.1")["asn"] == 24940
    assert _row(traffic.by_ip, "198.51.100.1")["asn"] is None  # not in the database: no ASN row
    assert _row(traffic.by_prefix, "66.249.70.0/24")["asn"] == 15169
    timeline = traffic.timeline("asn", 15169)
    assert timeline["requests"].sum() == 3


def test_without_database_asn_grouping_is_off_and_says_how(small_log):
    traffic = aggregate(open_logs([small_log]))
    assert not traffic.asn_enabled and traffic.by_asn.height == 0
    assert "GeoLite2-ASN" in traffic.asn_message and "--asn-db" in traffic.asn_message


def test_a_database_without_asns_is_named_not_silently_empty(tmp_path, asn_db):
    """A City database given as --asn-db answers every lookup with no ASN: the ASN-wide detectors would
    see nothing, so the analysis says so. A real ASN database that knows the addresses says nothing."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    writer.insert_network(IPSet(["66.249.64.0/19"]), {"city": {"names": {"en": "Mountain View"}}})
    city = tmp_path / "GeoLite2-City.mmdb"
    writer.to_db_file(str(city))
    lines = [main_line(ip=f"66.249.64.{i}", when=at_minute(0, i % 60)) for i in range(25)]
    log = write_log(tmp_path, lines)
    message = aggregate(open_logs([log]), asn_db=str(city)).asn_message
    assert message.startswith(f"ASN grouping found nothing: {city} (type 'GeoLite2-City') gave no ASN for any "
                              "of the 25 client addresses")
    assert aggregate(open_logs([log]), asn_db=asn_db).asn_message is None
    few = write_log(tmp_path, lines[:5], name="few.log")  # a handful of unknown addresses: no conclusion
    assert aggregate(open_logs([few]), asn_db=str(city)).asn_message is None


def _counting(db):
    """Record every address the database is asked about, whichever lookup method asks."""
    calls = []
    many, one = db.lookup_many, db.lookup_network
    db.lookup_many = lambda ips: calls.extend(ips) or many(ips)
    db.lookup_network = lambda ip: calls.append(ip) or one(ip)
    return calls


def test_asn_lookups_once_per_database_network(tmp_path, asn_db):
    from proxygen.logs import AsnDb

    db = AsnDb.open(asn_db)
    calls = _counting(db)
    lines = [main_line(ip=f"66.249.64.{i % 3}", when=at_minute(0, i % 60)) for i in range(300)]
    traffic = aggregate(open_logs([write_log(tmp_path, lines)]), asn_db=db)
    assert calls == ["66.249.64.0"]  # Google's /19 holds all 3 IPs: one lookup answers them
    assert traffic.by_ip["asn"].to_list() == [15169] * 3


def test_asn_answers_are_those_of_a_lookup_per_ip_when_the_database_splits_a_prefix(tmp_path):
    """A /24 split between two ASNs (and addresses outside any network, IPv6, an IPv4-mapped address,
    a value that is no address): every IP gets exactly its own lookup's answer, none is asked twice."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    from proxygen.logs import AsnDb

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN")
    for asn, networks in ((64500, ["198.51.100.0/25", "2001:db8::/33"]), (64501, ["198.51.100.128/26"]),
                          (64502, ["203.0.113.0/24"])):
        writer.insert_network(IPSet(networks), {"autonomous_system_number": asn,
                                                "autonomous_system_organization": f"AS{asn} org"})
    path = tmp_path / "split.mmdb"
    writer.to_db_file(str(path))
    ips = ["198.51.100.1", "198.51.100.127", "198.51.100.129", "198.51.100.200", "203.0.113.9",
           "203.0.113.10", "192.0.2.1", "2001:db8::1", "2001:db8:8000::1", "::ffff:203.0.113.11", "unknown"]
    lines = [main_line(ip=ip, when=at_minute(0, i)) for i, ip in enumerate(ips)]
    db = AsnDb.open(str(path))
    calls = _counting(db)
    traffic = aggregate(open_logs([write_log(tmp_path, lines)]), asn_db=db)
    assert len(calls) == len(set(calls)) and set(calls) <= set(ips)
    expected = {ip: AsnDb.open(str(path)).lookup(ip).asn for ip in ips}
    assert dict(zip(traffic.by_ip["key"], traffic.by_ip["asn"])) == expected
    assert expected["198.51.100.1"] == 64500 and expected["198.51.100.129"] == 64501
    assert expected["198.51.100.200"] is None and expected["2001:db8:8000::1"] is None


def _expected_distinct(lines_frame, key_expr, k=256):
    """distinct_paths computed directly from every request: the count below k, else the KMV estimate
    from the kth-smallest distinct hash (the definition in proxygen.logs.aggregate)."""
    pairs = lines_frame.select(key_expr.alias("g"), (pl.col("path").hash() ^ pl.col("query").hash()).alias("h")).unique()
    out = {}
    for (g,), part in pairs.group_by("g"):
        hashes = sorted(part["h"].to_list())
        out[g] = len(hashes) if len(hashes) < k else round((k - 1) / (hashes[k - 1] / 2.0 ** 64))
    return out


def test_sketch_cutoffs_keep_distinct_paths_exact(tmp_path, monkeypatch, asn_db):
    """Busy IPs (above 256 distinct paths) share /24s and an ASN with small ones; with tiny batches and
    forced merges, full sketches drop hashes above their cutoff and group unions above their members'
    smallest cutoff. Every estimate must still equal the one computed from all requests."""
    lines = []
    for i in range(9000):
        if i % 3:  # two busy IPs in one /24 of Google's /19, thousands of distinct pages each
            ip = f"66.249.70.{i % 2 + 1}"
            request = f"GET /product/{i * 7919 % 5000}?page={i % 3} HTTP/1.1"
        else:  # small IPs in the same /24, the same ASN, and elsewhere
            ip = f"66.249.{70 + i % 3}.{10 + i % 11}"
            request = f"GET /search?q={i % 40} HTTP/1.1"
        lines.append(main_line(ip=ip, when=at_minute((i // 60) % 60, i % 60), request=request, ua=f"UA{i % 4}"))
    path = write_log(tmp_path, lines)
    monkeypatch.setattr(reader, "CHUNK_BYTES", 16384)
    monkeypatch.setattr(aggregate_module, "_COMPACT_ROWS", 400)
    traffic = aggregate(open_logs([path]), asn_db=asn_db)

    parsed = pl.concat(list(open_logs([path]).batches()))
    octets = pl.col("client_ip").str.split(".")
    prefix = pl.concat_str([octets.list.get(0), octets.list.get(1), octets.list.get(2)], separator=".") + ".0/24"
    for table, key_expr in ((traffic.by_ip, pl.col("client_ip")), (traffic.by_prefix, prefix),
                            (traffic.by_ua, pl.col("user_agent")), (traffic.by_asn, pl.lit(15169, dtype=pl.Int64))):
        expected = _expected_distinct(parsed, key_expr)
        got = dict(zip(table["key"].to_list(), table["distinct_paths"].to_list()))
        requests = dict(zip(table["key"].to_list(), table["requests"].to_list()))
        assert got == {g: min(n, requests[g]) for g, n in expected.items()}
    assert max(traffic.by_ip["distinct_paths"]) > 256 and max(traffic.by_prefix["distinct_paths"]) > 256


def test_distinct_paths_estimate_above_sketch_size(tmp_path):
    lines = [main_line(when=at_minute(i // 600, (i // 10) % 60), request=f"GET /product/{i} HTTP/1.1")
             for i in range(6000)]
    row = _row(aggregate(open_logs([write_log(tmp_path, lines)])).by_ip, "192.0.2.1")
    assert abs(row["distinct_paths"] - 6000) / 6000 < 0.2
    assert row["distinct_paths"] <= row["requests"]


def test_kmv_sketch_merge_is_exact_below_k_and_close_above():
    exact = pl.DataFrame({"k": [1] * 100, "h": pl.Series(range(100), dtype=pl.UInt64).hash()})
    assert estimate_distinct(trim_sketch(exact, "k"), "k")["distinct_paths"][0] == 100
    big = pl.DataFrame({"k": [1] * 50_000, "h": pl.Series(range(50_000), dtype=pl.UInt64).hash()})
    halves = pl.concat([trim_sketch(big[:25_000], "k"), trim_sketch(big[25_000:], "k")]).unique()
    estimate = estimate_distinct(trim_sketch(halves, "k"), "k")["distinct_paths"][0]
    assert abs(estimate - 50_000) / 50_000 < 0.2


def test_ip_prefixes():
    ips = pl.Series(["203.0.113.77", "2001:db8:1:2::5", "::ffff:198.51.100.9", "xx.xx.xx.xx", "999.1.1.1", None])
    assert ip_prefixes(ips, 24, 48).to_list() == [
        "203.0.113.0/24", "2001:db8:1::/48", "198.51.100.0/24", "xx.xx.xx.xx", "999.1.1.1", None]
    assert ip_prefixes(pl.Series(["203.0.113.77"]), 20, 64).to_list() == ["203.0.112.0/20"]


def test_empty_input_gives_empty_tables(tmp_path):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    traffic = aggregate(open_logs([str(path)]))
    assert traffic.by_ip.height == 0 and traffic.totals.lines == 0
    assert "requests" in traffic.by_ip.columns and "rc_search" in traffic.by_prefix.columns
    assert any("empty" in m for m in traffic.messages)


def test_totals(small_log):
    traffic = aggregate(open_logs([small_log]))
    assert (traffic.totals.lines, traffic.totals.parsed, traffic.totals.malformed) == (14, 14, 0)
    assert traffic.totals.first_time == datetime(2025, 1, 31, 12, 0, tzinfo=timezone.utc)
    assert traffic.totals.last_time == datetime(2025, 1, 31, 12, 5, tzinfo=timezone.utc)


def test_user_agent_family_column():
    from proxygen.logs.aggregate import ua_family

    uas = ["Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "python-requests/2.31.0",
           "Smoothie/4.17.0 (OFF app; Android 14)", "-",
           "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
           "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"]
    families = pl.DataFrame({"key": uas}).select(ua_family())["family"].to_list()
    assert families == ["Googlebot", "python-requests", "Smoothie", "-", "Firefox", "GPTBot"]


def test_by_ua_has_family(small_log):
    traffic = aggregate(open_logs([small_log]))
    assert _row(traffic.by_ua, "BotA/1.0")["family"] == "BotA"


def test_minute_tables_and_timelines_per_kind(small_log):
    traffic = aggregate(open_logs([small_log]))
    ip_minute = traffic.ip_minute
    assert set(ip_minute.columns) == {"key", "minute", "requests", "limited"}
    assert ip_minute.filter(pl.col("key") == "192.0.2.99")["requests"].to_list() == [1, 1]
    assert traffic.ua_minute.filter(pl.col("key") == "-")["requests"].sum() == 2
    assert traffic.timeline("ua", "BotA/1.0")["limited"].sum() == 2
    prefix = traffic.timeline("prefix", "192.0.2.0/24")
    assert prefix["requests"].to_list() == [11, 1]
    with pytest.raises(ValueError):
        traffic.timeline("country", "fr")


def test_flags_can_use_other_format_variables(small_log):
    flags = {"no_referer": pl.col("referer").is_null(), "cached": pl.col("upstream_cache_status") == "MISS"}
    row = _row(aggregate(open_logs([small_log]), flags=flags).by_ip, "192.0.2.10")
    assert row["flag_no_referer"] == 10 and row["flag_cached"] == 10


def test_asn_walk_gives_every_address_its_own_lookups_answer(tmp_path):
    """Property: over random databases and addresses (IPv4, IPv6, mapped, non-addresses), the walk in
    numeric order answers exactly what a lookup per address answers, asking about no address twice."""
    import ipaddress
    import sys

    import polars as pl
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    from proxygen.logs import AsnDb

    aggregate_module = sys.modules["proxygen.logs.aggregate"]
    v4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
    v4_near = st.integers(0, 3 * 256).map(lambda n: str(ipaddress.IPv4Address(0xC6336400 + n)))  # 198.51.100.0..
    v6 = st.integers(0, 2**20).map(lambda n: str(ipaddress.IPv6Address((0x20010DB8 << 96) + (n << 80))))
    weird = st.sampled_from(["::ffff:198.51.100.7", "unknown", "198.51.100.07", "::1", "fe80::1%eth0"])
    networks = st.lists(st.tuples(st.integers(0, 3 * 256 - 1), st.integers(22, 30)), max_size=6)
    counter = iter(range(10**6))

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(ips=st.lists(st.one_of(v4, v4_near, v6, weird), min_size=1, max_size=60, unique=True), nets=networks)
    def check(ips, nets):
        writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN")
        writer.insert_network(IPSet(["2001:db8::/40"]), {"autonomous_system_number": 1, "autonomous_system_organization": "one"})
        for i, (offset, length) in enumerate(nets):
            net = ipaddress.IPv4Network((0xC6336400 + offset, length), strict=False)
            writer.insert_network(IPSet([str(net)]), {"autonomous_system_number": 100 + i,
                                                      "autonomous_system_organization": f"org{i}"})
        path = tmp_path / f"db{next(counter)}.mmdb"
        writer.to_db_file(str(path))
        db = AsnDb.open(str(path))
        calls = _counting(db)
        keys = pl.DataFrame({"ip_h": pl.Series(range(len(ips)), dtype=pl.UInt64), "key": ips})
        got = aggregate_module._asn_of(keys, db)
        assert sorted(got["ip_h"].to_list()) == list(range(len(ips)))
        assert len(calls) == len(set(calls))
        reference = AsnDb.open(str(path))
        answers = dict(zip(got["ip_h"].to_list(), zip(got["asn"].to_list(), got["asn_org"].to_list())))
        for i, ip in enumerate(ips):
            info = reference.lookup(ip)
            assert answers[i] == (info.asn, info.org), ip

    check()
    saved = aggregate_module._WALK_SLICE
    aggregate_module._WALK_SLICE = 3  # networks running on across the walk's slices
    try:
        check()
    finally:
        aggregate_module._WALK_SLICE = saved
