"""merge_proposals at scale: integer network arithmetic gives what ipaddress gives, and merging in
batches gives the same file as merging everything at once."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from proxygen.blocklist.merge import Proposal, _collapse, merge_proposals
from proxygen.blocklist.store import load_blocklists

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=timezone.utc)


@st.composite
def networks(draw, version):
    bits = 32 if version == 4 else 128
    length = draw(st.integers(bits - 12, bits))
    # a small address space, so networks touch, nest and repeat
    addr = draw(st.integers(0, 4095))
    cls = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
    return cls((addr, length), strict=False)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([4, 6]).flatmap(lambda v: st.tuples(st.just(v), st.lists(networks(v), max_size=40))))
def test_collapse_is_ipaddress_collapse_addresses(case):
    version, nets = case
    bits = 32 if version == 4 else 128
    got = _collapse([(int(n.network_address), n.prefixlen) for n in nets], bits)
    want = [(int(n.network_address), n.prefixlen) for n in ipaddress.collapse_addresses(nets)]
    assert got == sorted(want)


def _proposal(net, action_index: int) -> Proposal:
    action = ["block", "throttle", "tarpit"][action_index]
    key_type = "ip" if net.prefixlen == net.max_prefixlen else "cidr"
    key = str(net.network_address) if key_type == "ip" else str(net)
    return Proposal(key_type, key, action, f"reason {key}", evidence=f"evidence {key}")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([4, 6]).flatmap(networks), st.integers(0, 2)), min_size=1, max_size=30),
       st.integers(1, 29))
def test_merging_in_two_batches_equals_merging_at_once(tmp_path_factory, items, split):
    proposals = [_proposal(net, a) for net, a in items]
    once, twice = tmp_path_factory.mktemp("once"), tmp_path_factory.mktemp("twice")
    merge_proposals(once, proposals, now=NOW)
    merge_proposals(twice, proposals[:split], now=NOW)
    merge_proposals(twice, proposals[split:], now=NOW)
    rules = lambda d: sorted((e.rule_id, e.code) for e in load_blocklists(d).entries)  # noqa: E731
    assert rules(once) == rules(twice)


def test_aggregates_never_collide_with_or_weaken_a_stronger_entry(tmp_path):
    """Two throttled /21s aggregate to the /20 that is blocked: the block stays, alone; a throttled
    network inside a blocked one is dropped (in the geo it would win and weaken the block)."""
    block, throttle = 0, 1
    cases = [[(ipaddress.ip_network("0.0.0.0/20"), block), (ipaddress.ip_network("0.0.0.0/21"), throttle),
              (ipaddress.ip_network("0.0.8.0/21"), throttle)],
             [(ipaddress.ip_network("0.0.0.0/21"), throttle), (ipaddress.ip_network("0.0.0.0/20"), throttle),
              (ipaddress.ip_network("0.0.0.0/20"), block), (ipaddress.ip_network("0.0.0.0/21"), block)]]
    for n, items in enumerate(cases):
        for split in range(len(items) + 1):
            directory = tmp_path / f"c{n}s{split}"
            proposals = [_proposal(net, a) for net, a in items]
            merge_proposals(directory, proposals[:split], now=NOW)
            merge_proposals(directory, proposals[split:], now=NOW)
            assert [(e.rule_id, e.code) for e in load_blocklists(directory).entries] == [("0.0.0.0/20", "block403")]
