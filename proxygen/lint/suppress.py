"""`lint_ignore:` suppressions: a finding inside a declaration that accepts its rule is not reported.

A site's suppression covers the whole site file; a location's covers that location only;
proxygen.yml's covers proxygen.yml. Suppressions that silence nothing are returned so the
engine reports them (PX000): an exception outlives its reason otherwise.
"""

from __future__ import annotations

from proxygen.lint.rule import Finding, Hit


def _scopes(ctx, source: str, loc: tuple):
    """(key path of the declaring block, its lint_ignore list), innermost first."""
    if source == "proxygen.yml" and ctx.settings is not None:
        yield (), ctx.settings.lint_ignore
        return
    name = source[len("sites/"):-len(".yml")] if source.startswith("sites/") and source.endswith(".yml") else None
    site = ctx.repo.sites.get(name) if name else None
    if site is None:
        return
    if len(loc) >= 2 and loc[0] == "locations" and isinstance(loc[1], int) and loc[1] < len(site.locations):
        yield loc[:2], site.locations[loc[1]].lint_ignore
    yield (), site.lint_ignore


def _covers(at: str | None, field: str) -> bool:
    return at is None or field == at or field.startswith((at + ".", at + "["))


def all_suppressions(ctx):
    """(source, key path of the entry, LintIgnore) for every declared suppression."""
    yield from (("proxygen.yml", ("lint_ignore", j), s) for j, s in enumerate(ctx.settings.lint_ignore))
    for source, site in ctx.sites():
        yield from ((source, ("lint_ignore", j), s) for j, s in enumerate(site.lint_ignore))
        for i, loc in enumerate(site.locations):
            yield from ((source, ("locations", i, "lint_ignore", j), s) for j, s in enumerate(loc.lint_ignore))


def apply_suppressions(ctx, findings: list[Finding], not_run: frozenset[str] = frozenset()
                       ) -> tuple[list[Finding], int, list[Hit]]:
    """(findings kept, how many were silenced, unused suppressions). A suppression of a rule in
    `not_run` (an opt-in layer this run skipped) is never reported as unused."""
    from proxygen.lint.registry import CODES

    used: set[tuple] = set()
    kept: list[Finding] = []
    for f in findings:
        hit = None
        for prefix, entries in _scopes(ctx, f.source, f.loc):
            for j, s in enumerate(entries):
                if s.rule == f.code and _covers(s.at, f.field):
                    hit = (f.source, prefix + ("lint_ignore", j))
                    break
            if hit:
                break
        if hit and f.code != "PX000":
            used.add(hit)
        else:
            kept.append(f)
    unused = []
    for source, loc, s in all_suppressions(ctx):
        if s.rule not in CODES:
            unused.append(Hit(source, loc + ("rule",), f"{s.rule} is not a proxygen lint rule"))
        elif (source, loc) not in used and s.rule not in not_run:
            unused.append(Hit(source, loc, f"suppression of {s.rule} matches no finding here; remove it"))
    return kept, len(findings) - len(kept), unused
