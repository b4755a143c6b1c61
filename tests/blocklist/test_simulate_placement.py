"""simulate runs, in every block of a site, the limits the built config has there, with that block's
limit_req_dry_run: the built files are read back with nginx's inheritance (a block with limit_req of
its own inherits none; limit_req_dry_run is inherited unless set) and compared with the Simulator,
for enforced, mixed and all-dry-run zones and every kind of server- and location-level setting."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

import crossplane
import pytest
import yaml

from proxygen.compile.build import build
from proxygen.compile.output import write_build
from proxygen.model import load_repository
from proxygen.simulate.run import prepare
from throttles import edge_settings

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)
BACKEND = {"url": "http://10.0.0.3:9000"}
SETTINGS = edge_settings("60r/m")
LIMIT = [{"zone": "per-ip", "burst": 5, "nodelay": True}]
LOCATIONS = [
    {"path": "/", "proxy": BACKEND},
    {"path": "/own/", "proxy": BACKEND, "rate_limits": LIMIT},
    {"path": "/own-dry/", "proxy": BACKEND, "rate_limits": LIMIT, "rate_limit_dry_run": True},
    {"path": "/own-enforced/", "proxy": BACKEND, "rate_limits": LIMIT, "rate_limit_dry_run": False},
]
ZONES = {
    "enforced": "  a: {rate: 1r/m, burst: 1}\n  b: {rate: 2r/m, burst: 2}\n",
    "mixed": "  a: {rate: 1r/m, burst: 1}\n  b: {rate: 2r/m, burst: 2, dry_run: true}\n",
    "all-dry": "  a: {rate: 1r/m, burst: 1, dry_run: true}\n  b: {rate: 2r/m, burst: 2, dry_run: true}\n",
}
ENTRIES = """\
entries:
  - cidr: 192.0.2.0/24
    action: throttle
    zone: a
    reason: r
  - user_agent: Bot
    action: throttle
    zone: b
    reason: r
"""
SERVER_LEVEL = {"none": {}, "limits": {"rate_limits": LIMIT},
                "dry": {"rate_limits": LIMIT, "rate_limit_dry_run": True},
                "dry-only": {"rate_limit_dry_run": False}}


def _blocks(conf_dir):
    """{location path or None (the server block): (limit_req zones in order, limit_req_dry_run)}."""
    def parse(path):
        return crossplane.parse(str(path), single=True, comments=False, check_ctx=False, check_args=False)["config"][0]["parsed"]

    snippet = parse(conf_dir / "snippets/crawler-defence.conf")
    server = next(d for d in parse(conf_dir / "sites/shop.conf") if d["directive"] == "server")
    body = []
    for d in server["block"]:
        body.extend(snippet if d["directive"] == "include" and "crawler-defence" in d["args"][0] else [d])

    def own(block):
        zones = [d["args"][0][len("zone="):] for d in block if d["directive"] == "limit_req"]
        dry = [d["args"][0] == "on" for d in block if d["directive"] == "limit_req_dry_run"]
        return zones, (dry[-1] if dry else None)

    server_zones, server_dry = own(body)
    out = {None: (server_zones, bool(server_dry))}
    for d in body:
        if d["directive"] == "location":
            zones, dry = own(d["block"])
            out[d["args"][-1]] = (zones or server_zones, bool(server_dry) if dry is None else dry)
    return out


@pytest.mark.parametrize("zones,server_level", list(itertools.product(ZONES, SERVER_LEVEL)))
def test_simulate_runs_the_built_limits_in_every_block(tmp_path, zones, server_level):
    (tmp_path / "sites").mkdir()
    (tmp_path / "proxygen.yml").write_text(yaml.safe_dump(SETTINGS))
    site = {"server_names": ["shop.example.org"], "crawler_defence": True, "pages": ["stop-crawling.txt"],
            "locations": LOCATIONS, **SERVER_LEVEL[server_level]}
    (tmp_path / "sites/shop.yml").write_text(yaml.safe_dump(site))
    (tmp_path / "blocklists").mkdir()
    (tmp_path / "blocklists/manual.yml").write_text("zones:\n" + ZONES[zones] + ENTRIES)
    write_build(build(load_repository(tmp_path), "edge"), tmp_path / "out")
    built = _blocks(tmp_path / "out/edge")

    sim = prepare(config=tmp_path / "proxygen.yml", site="shop", now=NOW, good_bots=[]).simulator
    simulated = {None: sim.limits_at(-1)}
    for i, loc in enumerate(LOCATIONS):
        simulated[loc["path"]] = sim.limits_at(i)
    for where, limits in simulated.items():
        names = [lim.zone.removeprefix("blocklist:") for lim in limits]
        index = -1 if where is None else [loc["path"] for loc in LOCATIONS].index(where)
        assert (names, sim.dry_run_at(index)) == built[where], where
    # the mixed and all-dry-run cases really differ between blocks (the comparison is not vacuous)
    if zones != "enforced":
        assert len({tuple(z) for z, _ in built.values()}) > 1 or len({d for _, d in built.values()}) > 1


def _two_hosts(tmp_path):
    settings = {**SETTINGS, "hosts": {"a": {"nginx_version": "1.22.1", "sites": ["shop"]},
                                      "b": {"nginx_version": "1.22.1", "sites": ["shop", "other"]}}}
    (tmp_path / "sites").mkdir()
    (tmp_path / "proxygen.yml").write_text(yaml.safe_dump(settings))
    base = {"crawler_defence": True, "pages": ["stop-crawling.txt"], "locations": LOCATIONS}
    (tmp_path / "sites/shop.yml").write_text(yaml.safe_dump({**base, "server_names": ["shop.example.org"]}))
    (tmp_path / "sites/other.yml").write_text(yaml.safe_dump({**base, "server_names": ["other.example.org"],
                                                              "rate_limits": LIMIT}))
    (tmp_path / "blocklists").mkdir()
    (tmp_path / "blocklists/manual.yml").write_text("zones:\n" + ZONES["all-dry"] + ENTRIES)


def test_a_site_on_hosts_that_place_zones_differently_is_simulated_as_on_the_first_with_a_warning(tmp_path):
    _two_hosts(tmp_path)
    prepared = prepare(config=tmp_path / "proxygen.yml", site="shop", now=NOW, good_bots=[])
    # host a: only shop, so the server block is dry-run with both zones; on b, other's limits prevent it
    assert [lim.zone for lim in prepared.simulator.limits_at(0)] == ["blocklist:a", "blocklist:b"]
    assert prepared.simulator.dry_run_at(0)
    assert any(w.startswith("blocklists/ throttle zones are placed differently on host(s) b than on a")
               for w in prepared.warnings)


def test_without_a_site_dry_run_zones_beside_enforced_ones_are_not_replayed_and_say_so(tmp_path):
    from proxygen.blocklist.render import render_data
    from proxygen.blocklist.store import load_blocklists
    from proxygen.simulate.engine import Simulator
    from proxygen.simulate.rules import BlocklistRules

    (tmp_path / "manual.yml").write_text("zones:\n" + ZONES["mixed"] + ENTRIES)
    sim = Simulator(BlocklistRules(render_data(load_blocklists(tmp_path), None, NOW)))
    assert [lim.zone for lim in sim.limits_at(-1)] == ["blocklist:a"] and not sim.dry_run_at(-1)
    assert any("dry-run zone(s) b are not in the crawler-defence server block" in w for w in sim.warnings)
    # a client throttled by the dry-run zone alone is never limited; by the enforced one, rejected after its burst
    assert {sim.request(1_000_000, "198.51.100.1", "Bot/1", "/").kind for _ in range(5)} == {"allowed"}
    assert [sim.request(1_000_000, "192.0.2.1", "Mozilla", "/").status for _ in range(3)] == [None, None, 429]
