"""`proxygen crawlers simulate LOG...`: what the current rules would have done to these requests.

Exit codes: 0 the simulation ran, 1 an input error (log, proxygen.yml, blocklists/), 2 a usage error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from proxygen.cli import options as opt


def simulate_cmd(
    logs: list[str] = opt.log_files(),
    site: Optional[str] = typer.Option(None, "--site", "-s", help="The site these logs are from: also apply "
                                       "its limit_req zones, rules and locations (sites/<name>.yml)."),
    fmt: Optional[str] = opt.log_format(),
    config: Optional[Path] = opt.config("zones, allowlists, sites"),
    directory: Optional[Path] = opt.blocklists_dir(),
    asn_db: Optional[Path] = opt.asn_db("to expand the blocklist's ASN entries"),
    since: Optional[str] = opt.since(),
    until: Optional[str] = opt.until(),
    top: int = typer.Option(20, "--top", min=1, help="Clients listed."),
    json_out: bool = opt.json_output("the result"),
) -> None:
    """Replay logs through blocklists/ and the site's limit_req zones (nginx's leaky bucket) and report,
    per client and per rule, what would be allowed, delayed, throttled or blocked."""
    import json

    from proxygen.cli.output import info
    from proxygen.simulate.engine import OUTCOMES
    from proxygen.simulate.run import simulate_logs

    from proxygen.cli.config import settings_path

    result = simulate_logs(logs, config=settings_path(config), site=site, blocklists_dir=directory, fmt=fmt, since=since,
                           until=until, asn_db=asn_db)
    report = result.report
    totals = report.totals
    statuses = report.statuses()
    if json_out:
        out = {
            "site": result.site, "totals": totals, "warnings": result.warnings,
            "lines_read": getattr(result.log_stats, "lines_read", None),
            "malformed": getattr(result.log_stats, "malformed", None),
            "rules": report.rules(),
            # rule -> status nginx answers itself (403/444 blocks, each location's limit_req_status) -> requests
            "statuses": {rule: {str(code): n for code, n in codes.items()} for rule, codes in statuses.items()},
            "clients": [{"ip": c.ip, "user_agent": c.user_agent, "requests": c.requests, **c.counts}
                        for c in report.clients(only_hit=True, limit=top)],
            "legitimate_looking_hit": [{"ip": c.client.ip, "user_agent": c.client.user_agent, "why": c.why,
                                        **c.client.counts} for c in result.collateral],
        }
        typer.echo(json.dumps(out, indent=2))
        return
    info(f"{totals['requests']:,} requests" + (f" on site {result.site}" if result.site else "")
         + f", {result.blocklist_rules:,} blocklist rules")
    info("  " + ", ".join(f"{name.replace('_', ' ')} {totals[name]:,}" for name in OUTCOMES if totals[name]
                          or name in ("allowed", "throttled", "blocked")))
    rules = report.rules()
    if rules:
        info("\nper rule / zone (and the statuses nginx answers itself):")
        for rule, counts in rules.items():
            answered = statuses.get(rule)
            info(f"  {rule}: " + ", ".join(f"{n.replace('_', ' ')} {v:,}" for n, v in counts.items() if v)
                 + ("; answered " + ", ".join(f"{code} x{n:,}" for code, n in answered.items()) if answered else ""))
    hit = report.clients(only_hit=True, limit=top)
    if hit:
        info(f"\nclients hit (top {top}):")
        for c in hit:
            info(f"  {c.ip}  {c.requests:,} requests: "
                 + ", ".join(f"{n.replace('_', ' ')} {v:,}" for n, v in c.counts.items() if v)
                 + f"  [{c.user_agent[:60]}]")
    if result.collateral:
        info(f"\nlegitimate-looking clients that would be hit ({len(result.collateral)}):")
        for c in result.collateral[:top]:
            info(f"  {c.client.ip}: {c.why}: "
                 + ", ".join(f"{n.replace('_', ' ')} {v:,}" for n, v in c.client.counts.items()
                             if v and n != "allowed"))
    else:
        info("\nno allowlisted client, verified good bot or low-rate browser would be hit")
    stats = result.log_stats
    if stats is not None and stats.malformed:
        first = f"; first: {stats.malformed_samples[0]}" if stats.malformed_samples else ""
        info(f"note: {stats.malformed:,} of {stats.lines_read:,} lines did not parse and were not replayed{first}")
    for w in result.warnings:
        info(f"note: {w}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the `crawlers` sub-app."""
    app.command("simulate")(simulate_cmd)
