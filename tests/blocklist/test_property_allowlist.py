"""Property: no emitted rule ever matches an allowlisted address or user agent, or a verified good bot,
whatever the allowlists and the findings (merge, then render, then evaluate as nginx would)."""

import ipaddress
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxygen.blocklist.merge import Proposal, merge_proposals
from proxygen.blocklist.render import render_data
from proxygen.blocklist.store import load_blocklists
from proxygen.model.allowlists import Allowlists
from proxygen.simulate.rules import BlocklistRules

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)
# A small address space so that random networks collide often.
BASE = int(ipaddress.IPv4Address("198.18.0.0"))

networks = st.builds(lambda off, plen: ipaddress.ip_network(f"{ipaddress.IPv4Address(BASE + off)}/{plen}", strict=False),
                     st.integers(0, 2**16 - 1), st.integers(12, 32))
words = st.sampled_from(["Googlebot", "OFF-Smoothie", "bot", "Mozilla", "curl", "Scrapy", "Smooth", "ie/1.0"])
findings = st.lists(st.one_of(
    st.builds(lambda n, a: Proposal("cidr" if n.prefixlen < 32 else "ip",
                                    str(n) if n.prefixlen < 32 else str(n.network_address), a, "finding",
                                    rate="30r/m"),
              networks, st.sampled_from(["block", "throttle", "tarpit"])),
    st.builds(lambda w, m, a: Proposal("ua", w, a, "finding", ua_match=m, rate="60r/m"),
              words, st.sampled_from(["exact", "contains"]), st.sampled_from(["block", "throttle"])),
), max_size=25)
allowlists = st.builds(
    lambda nets, uas, bound: Allowlists.model_validate({
        "networks": [{"cidr": str(n), "reason": "allowed"} for n in nets],
        "user_agents": [{"pattern": u, "match": m, "reason": "app",
                         **({"networks": [str(bound)]} if b else {})} for u, m, b in uas]}),
    st.lists(networks, max_size=4),
    st.lists(st.tuples(words, st.sampled_from(["exact", "contains"]), st.booleans()), max_size=3),
    networks)


def _samples(net):
    first, last = int(net.network_address), int(net.broadcast_address)
    return {ipaddress.IPv4Address(a) for a in (first, last, (first + last) // 2)}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(allow=allowlists, props=findings, manual=st.lists(networks, max_size=5), good=st.lists(networks, max_size=2))
def test_no_rule_matches_an_allowlisted_client(tmp_path_factory, allow, props, manual, good):
    d = tmp_path_factory.mktemp("bl")
    # Hand-written entries are not filtered by merge: render must still keep allowlisted clients out.
    (d / "manual.yml").write_text("entries:\n" + "".join(
        f"  - cidr: {n}\n    action: block\n    reason: manual\n" for n in set(manual)))
    merge_proposals(d, props, allowlists=allow, good_bots=[str(g) for g in good], now=NOW)
    data = render_data(load_blocklists(d), None, NOW, allowlists=allow, good_bots=[str(g) for g in good])
    rules = BlocklistRules(data)
    protected = [n.cidr for n in allow.networks] + list(good)
    protected += [n for ua in allow.user_agents for n in ua.networks]
    for net in protected:
        for ip in _samples(net):
            for ua in ["Mozilla/5.0", "Googlebot/2.1", "curl/8", "Scrapy"]:
                d_ = rules.decide(str(ip), ua)
                assert d_.action in ("", "allow"), (str(ip), ua, d_)
    for ua in allow.user_agents:
        if ua.networks:
            continue
        text = ua.pattern if ua.match == "exact" else f"x {ua.pattern} y"
        for ip in ["198.18.0.1", "198.18.200.7", "203.0.113.1"]:
            d_ = rules.decide(ip, text)
            assert d_.action in ("", "allow"), (ip, text, d_)
