"""PrefixTable: the vectorised longest-prefix match equals the per-address one (nginx geo semantics)."""

import ipaddress
import random

import polars as pl
import pytest

from proxygen.simulate.iptable import PrefixTable


@pytest.mark.parametrize("seed", range(20))
def test_vectorised_lookup_equals_per_address_lookup(seed):
    rng = random.Random(seed)
    nets = []
    for _ in range(rng.randint(1, 40)):
        plen = rng.randint(0, 32) if rng.random() < 0.1 else rng.randint(8, 32)
        nets.append(str(ipaddress.ip_network(f"{ipaddress.IPv4Address(rng.randrange(2**32))}/{plen}", strict=False)))
    nets.append("2001:db8::/32")
    ips = [str(ipaddress.IPv4Address(rng.randrange(2**32))) for _ in range(300)]
    for n in nets:
        net = ipaddress.ip_network(n)
        ips += [str(net.network_address), str(net.broadcast_address)]
    ips += ["2001:db8::5", "::ffff:" + ips[0], "not-an-ip", "01.2.3.4"]
    got = PrefixTable(nets).lookup(pl.Series(ips)).to_list()
    assert got == [_reference(nets, ip) for ip in ips]


def _reference(nets, ip):
    """Most specific network containing `ip`, the slow obvious way (first listed wins on duplicates)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    best = None
    for i, n in enumerate(nets):
        net = ipaddress.ip_network(n)
        if net.version == addr.version and addr in net and (best is None or net.prefixlen > best[1]):
            best = (i, net.prefixlen)
    return None if best is None else best[0]


def test_most_specific_network_wins():
    table = PrefixTable(["10.0.0.0/8", "10.1.0.0/16", "10.1.2.3/32", "0.0.0.0/0"])
    got = table.lookup(pl.Series(["10.1.2.3", "10.1.2.4", "10.9.9.9", "8.8.8.8", None, "2001:db8::1",
                                  "::ffff:10.1.2.3", "::FFFF:10.1.0.1"])).to_list()
    assert got == [2, 1, 0, 3, None, None, 2, 1]
