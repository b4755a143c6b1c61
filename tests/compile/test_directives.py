"""proxygen's directive table against crossplane's: it knows what nginx >= 1.25 accepts."""

from __future__ import annotations

import pytest

from proxygen.compile.check import check_directives, parse
from proxygen.compile.directives import DIRECTIVES, FORBIDDEN

RECENT = """http {
    keepalive_time 1h;
    server {
        listen 443 ssl;
        http2 on;
        ssl_reject_handshake on;
        limit_req_dry_run on;
    }
    map $a $b { default 0; ~^x 1; }
    geo $c { default 0; 10.0.0.0/8 1; }
}
"""


def test_recent_directives_pass_our_table():
    assert check_directives(parse(RECENT, "r.conf"), "r.conf", (1, 25, 1)) == []


def test_crossplane_table_rejects_what_nginx_accepts(tmp_path):
    """Why proxygen has its own table: crossplane's strict analysis refuses valid modern config."""
    import crossplane

    path = tmp_path / "r.conf"
    path.write_text(RECENT)
    parsed = crossplane.parse(str(path), single=True, strict=True)
    messages = " ".join(e["error"] for e in parsed["errors"])
    assert parsed["status"] == "failed" and "http2" in messages


@pytest.mark.parametrize("name,version", [("http2", (1, 25, 0)), ("ssl_reject_handshake", (1, 19, 3)),
                                          ("keepalive_time", (1, 19, 9)), ("limit_req_dry_run", (1, 17, 0))])
def test_minimum_versions(name, version):
    spec = DIRECTIVES[name]
    assert spec.since is not None and version < spec.since
    ctx = "server" if "server" in spec.contexts else "http"
    problems = check_directives(parse(f"{name} on;\n", "v.conf"), "v.conf", version, ctx)
    assert [p.message for p in problems] == [
        f"{name} needs nginx >= {'.'.join(map(str, spec.since))}; the host targets {'.'.join(map(str, version))}"]


def test_forbidden_escape_hatch_directives_are_in_the_table():
    # every forbidden name is a real directive (so the message explains instead of "unknown")
    assert set(FORBIDDEN) <= set(DIRECTIVES)
