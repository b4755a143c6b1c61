"""PX107: rate limits left in dry-run (measured, never enforced) with no date, for too long, or at
http level where they reach every site."""

from __future__ import annotations

import datetime

from proxygen.lint.rule import Hit, Rule
from proxygen.lint.rules._shared import blocklist_position, host_blocks


def _declared(ctx, max_age: int):
    for source, site in ctx.sites():
        for prefix, opts in site.all_options():
            if opts.rate_limit_dry_run is not True:
                continue
            since = opts.rate_limit_dry_run_since
            if since is None:
                yield Hit(source, prefix + ("rate_limit_dry_run",),
                          "rate limit in dry-run with no rate_limit_dry_run_since: date; nobody will know when "
                          "the measurement was meant to end (add the date, or enforce the limit)")
            elif (ctx.today - since).days > max_age:
                yield Hit(source, prefix + ("rate_limit_dry_run_since",),
                          f"rate limit in dry-run since {since} ({(ctx.today - since).days} days, more than "
                          f"lint.dry_run_max_age_days: {max_age}); enforce it (remove rate_limit_dry_run) or drop it")


def _http_level(ctx):
    for host in sorted({host for host, _, _ in ctx.generated()}):
        for names, _, items in host_blocks(ctx, host):
            if names != ("http",):
                continue
            for node, rel in items:
                if node.name == "limit_req_dry_run" and node.args[:1] == ["on"]:
                    source, _ = ctx.declaration_of(rel)
                    yield Hit(source, (), f"host {host}, {rel}:{node.line}: limit_req_dry_run on at http level "
                                          f"turns every rate limit of every site of the host into a dry-run")


def _blocklist(ctx, max_age: int):
    bl = ctx.blocklist
    if bl is None:
        return
    now = datetime.datetime.combine(ctx.today, datetime.time(0), tzinfo=datetime.timezone.utc)
    reported = set()
    for f in bl.files:
        for name, zone in f.zones.items():
            if not zone.dry_run or name in reported:
                continue
            reported.add(name)
            dated = [(e.created, e) for e in bl.active(now)
                     if e.action == "throttle" and e.zone == name and e.created is not None]
            if not dated:
                continue
            created, oldest = min(dated, key=lambda pair: pair[0])
            age = (ctx.today - created.date()).days
            if age > max_age:
                owner = next(g for g in bl.files if oldest in g.entries)
                at = blocklist_position(ctx, owner, oldest.position)
                yield Hit(str(at.file), (), f"throttle zone {name} is dry_run and its entry {oldest.rule_id} "
                                           f"({at.file}:{at.line}) was created {age} days ago (more than "
                                           f"lint.dry_run_max_age_days: {max_age}); set dry_run: false or "
                                           f"remove the entries",
                          position=blocklist_position(ctx, f, zone.position))


def check(ctx):
    max_age = ctx.settings.lint.dry_run_max_age_days
    yield from _declared(ctx, max_age)
    yield from _http_level(ctx)
    yield from _blocklist(ctx, max_age)


RULE = Rule(
    code="PX107", name="stale-dry-run", severity="warning",
    summary="A rate limit in dry-run with no start date or older than lint.dry_run_max_age_days, or limit_req_dry_run at http level.",
    doc="""A dry-run limit (`rate_limit_dry_run: true`, a blocklist zone's `dry_run: true`) only logs what it
would have rejected: a measurement, meant to end. OFF's sibling sites kept theirs for months, so the
limits everyone believed in never protected anything, and the images limits' `limit_req_dry_run` sat
at http level, silently turning every other vhost's limits into dry-runs too. Give each dry-run a
`rate_limit_dry_run_since: YYYY-MM-DD`; lint reports it once it is older than
`lint.dry_run_max_age_days` (proxygen.yml, default 30), and reports a blocklist dry-run zone whose
throttle entries were created longer ago than that. Fix: check the would-be rejections in the logs
(`proxygen crawlers simulate`), then enforce the limit or remove it.""",
    check=check,
    needs_build=True,
)
