"""nginx's limit_req, request for request (ngx_http_limit_req_module.c, nginx 1.17.6+ incl. 1.22).

A zone keeps, per key, a node {excess, last}: `excess` is in milli-requests, `last` a millisecond
clock. `rate` is milli-requests per second (`15r/m` -> 15 * 1000 / 60 = 250, integer division).
For a request at `now` (ms) with an existing node:

    ms = now - last            (ms < -60000 -> 1; -60000 <= ms < 0 -> 0)
    excess = node.excess - rate * ms / 1000 + 1000      (C integer division), clamped at 0
    excess > burst * 1000  -> BUSY (rejected); the node is left unchanged

A new key starts with excess 0. Only accepted requests store the new excess (and `last`, when
ms != 0). Then the request is delayed by `(excess - delay) * 1000 / rate` ms when excess exceeds
`delay` (`delay = 0` by default, `nodelay` = never, `delay=N` = N requests undelayed).

Several `limit_req` in one location run in order: each earlier limit is looked up without
accounting (BUSY stops everything and nothing is accounted anywhere); the last one with a
non-empty key is accounted on lookup, and when none is BUSY every earlier node is accounted too.
An empty key skips that limit. The delay is the largest over the limits. `limit_req_dry_run`
(per location) turns BUSY/delay into "would have" outcomes: the request passes and nothing is
accounted for a would-be rejection.

Idle nodes are dropped as nginx does: on creating a node, up to two least-recently-used nodes
unused for >= 60 s whose excess has fully leaked are removed (a removed key restarts at excess 0,
which a kept node would not). Running out of zone memory (forced eviction) is not modelled.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

# Outcomes (nginx's $limit_req_status names).
PASSED = "PASSED"
DELAYED = "DELAYED"
REJECTED = "REJECTED"
DELAYED_DRY_RUN = "DELAYED_DRY_RUN"
REJECTED_DRY_RUN = "REJECTED_DRY_RUN"
NOT_LIMITED = ""           # every key empty: limit_req did nothing

_NO_DELAY = (2**63 - 1) // 1000  # what nodelay sets delay to (NGX_MAX_INT_T_VALUE / 1000)


@dataclass(frozen=True)
class Limit:
    """One `limit_req zone=... burst=... [nodelay | delay=N]` line."""

    zone: str
    rate: int                 # milli-requests per second (the zone's)
    burst: int = 0            # requests
    nodelay: bool = False
    delay: int = 0            # requests served without delay (nginx's delay=N); ignored with nodelay

    @property
    def burst_milli(self) -> int:
        return self.burst * 1000

    @property
    def delay_milli(self) -> int:
        return _NO_DELAY if self.nodelay else self.delay * 1000


@dataclass(frozen=True)
class Verdict:
    status: str               # one of the outcomes above
    zone: str | None = None   # the zone that rejected or delayed
    delay_ms: int = 0


class Zones:
    """The shared-memory state of every zone: key -> [excess, last], in LRU order (oldest first).

    A batch replay may set many nodes at once as a polars frame (`defer`): they are newer than the
    dictionary's and join it when the zone is read (`zone`), or key by key (`pull`), so bulk
    updates never go through Python one node at a time."""

    def __init__(self) -> None:
        self.nodes: dict[str, OrderedDict] = {}
        self.deferred: dict[str, object] = {}      # zone -> DataFrame key, excess, last (unique keys)

    def zone(self, name: str) -> OrderedDict:
        """The zone's nodes, complete."""
        nodes = self.table(name)
        frame = self.deferred.pop(name, None)
        if frame is not None and frame.height:
            nodes.update(zip(frame["key"].to_list(),
                             map(list, zip(frame["excess"].to_list(), frame["last"].to_list()))))
        return nodes

    def table(self, name: str) -> OrderedDict:
        """The zone's dictionary, without the deferred nodes (which are newer)."""
        nodes = self.nodes.get(name)
        if nodes is None:
            nodes = self.nodes[name] = OrderedDict()
        return nodes

    def defer(self, name: str, frame) -> None:
        """Set nodes from a frame key, excess, last (unique keys)."""
        import polars as pl

        old = self.deferred.get(name)
        if old is not None and old.height:
            frame = pl.concat([old.filter(~pl.col("key").is_in(frame["key"].implode())), frame])
        self.deferred[name] = frame

    def pull(self, name: str, keys) -> None:
        """Move the deferred nodes of `keys` (a polars Series) into the dictionary."""
        import polars as pl

        frame = self.deferred.get(name)
        if frame is None or not frame.height:
            return
        wanted = pl.col("key").is_in(keys.implode())
        moving = frame.filter(wanted)
        if moving.height:
            self.table(name).update(zip(moving["key"].to_list(),
                                        map(list, zip(moving["excess"].to_list(), moving["last"].to_list()))))
            self.deferred[name] = frame.filter(~wanted)


def _elapsed(now: int, last: int) -> int:
    ms = now - last
    if ms < -60000:
        return 1
    if ms < 0:
        return 0
    return ms


def _expire(nodes: OrderedDict, rate: int, now: int) -> None:
    """ngx_http_limit_req_expire(ctx, 1): drop up to two idle, fully leaked LRU nodes."""
    for _ in range(2):
        if not nodes:
            return
        key = next(iter(nodes))
        excess, last = nodes[key]
        ms = abs(now - last)
        if ms < 60000 or excess - rate * ms // 1000 > 0:
            return
        del nodes[key]


def check(limits: list[Limit], keys: list, now: int, zones: Zones, dry_run: bool = False) -> Verdict:
    """Run one request through a location's limits (`keys[i]` is limit i's key; falsy = empty)."""
    last_index = len(limits) - 1
    pending: list[tuple[Limit, list, bool]] = []   # earlier limits looked up without accounting
    result = NOT_LIMITED
    excess = 0
    current = None
    for n, limit in enumerate(limits):
        key = keys[n]
        if not key:
            continue
        nodes = zones.table(limit.zone)      # callers fold deferred nodes first (Zones.zone / pull)
        node = nodes.get(key)
        account = n == last_index
        current = limit
        if node is not None:
            nodes.move_to_end(key)
            ms = _elapsed(now, node[1])
            new_excess = node[0] - limit.rate * ms // 1000 + 1000
            if new_excess < 0:
                new_excess = 0
            if new_excess > limit.burst_milli:
                result = REJECTED
                break
            if account:
                node[0] = new_excess
                if ms:
                    node[1] = now
                excess = new_excess
                result = PASSED
                break
            pending.append((limit, node, False))
            result = "AGAIN"
            continue
        _expire(nodes, limit.rate, now)
        if account:
            nodes[key] = [0, now]
            excess = 0
            result = PASSED
            break
        node = [0, 0]          # nginx: last = 0 until accounted
        nodes[key] = node
        pending.append((limit, node, True))
        result = "AGAIN"

    if result == NOT_LIMITED:
        return Verdict(NOT_LIMITED)
    if result == REJECTED:
        # Nodes created by earlier limits in this request stay (with excess 0, last 0), as in nginx.
        return Verdict(REJECTED_DRY_RUN if dry_run else REJECTED, current.zone)

    if result == "AGAIN":      # the last limits had empty keys
        excess = 0
    # ngx_http_limit_req_account
    worst_zone = current.zone
    if excess <= current.delay_milli:
        max_delay = 0
    else:
        max_delay = (excess - current.delay_milli) * 1000 // current.rate
    if result == "AGAIN":
        max_delay = 0
    for limit, node, _ in reversed(pending):
        ms = _elapsed(now, node[1])
        exc = node[0] - limit.rate * ms // 1000 + 1000
        if exc < 0:
            exc = 0
        if ms:
            node[1] = now
        node[0] = exc
        if exc <= limit.delay_milli:
            continue
        delay = (exc - limit.delay_milli) * 1000 // limit.rate
        if delay > max_delay:
            max_delay = delay
            worst_zone = limit.zone
    if not max_delay:
        return Verdict(PASSED)
    return Verdict(DELAYED_DRY_RUN if dry_run else DELAYED, worst_zone, max_delay)
