"""Helpers for compiler tests: a throwaway repository with proxygen.yml and chosen sites."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

SETTINGS = {
    "hosts": {
        "edge": {"nginx_version": "1.27.4", "sites": ["full"]},
        "old": {"nginx_version": "1.22.1", "sites": []},
    },
    "log_formats": {"main": '$remote_addr "$request" $status'},
    "rate_limit_zones": {"per-ip": {"key": "$binary_remote_addr", "rate": "15r/m"}},
    "cache_zones": {"c1": {"path": "c1", "size": "10m"}},
    "header_sets": {"backend": {"Host": "$host", "X-Real-IP": "$remote_addr"}},
    "error_pages": {503: "503.html"},
    "pages": ["stop-crawling.txt"],
    "allowlists": {
        "networks": [{"cidr": "10.0.0.0/8", "reason": "internal"}],
        "user_agents": [{"pattern": "Smoothie", "reason": "our app"},
                        {"pattern": "PartnerBot", "reason": "partner", "networks": ["192.0.2.0/24"]}],
    },
}

# A site that uses every field of the model at least once (the injection corpus walks its strings).
FULL_SITE = {
    "description": "a site using every field",
    "server_names": ["full.example.org", "*.full.example.org"],
    "tls": {"certificate": "full.example.org", "hsts": {"include_subdomains": True}},
    "crawler_defence": True,
    "upstreams": {
        "pool": {"servers": [{"address": "10.0.0.1:8080", "weight": 2, "max_fails": 3, "fail_timeout": "30s"},
                             {"address": "10.0.0.2:8080", "backup": True}],
                 "keepalive": 16, "keepalive_timeout": "60s"},
    },
    "header_set": "backend",
    "proxy_headers": {"X-Forwarded-Proto": "https"},
    "headers": [{"name": "X-Frame-Options", "value": "DENY", "always": True}],
    "client_max_body_size": "20M",
    "intercept_errors": True,
    "timeouts": {"read": "90s"},
    "logs": {"access": {"format": "main", "file": "full.log", "buffer": "256K", "flush": "1s", "if": "$loggable"},
             "error": {"file": "full.err", "level": "warn"}},
    "error_pages": [503],
    "pages": ["stop-crawling.txt"],
    "maps": [{"variable": "$loggable", "source": "$status", "default": "1",
              "entries": [{"exact": "200", "value": "0"}, {"regex": "^3", "value": "0"}]}],
    "geos": [{"variable": "$office", "default": "0", "entries": [{"network": "192.0.2.0/24", "value": "1"}]}],
    "rules": [{"variable": "$http_user_agent", "equals": "BadBot", "return": 403}],
    "directives": [{"name": "gzip_types", "args": ["text/css", "application/json"]}],
    "locations": [
        {"path": "/api/", "rate_limits": [{"zone": "per-ip", "burst": 10, "nodelay": True}],
         "rate_limit_status": 429, "rate_limit_dry_run": True,
         "cache": {"zone": "c1", "key": "$host$request_uri", "valid": [{"codes": [200], "time": "5m"}]},
         "headers": [{"name": "X-Api", "value": "yes"}],
         "proxy": {"upstream": "pool", "uri": "$request_uri", "websocket": True}},
        {"path": "^/search", "match": "regex_i",
         "rules": [{"variable": "$http_user_agent", "matches_i": "scrapy", "rewrite": "/stop-crawling.txt"}],
         "proxy": {"url": "http://10.0.0.3:9000", "redirect": False}},
        {"path": "/static/", "static": {"root": "/srv/static", "try_files": ["$uri", "$uri/"],
                                        "fallback": "@backend", "expires": "1h", "index": ["index.html"]}},
        {"path": "@backend", "match": "named", "proxy": {"upstream": "pool"}},
        {"path": "/admin", "basic_auth": {"realm": "Admins only", "user_file": "/etc/nginx/admin.htpasswd"},
         "access": {"allow": ["10.0.0.0/8"], "deny": ["all"]}, "proxy": {"upstream": "pool"}},
        {"path": "/old", "match": "exact", "redirect": {"to": "https://new.example.org", "status": 308}},
        {"path": "/gone", "return": {"status": 410, "text": "gone"}},
        {"path": "/secret", "match": "prefix_priority", "deny": True},
    ],
}


def write_repo(root: Path, settings: dict | None = None, sites: dict[str, dict] | None = None) -> Path:
    settings = copy.deepcopy(SETTINGS if settings is None else settings)
    sites = {"full": FULL_SITE} if sites is None else sites
    (root / "sites").mkdir(parents=True, exist_ok=True)
    (root / "proxygen.yml").write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True))
    for name, site in sites.items():
        (root / "sites" / f"{name}.yml").write_text(yaml.safe_dump(site, sort_keys=False, allow_unicode=True))
    return root


@pytest.fixture
def repo_dir(tmp_path):
    return write_repo(tmp_path)
