"""PX110's model of nginx's location selection, checked against the real nginx.

Each scenario is a set of locations; nginx runs them on 127.0.0.1 (every location answers its own
label), and every URI PX110 would reason about (the candidates it derives, plus a few more) must
select the same location in the model as in nginx.
"""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import quote as urlquote

import pytest

from proxygen.compile.quote import quote
from proxygen.lint.rules._shared import Loc, candidate_uris, select
from tests.lint.nginx_run import running_nginx
from tests.ports import free_port

_MODIFIER = {"prefix": "", "prefix_priority": "^~ ", "exact": "= ", "regex": "~ ", "regex_i": "~* "}

SCENARIOS = {
    "regex-before-prefix": [("prefix", "/"), ("regex", "^/api"), ("prefix", "/api/"), ("regex", "^/api/v2/"),
                            ("prefix_priority", "/static/"), ("regex_i", r"^/static/.*\.(css|js)$")],
    "priority-root": [("prefix_priority", "/"), ("prefix", "/app/"), ("regex", r"\.php$"),
                      ("regex", r"^/static/.*\.css$")],
    "acme-and-dotfiles": [("prefix_priority", "/"), ("prefix", "/.well-known/acme-challenge/"), ("prefix", "/app/"),
                          ("regex", r"/\.(?!well-known/)"), ("regex", r"/\."), ("regex", r"\.php$")],
    "mixed": [("prefix", "/"), ("exact", "/"), ("prefix_priority", "/static/"), ("prefix", "/static/uploads/"),
              ("regex_i", r"\.(css|js)$"), ("regex", "^/api/v2/"), ("regex", "^/api/"),
              ("regex", "^/(api/v1|export)/"), ("exact", "/health"), ("prefix", "/web/database/"),
              ("regex", r"^/images/[0-9]+/.+\.jpe?g$"), ("prefix", "/images/")],
}
EXTRA_URIS = ["/", "/a", "/api", "/API/v2/x", "/static/X.CSS", "/x/y.php", "/app", "/images/12/a.jpg", "/health/"]


def _config(tmp: Path, port: int, locations: list[Loc]) -> str:
    blocks = "".join(
        f"        location {_MODIFIER[loc.match]}{quote(loc.path, regex=loc.match.startswith('regex'))} "
        f"{{ return 200 {quote(str(i))}; }}\n" for i, loc in enumerate(locations))
    temp = "".join(f"    {d}_temp_path {tmp / d};\n" for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"daemon off;\nworker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'};\n"
            f"events {{ worker_connections 64; }}\n"
            f"http {{\n    access_log off;\n{temp}"
            f"    server {{\n        listen 127.0.0.1:{port};\n{blocks}    }}\n}}\n")


def _get(port: int, uri: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", urlquote(uri, safe="/"))
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def _mismatches(tmp_path: Path, locations: list[Loc], uris: list[str]) -> list[tuple]:
    """(uri, what nginx selected, what the model selected) for every URI where they differ."""
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(_config(tmp_path, port, locations), encoding="utf-8")
    with running_nginx(tmp_path, conf, port):
        out = []
        for uri in uris:
            model = select(locations, uri)
            want = str(locations.index(model)) if model is not None else "404"
            got = _get(port, uri)
            got = got if got.isdigit() else "404"
            if got != want:
                out.append((uri, locations[int(got)].label if got != "404" else got, model.label if model else None))
        return out


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_model_selects_what_nginx_selects(name, tmp_path):
    locations = [Loc(match, path, i, f"{match} {path}") for i, (match, path) in enumerate(SCENARIOS[name])]
    uris = list(dict.fromkeys([u for loc in locations for u in candidate_uris(loc, locations)] + EXTRA_URIS))
    uris = [u for u in uris if u.isprintable()]
    assert len(uris) > 10
    assert _mismatches(tmp_path, locations, uris) == []


POOL = {
    "prefix": ["/", "/a", "/a/", "/a/b", "/ab", "/b/"],
    "prefix_priority": ["/", "/a", "/a/", "/a/b", "/b/"],
    "exact": ["/", "/a", "/a/b", "/b/c.png"],
    "regex": ["^/a", r"\.png$", "^/a/b", "b", "^/(a|b)/", "/a/.*x$", "^/b/[^/]+$"],
    "regex_i": ["^/A", r"\.PNG$", "^/AB"],
}
RANDOM_URIS = ["/", "/a", "/a/", "/a/b", "/a/bx", "/ab", "/ab/c", "/b/", "/b/c.png", "/A/x", "/a/b/c.PNG", "/x",
               "/a/x", "/b/c/d.png"]


@pytest.mark.parametrize("seed", range(5))
def test_model_agrees_with_nginx_on_random_location_sets(seed, tmp_path):
    """Seeded random mixes of every match kind (ties, nested prefixes, ^~ over regexes, case)."""
    import random

    rng = random.Random(seed)
    chosen, used = [], set()
    while len(chosen) < 9:
        match = rng.choice(sorted(POOL))
        path = rng.choice(POOL[match])
        key = ("prefix" if match == "prefix_priority" else match, path)  # nginx: /x and ^~ /x are one location
        if key not in used:
            used.add(key)
            chosen.append((match, path))
    locations = [Loc(match, path, i, f"{match} {path}") for i, (match, path) in enumerate(chosen)]
    uris = list(dict.fromkeys([u for loc in locations for u in candidate_uris(loc, locations)] + RANDOM_URIS))
    assert _mismatches(tmp_path, locations, uris) == [], chosen
