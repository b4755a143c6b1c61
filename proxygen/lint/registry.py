"""Every lint rule, in one explicit list (no import magic): adding a rule is adding a line here.

Codes are stable and never reused: PX0xx engine and validation, PX1xx cross-site and
cross-host consistency, PX2xx security of the generated config (PX29x: opt-in external layers).
"""

from __future__ import annotations

from proxygen.lint.rule import Rule
from proxygen.lint.rules import (
    px000_unused_suppression,
    px001_invalid_declaration,
    px002_build_failed,
    px003_nginx_test_failed,
    px101_server_name_clash,
    px102_undefined_reference,
    px103_defined_twice,
    px104_undefined_variable,
    px105_unused_definition,
    px106_access_log_cancelled,
    px107_stale_dry_run,
    px108_redirect_loop,
    px109_redirect_chain,
    px110_shadowed_location,
    px111_blocklist_hits_allowlist,
    px112_certificate_not_on_host,
    px201_host_header_spoofing,
    px202_add_header_dropped,
    px203_proxy_header_dropped,
    px204_alias_traversal,
    px205_allow_without_deny,
    px206_return_bypasses_access,
    px207_status_page_exposed,
    px208_version_disclosure,
    px209_regex_redos,
    px210_spoofable_ua_allowlist,
    px211_ssrf_proxy_target,
    px212_http_splitting,
    px290_gixy,
)

RULES: list[Rule] = [
    px000_unused_suppression.RULE,
    px001_invalid_declaration.RULE,
    px002_build_failed.RULE,
    px003_nginx_test_failed.RULE,
    px101_server_name_clash.RULE,
    px102_undefined_reference.RULE,
    px103_defined_twice.RULE,
    px104_undefined_variable.RULE,
    # cross-site and cross-host (PX1xx)
    px105_unused_definition.RULE,
    px106_access_log_cancelled.RULE,
    px107_stale_dry_run.RULE,
    px108_redirect_loop.RULE,
    px109_redirect_chain.RULE,
    px110_shadowed_location.RULE,
    px111_blocklist_hits_allowlist.RULE,
    px112_certificate_not_on_host.RULE,
    # security (PX2xx)
    px201_host_header_spoofing.RULE,
    px202_add_header_dropped.RULE,
    px203_proxy_header_dropped.RULE,
    px204_alias_traversal.RULE,
    px205_allow_without_deny.RULE,
    px206_return_bypasses_access.RULE,
    px207_status_page_exposed.RULE,
    px208_version_disclosure.RULE,
    px209_regex_redos.RULE,
    px210_spoofable_ua_allowlist.RULE,
    px211_ssrf_proxy_target.RULE,
    px212_http_splitting.RULE,
    # opt-in layers
    px290_gixy.RULE,
]

CODES: dict[str, Rule] = {r.code: r for r in RULES}
if len(CODES) != len(RULES):
    raise RuntimeError("two lint rules share a code")


def rule(code: str) -> Rule:
    return CODES[code]
