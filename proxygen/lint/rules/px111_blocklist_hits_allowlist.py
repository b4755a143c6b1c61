"""PX111: a blocklist entry aimed at a client the allowlist says must never be blocked."""

from __future__ import annotations

import datetime
import ipaddress
import re

from proxygen.lint.rule import Hit, Rule
from proxygen.lint.rules._shared import blocklist_position


def _ua_conflict(entry, allowed) -> bool:
    """Could one user agent be both blocked by `entry` and allowlisted by `allowed`? Compared as the
    blocklist renders them (case-insensitively), on the pattern texts."""
    key, pat = entry.key.lower(), allowed.pattern.lower()
    if entry.match == "regex":
        try:
            return re.search(entry.key, allowed.pattern, re.I) is not None
        except re.error:
            return False
    if entry.match == "exact":
        return key == pat if allowed.match == "exact" else pat in key
    # contains: the allowlisted text contains the blocked one, or a UA containing the blocked text
    # may contain the allowlisted text too when one contains the other
    return key in pat or pat in key


def check(ctx):
    bl = ctx.blocklist
    allow = ctx.settings.allowlists
    if bl is None:
        return
    now = datetime.datetime.combine(ctx.today, datetime.time(0), tzinfo=datetime.timezone.utc)
    for f in bl.files:
        for entry in f.entries:
            if entry.expired(now):
                continue  # no longer rendered; `proxygen blocklist prune` removes it
            position = blocklist_position(ctx, f, entry.position)
            if entry.key_type in ("ip", "cidr"):
                net = ipaddress.ip_network(entry.key, strict=False)
                for allowed in allow.networks:
                    if allowed.cidr.version == net.version and allowed.cidr.overlaps(net):
                        yield Hit(position.file, (), f"{entry.action} {entry.rule_id} overlaps allowlisted "
                                                     f"{allowed.cidr} ({allowed.reason}); the allowlist wins, so "
                                                     f"this entry does not do what it says", position=position)
                        break
            elif entry.key_type == "user_agent":
                for allowed in allow.user_agents:
                    if _ua_conflict(entry, allowed):
                        yield Hit(position.file, (), f"{entry.action} {entry.rule_id} matches allowlisted user "
                                                     f"agent {allowed.pattern!r} ({allowed.reason}); narrow the "
                                                     f"pattern or change the allowlist", position=position)
                        break


RULE = Rule(
    code="PX111", name="blocklist-hits-allowlist", severity="error",
    summary="A blocklist entry's IP/CIDR overlaps an allowlisted network, or its user-agent pattern matches an allowlisted user agent.",
    doc="""The allowlist (proxygen.yml `allowlists:`) names clients that must never be blocked: our own
networks, partners, our app. A blocklist entry that overlaps one is a contradiction: the build drops it
(or the overlapping part) silently, so the person who added it believes a crawler is blocked when it is
not, or, if the allowlist entry is later removed, our own traffic gets blocked. This happens when an
entry is written by hand from an incident log without checking the allowlist, or a CIDR is widened.
Fix: narrow the entry to the abusive range or pattern, or remove the allowlist entry if trust ended.""",
    check=check,
)
