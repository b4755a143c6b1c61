"""The synthetic generator: reproducible, time-ordered, labelled, parseable, covered by its ASN database."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import maxminddb
import polars as pl

from proxygen.logs import aggregate, open_logs
from proxygen.synth import GOOGLEBOT_UA, SCENARIOS, generate


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    generate(tmp_path / "a.log", lines=3000, seed=7)
    generate(tmp_path / "b.log", lines=3000, seed=7)
    generate(tmp_path / "c.log", lines=3000, seed=8)
    assert (tmp_path / "a.log").read_bytes() == (tmp_path / "b.log").read_bytes()
    assert (tmp_path / "a.log.labels").read_bytes() == (tmp_path / "b.log.labels").read_bytes()
    assert (tmp_path / "a.log").read_bytes() != (tmp_path / "c.log").read_bytes()
    generate(tmp_path / "d.log.gz", lines=3000, seed=7)
    generate(tmp_path / "e.log.gz", lines=3000, seed=7)
    assert (tmp_path / "d.log.gz").read_bytes() == (tmp_path / "e.log.gz").read_bytes()


def test_bundled_sample_is_the_generators_output(tmp_path):
    """examples/access-sample.log.gz is `generate(lines=30000, seed=42)`: regenerate it, same bytes."""
    bundled = Path(__file__).resolve().parents[2] / "examples" / "access-sample.log.gz"
    generate(tmp_path / "access-sample.log.gz", lines=30_000, seed=42)
    assert (tmp_path / "access-sample.log.gz").read_bytes() == bundled.read_bytes()
    assert bundled.stat().st_size < 1024 * 1024


def test_lines_parse_in_main_format_in_time_order_with_one_label_each(tmp_path):
    labels_path = generate(tmp_path / "s.log.gz", lines=20_000, seed=1)
    source = open_logs([str(tmp_path / "s.log.gz")])
    frame = pl.concat(list(source.batches()))
    assert source.format.name == "main" and source.stats.malformed == 0
    assert frame.height == 20_000 and frame["time"].is_sorted()
    labels = labels_path.read_text().splitlines()
    assert len(labels) == 20_000
    assert set(labels) == set(SCENARIOS)


def test_scenarios_have_their_shapes(tmp_path, asn_db):
    labels_path = generate(tmp_path / "s.log", lines=60_000, seed=3)
    labels = pl.Series("label", labels_path.read_text().splitlines())
    frame = pl.concat(list(open_logs([str(tmp_path / "s.log")]).batches())).with_columns(labels)
    traffic = aggregate(open_logs([str(tmp_path / "s.log")]), asn_db=asn_db)

    def ips(label):
        return frame.filter(pl.col("label") == label)["client_ip"].unique()

    # distributed crawl: hundreds of IPs, several /24s, one ASN, each under 10 requests a minute
    dist = traffic.by_ip.filter(pl.col("key").is_in(ips("abuse:distributed_asn").implode()))
    assert dist.height >= 200 and dist["asn"].n_unique() == 1 and dist["prefix"].n_unique() >= 5
    assert dist["sustained_rpm"].max() < 10 and dist["peak_rpm"].median() < 10
    # office NAT: one IP, many browser UAs
    office = ips("legit:office_nat")
    assert office.len() == 1
    assert traffic.by_ip.filter(pl.col("key") == office[0])["n_uas"][0] >= 20
    # mobile app: thousands of IPs in residential ASNs
    app = frame.filter(pl.col("label") == "legit:mobile_app")
    assert app["client_ip"].n_unique() > 1000 and app["user_agent"].str.starts_with("Smoothie/").all()
    # real and fake Googlebot share the UA; only the real one is in Google's range and ASN
    real = traffic.by_ip.filter(pl.col("key").is_in(ips("legit:googlebot").implode()))
    fake = traffic.by_ip.filter(pl.col("key").is_in(ips("abuse:fake_googlebot").implode()))
    assert (real["asn"] == 15169).all() and real["key"].str.starts_with("66.249.").all()
    assert (fake["asn"] != 15169).all()
    assert (frame.filter(pl.col("label").is_in(["legit:googlebot", "abuse:fake_googlebot"]))["user_agent"]
            == GOOGLEBOT_UA).all()
    # ignores limits: mostly 429 and keeps going after them
    ignorer = traffic.by_ip.filter(pl.col("key").is_in(ips("abuse:ignores_limits").implode())).row(0, named=True)
    assert ignorer["limited"] > ignorer["requests"] * 0.5 and ignorer["after_limited"] > ignorer["requests"] * 0.9
    # probing: mostly 404 on well-known sensitive paths
    probes = frame.filter(pl.col("label") == "abuse:probing")
    assert (probes["status"] == 404).mean() > 0.8
    # the database covers every address the generator uses
    assert traffic.by_ip["asn"].null_count() == 0


def test_mmdb_is_small_and_readable(asn_db):
    import os

    assert os.path.getsize(asn_db) < 64 * 1024
    with maxminddb.open_database(asn_db) as db:
        assert db.get("66.249.66.1")["autonomous_system_number"] == 15169
        assert db.get("2a01:cb00::1")["autonomous_system_organization"] == "Orange S.A."
        assert db.get("192.0.2.1") is None


def test_command_line_entry(tmp_path):
    out = subprocess.run([sys.executable, "-m", "proxygen.synth", "--lines", "500", "--seed", "2",
                          "--out", str(tmp_path / "x.log"), "--asn-db", str(tmp_path / "x.mmdb")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert len((tmp_path / "x.log").read_text().splitlines()) == 500
    assert (tmp_path / "x.mmdb").stat().st_size > 0
    assert Counter((tmp_path / "x.log.labels").read_text().split())["legit:browser"] > 100
