"""simulate picks locations as nginx does (`^~` stops the regex search) and reads proxygen.yml's shared maps."""

from __future__ import annotations

import polars as pl

from proxygen.model.settings import Settings
from proxygen.model.site import Site
from proxygen.simulate.sites import SiteRules

SETTINGS = Settings.model_validate({
    "hosts": {"edge": {"nginx_version": "1.22.1", "sites": ["app"]}},
    "log_formats": {"main": "$remote_addr $status"},
    "rate_limit_zones": {"per-ip": {"key": "$shared_key", "rate": "15r/m"}},
    "maps": [{"variable": "$shared_key", "source": "$proxygen_allowlisted_ip", "default": "$binary_remote_addr",
              "entries": [{"exact": "1", "value": ""}]}],
    "allowlists": {"networks": [{"cidr": "10.0.0.0/8", "reason": "internal"}]},
})
SITE = Site.model_validate({
    "name": "app", "server_names": ["app.example.org"],
    "locations": [
        {"path": "/", "return": 200},
        {"path": "/static/", "match": "prefix_priority", "return": 204},
        {"path": r"\.js$", "match": "regex", "return": 403},
        {"path": "/api/", "return": 201},
    ],
})
CASES = {"/static/app.js": 1, "/static/": 1, "/lib/app.js": 2, "/api/x.js": 2, "/api/x": 3, "/": 0, "/x": 0}


def test_prefix_priority_stops_the_regex_search_in_both_matchers():
    rules = SiteRules(SITE, SETTINGS)
    assert {p: rules.location_for(p) for p in CASES} == CASES
    assert rules.locations_of(pl.Series(list(CASES))).to_list() == list(CASES.values())


def test_zone_keys_read_proxygen_yml_shared_maps():
    rules = SiteRules(SITE, SETTINGS)
    key = rules.key_getter("$shared_key")
    assert key({"ip": "192.0.2.7", "ua": "x", "method": "GET"}) == "192.0.2.7"
    assert "shared_key" not in rules.vars.unknown_variables
    assert key({"ip": "10.1.2.3", "ua": "x", "method": "GET"}) == ""
