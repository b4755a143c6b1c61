"""Each built-in format on real lines, custom formats, nginx configs, detection."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest

from proxygen.errors import ProxygenError, UsageError
from proxygen.logs import BUILTIN_FORMATS, compile_format, open_logs, resolve_format
from proxygen.logs.formats import formats_in_nginx_conf
from proxygen.logs.parse import parse_lines

from .conftest import DATA, REAL_10K, main_line


def _real_samples() -> dict[str, str]:
    """The public real OFF lines, keyed by the format their comment names."""
    out, fmt = {}, None
    for line in (DATA / "off-sample-lines.txt").read_text().splitlines():
        if line.startswith("# format=main"):
            fmt = "main"
        elif line.startswith("# format=apache combined"):
            fmt = "combined"
        elif line.startswith("# Product Opener backend"):
            fmt = "proxied_requests"
        elif line and not line.startswith("#"):
            out[fmt] = line
    return out


def _parse(line: str, fmt: str) -> dict:
    frame, malformed = parse_lines(pl.Series([line]), resolve_format(fmt))
    assert malformed.len() == 0, f"{fmt} did not parse {line!r}"
    return frame.row(0, named=True)


def test_real_main_line():
    row = _parse(_real_samples()["main"], "main")
    assert row["client_ip"] == "31.0.95.153"
    assert row["time"] == datetime(2025, 1, 31, 12, 13, 9, tzinfo=timezone.utc)
    assert (row["method"], row["path"], row["query"], row["protocol"]) == (
        "GET", "/api/v3/product/5900116091877.json", None, "HTTP/2.0")
    assert row["status"] == 404 and row["bytes"] == 333
    assert row["referer"] is None
    assert row["user_agent"] == "ciboulette%20scan/38 CFNetwork/1568.200.51 Darwin/24.1.0"
    assert row["http_x_forwarded_for"] is None  # "-" is missing
    assert row["upstream_cache_status"] == "MISS" and row["upstream_response_time"] == "0.004"


def test_real_apache_combined_line_keeps_dash_user_agent():
    row = _parse(_real_samples()["combined"], "combined")
    # +0100 offset applied: 22:29:15+01:00 is 21:29:15 UTC
    assert row["time"] == datetime(2018, 11, 3, 21, 29, 15, tzinfo=timezone.utc)
    assert row["user_agent"] == "-"  # OFF tarpits exactly this UA: it must not become null
    assert row["bytes"] == 71


def test_real_backend_line_in_proxied_requests():
    row = _parse(_real_samples()["proxied_requests"], "proxied_requests")
    assert row["client_ip"] == "xx.xx.xx.xx"  # masked upstream, kept verbatim
    assert row["path"] == "/cgi/display.pl"
    assert row["query"] == "api/v2/product/0725439941235.json?fields=images,image_front_url"
    assert row["status"] == 429 and row["request_time"] == "0/4700"


def test_proxied_requests_client_is_last_forwarded_for():
    line = ('203.0.113.9, 198.51.100.7 - - [31/Jan/2025:12:00:00 +0000] "GET /product/1 HTTP/1.0" 200 10 "-" '
            '"curl/8.0" 0.012')
    row = _parse(line, "proxied_requests")
    assert row["client_ip"] == "198.51.100.7"
    assert row["http_x_forwarded_for"] == "203.0.113.9, 198.51.100.7"


def test_combined_upstream_line():
    line = ('192.0.2.4 - - [31/Jan/2025:12:00:00 +0000] "GET /images/products/1.jpg HTTP/1.1" 200 4096 "-" '
            '"Mozilla/5.0" c=HIT u=10.0.0.1:80, 10.0.0.2:80 t=0.001')
    row = _parse(line, "combined_upstream")
    assert row["upstream_cache_status"] == "HIT"
    assert row["upstream_addr"] == "10.0.0.1:80, 10.0.0.2:80"
    assert row["request_time"] == "0.001"


def test_main_upstream_response_time_list_and_escaped_quote():
    line = main_line(ua=r"Bot \x22quoted\x22", urt="0.004, 0.010", cache="-")
    row = _parse(line, "main")
    assert row["upstream_response_time"] == "0.004, 0.010"
    assert row["upstream_cache_status"] is None
    assert row["user_agent"] == r"Bot \x22quoted\x22"


def test_json_escaped_quote_goes_through_the_general_regex():
    line = main_line(ua=r'Bot \"quoted\"')
    assert _parse(line, "main")["user_agent"] == r'Bot \"quoted\"'


def test_garbage_request_line_parses_with_null_method():
    row = _parse(main_line(request=r"\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03", status=400), "main")
    assert row["method"] is None and row["path"] is None
    assert row["request"].startswith(r"\x16\x03")
    assert row["status"] == 400


def test_all_10k_real_lines_parse_with_zero_malformed():
    source = open_logs([REAL_10K])
    assert source.format.name == "combined" and source.detected
    rows = sum(b.height for b in source.batches())
    assert rows == 10_000
    assert (source.stats.lines_read, source.stats.parsed, source.stats.malformed) == (10_000, 10_000, 0)
    assert source.stats.first_time == datetime(2015, 5, 17, 10, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize("name", sorted(BUILTIN_FORMATS))
def test_builtin_formats_do_not_accept_each_other(name):
    """Detection relies on it: a line of one built-in format is malformed for the others."""
    samples = {
        "main": main_line(),
        "combined": '192.0.2.1 - - [31/Jan/2025:12:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua"',
        "common": '192.0.2.1 - - [31/Jan/2025:12:00:00 +0000] "GET / HTTP/1.1" 200 5',
        "combined_upstream": ('192.0.2.1 - - [31/Jan/2025:12:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" '
                              'c=MISS u=10.0.0.1:80 t=0.1'),
        "proxied_requests": '192.0.2.1 - - [31/Jan/2025:12:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" 0.1',
    }
    for other, line in samples.items():
        frame, _ = parse_lines(pl.Series([line]), resolve_format(name))
        assert frame.height == (1 if other == name else 0), (name, other)


def test_custom_format_string_names_every_variable():
    fmt = resolve_format('$remote_addr [$time_iso8601] $host "$request" $status $request_length rt=$request_time')
    assert fmt.name == "custom"
    line = '192.0.2.1 [2025-01-31T12:00:00+02:00] world.openfoodfacts.org "POST /cgi/a.pl?x=1 HTTP/1.1" 201 88 rt=0.3'
    frame, malformed = parse_lines(pl.Series([line]), fmt)
    row = frame.row(0, named=True)
    assert malformed.len() == 0
    assert row["time"] == datetime(2025, 1, 31, 10, 0, tzinfo=timezone.utc)
    assert (row["host"], row["method"], row["query"], row["request_length"], row["request_time"]) == (
        "world.openfoodfacts.org", "POST", "x=1", "88", "0.3")
    # standard columns exist even when the format lacks their variable
    assert row["user_agent"] is None and row["bytes"] is None


def test_format_without_variable_is_usage_error():
    with pytest.raises(UsageError, match="no \\$variable"):
        compile_format("just text")


def test_unknown_format_name_lists_known_ones():
    with pytest.raises(UsageError, match="unknown log format 'nope'.*main"):
        resolve_format("nope")


def test_format_from_proxygen_yml_names():
    fmt = resolve_format("edge", formats={"edge": '$remote_addr $msec "$http_user_agent"'})
    assert fmt.name == "edge" and fmt.variables == ("remote_addr", "msec", "http_user_agent")


def test_formats_read_from_an_nginx_config(tmp_path):
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        "http {\n"
        "  log_format main '$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent '\n"
        "                  '\"$http_referer\" \"$http_user_agent\"';\n"
        "  log_format jsonish escape=json '$remote_addr $msec $status';\n"
        "  server { listen 8080; access_log /dev/null main; }\n"
        "}\n")
    found = formats_in_nginx_conf(str(conf))
    assert found["main"] == BUILTIN_FORMATS["combined"]
    assert found["jsonish"] == "$remote_addr $msec $status"
    assert resolve_format("jsonish", nginx_conf=str(conf)).variables == ("remote_addr", "msec", "status")
    with pytest.raises(UsageError, match=f"nor in {conf}"):
        resolve_format("other", nginx_conf=str(conf))


def test_off_log_format_snippet_outside_http_block(tmp_path):
    """OFF keeps log_format in a snippet file (no http block): still readable."""
    snippet = tmp_path / "log_format.conf"
    snippet.write_text("log_format main '$remote_addr - $remote_user [$time_local] \"$request\" $status';\n")
    assert formats_in_nginx_conf(str(snippet)) == {"main": '$remote_addr - $remote_user [$time_local] "$request" $status'}


def test_missing_nginx_conf_is_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        formats_in_nginx_conf(str(tmp_path / "none.conf"))


def test_detection_picks_main_for_off_lines(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("\n".join(main_line(ip=f"192.0.2.{i}") for i in range(50)) + "\n")
    source = open_logs([str(log)])
    assert source.detected and source.format.name == "main"
    assert source.detection_scores["main"] == 1.0 and source.detection_scores["combined"] == 0.0


def test_detection_prefers_proxygen_yml_formats(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("192.0.2.1 1738324800.123 GET /x 200\n" * 5)
    source = open_logs([str(log)], formats={"tiny": "$remote_addr $msec $verb $uri $status"})
    assert source.format.name == "tiny"
    batch = next(source.batches())
    assert batch["time"][0] == datetime(2025, 1, 31, 12, 0, 0, 123000, tzinfo=timezone.utc)
    assert batch["verb"][0] == "GET" and batch["status"][0] == 200


def test_format_without_time_is_refused():
    with pytest.raises(UsageError, match="no time variable"):
        resolve_format("$remote_addr $status")


def test_detection_failure_names_formats_and_shows_a_line(tmp_path):
    log = tmp_path / "weird.log"
    log.write_text("this is not an access log\n" * 10)
    with pytest.raises(ProxygenError) as err:
        open_logs([str(log)])
    message = str(err.value)
    assert str(log) in message
    for name in BUILTIN_FORMATS:
        assert name in message
    assert "this is not an access log" in message
    assert "--format" in message


def _write(path, text):
    path.write_text(text)
    return path


def test_a_given_format_that_does_not_fit_the_log_stops_and_names_those_that_do(tmp_path):
    """--format main on an Apache combined log would read 0 lines and report "no findings"."""
    log = tmp_path / "access.log"
    log.write_text(gzip.decompress(Path(REAL_10K).read_bytes()).decode().split("\n", 1)[0] + "\n")
    with pytest.raises(ProxygenError) as err:
        open_logs([str(log)], "main")
    message = str(err.value)
    assert f"{log}: --format main parses 0 of the first 1 lines: it is not this log's format" in message
    assert "First line: 83.149.9.216 - - [17/May/2015:10:05:03 +0000]" in message
    assert "Formats that parse them: combined (100%)" in message
    with pytest.raises(ProxygenError, match=r"(?s)--format '\$remote_addr \[\$time_local\]' parses 0 .*No known format"):
        open_logs([str(_write(tmp_path / "notes.txt", "hello world\n" * 3))], "$remote_addr [$time_local]")


def test_a_given_format_tolerates_a_minority_of_bad_lines_and_an_empty_log(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("\n".join(["garbage"] * 2 + [main_line()] * 3) + "\n")
    source = open_logs([str(log)], "main")
    list(source.batches())
    assert (source.stats.parsed, source.stats.malformed) == (3, 2)
    (tmp_path / "empty.log").write_text("")
    assert list(open_logs([str(tmp_path / "empty.log")], "combined").batches()) == []


def test_nginx_conf_that_is_no_config_names_the_file(tmp_path):
    junk = tmp_path / "GeoLite2-ASN.mmdb"  # a plausible wrong file
    junk.write_bytes(b"\xab\xcd\xefMaxMind.com junk")
    with pytest.raises(ProxygenError, match=rf"{junk}: could not read log formats:\n{junk}: not nginx config syntax"):
        formats_in_nginx_conf(str(junk))


def test_detection_tolerates_a_minority_of_bad_lines(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("\n".join([main_line()] * 8 + ["garbage"] * 2) + "\n")
    source = open_logs([str(log)])
    assert source.format.name == "main"
    list(source.batches())
    assert source.stats.malformed == 2 and source.stats.parsed == 8


def test_builtins_match_offs_real_nginx_configs():
    """The built-in formats are OFF's own (copies of its configs in tests/logs/data)."""
    assert formats_in_nginx_conf(str(DATA / "proxy-off-log_format.conf")) == {"main": BUILTIN_FORMATS["main"]}
    assert formats_in_nginx_conf(str(DATA / "images-off-log_format.conf")) == {
        "combined_upstream": BUILTIN_FORMATS["combined_upstream"]}
    # Hetzner names the same format main_upstream: usable with --nginx-conf and --format main_upstream
    hetzner = str(DATA / "hetzner-02-log_format.conf")
    assert resolve_format("main_upstream", nginx_conf=hetzner).format == BUILTIN_FORMATS["main"]
