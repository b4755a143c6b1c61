"""PX207: nginx's stub_status page reachable by anyone."""

from __future__ import annotations

import ipaddress

from proxygen.lint.rule import Rule
from proxygen.lint.rules._security import directive_entry, hit_at, host_trees, declaration, own, restricted, walk_places


def _local(address: str) -> bool:
    """A listen address only this machine can reach (127.0.0.0/8, ::1, a unix socket)."""
    if address.startswith("unix:"):
        return True
    host = address.rsplit(":", 1)[0] if not address.startswith("[") else address[1:address.find("]")]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a bare port or '*': every interface


def local_only(server) -> bool:
    listens = [p.node.args[0] for p in own(server, "listen") if p.node.args]
    return bool(listens) and all(_local(a) for a in listens)


def problems(top) -> list:
    out = []
    for p in walk_places(top):
        if p.node.name != "stub_status" or not p.parents:
            continue
        block = p.parents[-1]
        server = p.server()
        if restricted(block) or (server is not None and local_only(server)):
            continue
        out.append(p)
    return out


def check(ctx):
    for host, top in host_trees(ctx):
        for status in problems(top):
            _, _, opts = declaration(ctx, status)
            yield hit_at(ctx, status, "stub_status is reachable from anywhere (no deny rule, no basic auth, "
                                      "public listen); add `access: {allow: [<monitoring networks>], deny: [all]}`",
                         directive_entry(opts, status.node), ("hosts", host))


RULE = Rule(
    code="PX207", name="status-page-exposed", severity="warning",
    summary="stub_status reachable from anywhere: no deny rule or basic auth, on a listen that is not loopback-only.",
    doc="""`stub_status` shows active connections and request counters: a live load gauge for whoever
is flooding the proxy, and a detail that only monitoring needs. Fix: restrict the location with
`access: {allow: [<monitoring networks>], deny: [all]}` (or basic auth), or serve it only on a
loopback listen. (gixy: status_page_exposed)""",
    check=check, needs_build=True,
)
