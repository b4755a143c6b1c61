"""`simulate_logs`: the rules the current build would apply, replayed over access logs (the API
behind `proxygen crawlers simulate`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from proxygen.errors import ProxygenError, UsageError


# What the rules read from a log line (the parser skips the rest).
SIMULATE_COLUMNS = {"client_ip", "user_agent", "path", "method"}


@dataclass
class SimulationResult:
    report: object                          # proxygen.simulate.report.Report
    collateral: list = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    site: str | None = None
    blocklist_rules: int = 0                # geo + UA entries rendered
    skipped_rules: list[str] = field(default_factory=list)
    log_stats: object = None


@dataclass
class Prepared:
    """The simulator `simulate_logs` replays with, and what it was made from."""
    simulator: object                       # proxygen.simulate.engine.Simulator
    data: object                            # proxygen.blocklist.render.RenderData, placed for the site's host
    settings: object = None
    site_rules: object = None
    good_bots: object = None                # the GoodBotVerifier (or networks) the blocklist spares
    warnings: list[str] = field(default_factory=list)


def prepare(*, config: Path | None = None, site: str | None = None, blocklists_dir: Path | None = None,
            asn_db: Path | None = None, now: datetime | None = None, good_bots=None) -> Prepared:
    """The Simulator for blocklists/ (as rendered at `now` and placed by the build on the host serving
    `site`) and, with `site`, the site's own limit_req zones, rules and locations from the
    declarations next to `config`."""
    from proxygen.blocklist.render import render_data
    from proxygen.blocklist.store import load_blocklists
    from proxygen.simulate.engine import Simulator
    from proxygen.simulate.rules import BlocklistRules

    now = now or datetime.now(timezone.utc)
    warnings: list[str] = []
    settings = repo = None
    if config is not None:
        from proxygen.model import load_repository, load_settings

        if not config.is_file():
            raise ProxygenError(f"{config}: settings file not found")
        if site is not None:
            repo = load_repository(config.parent)
            settings = repo.settings
        else:
            settings = load_settings(config)
    elif site is not None:
        raise UsageError("--site needs proxygen.yml (give --config or run from the repository root)")
    allowlists = settings.allowlists if settings is not None else None
    if blocklists_dir is None:
        blocklists_dir = (config.parent / settings.blocklists_dir) if settings is not None else Path("blocklists")
    if asn_db is None and settings is not None:
        asn_db = settings.crawlers.asn_db
    if good_bots is None:
        from proxygen.signals.good_bots import GoodBotVerifier

        good_bots = GoodBotVerifier(settings.crawlers.ranges_dir if settings is not None else None)

    site_rules = None
    apply_blocklist = True
    if site is not None:
        from proxygen.simulate.sites import SiteRules

        if site not in repo.sites:
            raise UsageError(f"--site: no site {site!r} in sites/ (known: {', '.join(sorted(repo.sites)) or 'none'})")
        declared = repo.sites[site]
        site_rules = SiteRules(declared, settings)
        if not declared.crawler_defence:
            apply_blocklist = False
            warnings.append(f"site {site} does not opt in to crawler_defence: blocklists/ rules do not apply to it")

    blocklist = load_blocklists(blocklists_dir)
    reader = None
    if apply_blocklist and any(e.key_type == "asn" for e in blocklist.active(now)):
        if asn_db is None:
            raise ProxygenError("blocklists/ has ASN entries: give --asn-db (or crawlers.asn_db in proxygen.yml)")
        import maxminddb

        try:
            reader = maxminddb.open_database(str(asn_db))
        except (OSError, ValueError) as err:
            raise ProxygenError(f"{asn_db}: cannot open the ASN database: {err}") from None
    try:
        data = render_data(blocklist, reader, now, allowlists=allowlists, good_bots=good_bots)
    finally:
        if reader is not None:
            reader.close()
    if apply_blocklist and site is not None and data.zones:
        data = _placed_for_site(repo, data, site, warnings)
    rules = BlocklistRules(data) if apply_blocklist else None
    return Prepared(Simulator(rules, site_rules), data, settings, site_rules, good_bots, warnings)


def simulate_logs(paths: list[str], *, config: Path | None = None, site: str | None = None,
                  blocklists_dir: Path | None = None, fmt: str | None = None, since=None, until=None,
                  asn_db: Path | None = None, now: datetime | None = None, good_bots=None,
                  nginx_conf: str | None = None) -> SimulationResult:
    """Replay `paths` through the rules `prepare` gathers (blocklists/ and, with `site`, the site's own)."""
    from proxygen.logs.source import open_logs

    prepared = prepare(config=config, site=site, blocklists_dir=blocklists_dir, asn_db=asn_db, now=now,
                       good_bots=good_bots)
    settings, site_rules, data, warnings = prepared.settings, prepared.site_rules, prepared.data, prepared.warnings
    good_bots = prepared.good_bots
    allowlists = settings.allowlists if settings is not None else None
    formats = {name: lf.format for name, lf in settings.log_formats.items()} if settings is not None else None
    source = open_logs(list(paths), fmt, since=since, until=until, nginx_conf=nginx_conf, formats=formats)
    report = prepared.simulator.run(source.batches(columns=SIMULATE_COLUMNS))
    warnings += report.warnings
    if site_rules is not None and site_rules.vars.unknown_variables:
        names = ", ".join(f"${v}" for v in sorted(site_rules.vars.unknown_variables))
        warnings.append(f"not in access logs, simulated as empty (a logged-out client): {names}")
    return SimulationResult(
        report=report, collateral=report.collateral(allowlists=allowlists, good_bots=good_bots),
        warnings=warnings, site=site, blocklist_rules=sum(1 for g in data.geo if g.value != "allow")
        + sum(1 for u in [*data.ua_exact, *data.ua_regex] if u.value != "allow"),
        skipped_rules=data.skipped, log_stats=source.stats)


def _placed_for_site(repo, data, site: str, warnings: list[str]):
    """The blocklist as the build places it on the host serving `site` (place_throttles: whether the
    crawler-defence server block is dry-run depends on every site of the host). Hosts that place it
    differently: the first one's, with a warning."""
    from proxygen.compile.build import place_throttles

    hosts = [h for name, h in sorted(repo.settings.hosts.items()) if site in h.sites]
    if not hosts:
        return data
    placed = [(h.name, place_throttles(repo, data, repo.sites_of(h))[0]) for h in hosts]
    first = placed[0][1]
    differ = [name for name, p in placed[1:]
              if p.server_dry_run != first.server_dry_run or [z.name for z in p.zones] != [z.name for z in first.zones]]
    if differ:
        warnings.append(f"blocklists/ throttle zones are placed differently on host(s) {', '.join(differ)} than on "
                        f"{placed[0][0]} (their other sites' limits); simulated as on {placed[0][0]}")
    return first
