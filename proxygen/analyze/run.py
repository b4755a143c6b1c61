"""The analysis pipeline: read logs once, aggregate, run the detectors, merge into ranked findings.

    from proxygen.analyze.run import analyze
    result = analyze(["/var/log/nginx/access.log"], settings=CrawlerSettings(), allowlists=Allowlists())
    for finding in result.findings: ...

One pass over the logs: the aggregation counts the detectors' per-request flags per key, and a thin
wrapper around the batches keeps a few requests of each client as sample lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from proxygen.analyze import detectors as registry
from proxygen.analyze.context import Context
from proxygen.analyze.findings import Finding, Hit
from proxygen.analyze.merge import build_findings, ua_match_expr
from proxygen.model.allowlists import Allowlists
from proxygen.model.crawlers import CrawlerSettings
from proxygen.signals.good_bots import GoodBotVerifier

SAMPLES_PER_IP = 3
SAMPLE_EVERY = 50
SAMPLE_COLUMNS = ("client_ip", "time", "method", "path", "query", "protocol", "status", "bytes", "referer",
                  "user_agent")


@dataclass
class Summary:
    files: list[str]
    format: str
    lines_read: int
    parsed: int
    malformed: int
    filtered_out: int
    first_time: datetime | None
    last_time: datetime | None
    requests: int
    ips: int
    malformed_samples: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    asn_db: str | None = None


@dataclass
class Analysis:
    summary: Summary
    findings: list[Finding]
    timeline: Any = None            # DataFrame minute, requests (all traffic)
    series: dict[str, Any] = field(default_factory=dict)  # "key_type:key" -> DataFrame minute, requests

    def proposals(self) -> list[dict]:
        """Rules the findings propose (blocks and throttles only), in rank order."""
        return [p for f in self.findings if (p := f.to_proposal()) is not None]


class SamplingSource:
    """Wraps a LogSource: yields its batches unchanged and keeps a few requests of each client.

    Kept: every SAMPLE_EVERY-th line (so any client with a real volume has samples) and every request
    answered 400/401/403/404/405 (so a short probing burst has them too); at most SAMPLES_PER_IP per
    client. Two cheap filters per batch, instead of a group-by over every line.
    """

    def __init__(self, source):
        self._source = source
        self._kept = []
        self.samples = None

    def __getattr__(self, name):
        return getattr(self._source, name)

    def batches(self, *args, columns=None, transform=None, **kwargs):
        if columns is not None:  # the reader may parse only the columns asked for: add the sample's
            kwargs["columns"] = set(columns) | set(SAMPLE_COLUMNS)

        def sample_then(batch):  # in the reading thread, like the caller's own transform
            return self._sample(batch), (transform(batch) if transform is not None else batch)

        for kept, out in self._source.batches(*args, transform=sample_then, **kwargs):
            self._kept.append(kept)
            if len(self._kept) >= 16:
                self._compact()
            yield out
        self._compact()
        self.samples = self._kept[0] if self._kept else None

    @staticmethod
    def _sample(batch):
        import polars as pl

        keep = pl.col("status").is_in([400, 401, 403, 404, 405]).fill_null(False)
        if "line_number" in batch.columns:
            keep = keep | (pl.col("line_number") % SAMPLE_EVERY == 0)
        kept = batch.filter(keep).select([c for c in SAMPLE_COLUMNS if c in batch.columns])
        # A filtered string column still points into the whole batch's text: a few percent of the rows
        # kept every batch's user agents and paths alive (1.5 GiB after 10M lines). New strings own
        # only their own bytes.
        return kept.with_columns(pl.concat_str([pl.col(name), pl.lit("")]).alias(name)
                                 for name, dtype in kept.schema.items() if dtype == pl.Utf8)

    def _compact(self):
        import polars as pl

        if self._kept:
            merged = pl.concat(self._kept, how="diagonal_relaxed") if len(self._kept) > 1 else self._kept[0]
            self._kept = [merged.group_by("client_ip", maintain_order=True).head(SAMPLES_PER_IP)]


def detector_flags() -> dict:
    return registry.flags()


def run_detectors(ctx: Context) -> list[Hit]:
    hits: list[Hit] = []
    for det in registry.DETECTORS:
        hits.extend(det.detect(ctx))
    return hits


def analyze_traffic(traffic, *, settings: CrawlerSettings | None = None, allowlists: Allowlists | None = None,
                    samples=None, verifier: GoodBotVerifier | None = None, dns=None,
                    asn_lookup=None) -> list[Finding]:
    """Findings from already aggregated traffic (by_ip, by_prefix, by_asn, by_ua tables)."""
    settings = settings or CrawlerSettings()
    by_ip, by_prefix, by_asn, by_ua = named_tables(traffic)
    ctx = Context(by_ip=by_ip, by_prefix=by_prefix, by_asn=by_asn, by_ua=by_ua,
                  total_requests=_total(traffic), settings=settings,
                  verifier=verifier or GoodBotVerifier(settings.ranges_dir), dns=dns, asn_lookup=asn_lookup)
    return build_findings(ctx, run_detectors(ctx), allowlists or Allowlists(), samples=samples)


def named_tables(traffic):
    """The aggregation's tables with their `key` column named for what it holds (client_ip, prefix, asn,
    user_agent), which is what detectors and reports read."""
    def named(df, name):
        if df is None or "key" not in df.columns:
            return df
        return df.drop(name).rename({"key": name}) if name in df.columns else df.rename({"key": name})

    return (named(traffic.by_ip, "client_ip"), named(traffic.by_prefix, "prefix"), named(traffic.by_asn, "asn"),
            named(traffic.by_ua, "user_agent"))


def _total(traffic) -> int:
    by_ip = traffic.by_ip
    return int(by_ip["requests"].sum()) if by_ip is not None and by_ip.height else 0


def analyze(paths: list[str], *, settings: CrawlerSettings | None = None, allowlists: Allowlists | None = None,
            fmt: str | None = None, since=None, until=None, nginx_conf: str | None = None,
            formats: dict[str, str] | None = None, asn_db: str | Path | None = None, verify_dns: bool | None = None,
            dns_cache: Path | None = None, progress=None, series_top: int = 5) -> Analysis:
    """Read `paths` (files, globs' results, rotated .gz, or "-" for stdin) and analyze them."""
    from proxygen.logs import aggregate, open_logs
    from proxygen.logs.asn import AsnDb

    settings = settings or CrawlerSettings()
    db_path = asn_db or settings.asn_db
    db = AsnDb.open(str(db_path)) if db_path else None
    source = open_logs(list(paths), fmt, since=since, until=until, nginx_conf=nginx_conf, formats=formats,
                       progress=progress)
    sampling = SamplingSource(source)
    traffic = aggregate(sampling, route_classes=settings.route_class_pairs(), asn_db=db, flags=detector_flags())
    dns = None
    if verify_dns if verify_dns is not None else settings.verify_dns:
        from proxygen.signals.dns import DnsVerifier

        dns = DnsVerifier(timeout=settings.dns_timeout, cache_path=dns_cache)
    findings = analyze_traffic(traffic, settings=settings, allowlists=allowlists, samples=sampling.samples, dns=dns,
                               asn_lookup=(lambda ip: db.lookup(ip).asn) if db is not None else None)
    stats = source.stats
    summary = Summary(
        files=list(stats.files), format=getattr(source.format, "name", str(source.format)),
        lines_read=stats.lines_read, parsed=stats.parsed, malformed=stats.malformed,
        filtered_out=getattr(stats, "filtered_out", 0), first_time=stats.first_time, last_time=stats.last_time,
        requests=_total(traffic), ips=traffic.by_ip.height,
        malformed_samples=[str(s) for s in stats.malformed_samples],
        messages=list(stats.messages) + ([traffic.asn_message] if getattr(traffic, "asn_message", None) else [])
        + _proxy_hint(traffic, source.format),
        asn_db=str(db_path) if db_path else None)
    timeline, series = _timelines(traffic, findings, series_top)
    return Analysis(summary=summary, findings=findings, timeline=timeline, series=series)


#: A private or loopback address sending at least this share of a log's requests (of at least
#: `_PROXY_HINT_MIN_REQUESTS`) is most likely a proxy or load balancer in front of this nginx.
_PROXY_HINT_SHARE = 0.5
_PROXY_HINT_MIN_REQUESTS = 1000


def _proxy_hint(traffic, fmt) -> list[str]:
    """A note when the log's clients look like one internal proxy: per-IP detectors then see that
    proxy, not the clients, whose address is in X-Forwarded-For."""
    import ipaddress

    by_ip = traffic.by_ip
    total = _total(traffic)
    if by_ip.height == 0 or total < _PROXY_HINT_MIN_REQUESTS:
        return []
    top = by_ip.row(0, named=True)  # busiest first
    try:
        address = ipaddress.ip_address(top["key"])
    except ValueError:
        return []
    if top["requests"] < _PROXY_HINT_SHARE * total or not (address.is_private or address.is_loopback):
        return []
    reads_xff = "http_x_forwarded_for" in fmt.variables and "remote_addr" not in fmt.variables
    advice = ("" if reads_xff else " If nginx sits behind a proxy, take the client from X-Forwarded-For: pass "
              "--format with this log's format string, $remote_addr renamed (say $proxy_addr), and the client "
              "becomes the last address of $http_x_forwarded_for (the format must log it, as main and "
              "proxied_requests do).")
    return [f"{top['requests'] / total:.0%} of the requests come from {top['key']}, an internal address: per-IP "
            f"findings see that address, not the clients behind it.{advice}"]


def _timelines(traffic, findings: list[Finding], top: int):
    """Requests per minute of all traffic and of the top rule-proposing findings (for the HTML report)."""
    import polars as pl

    timeline = traffic.per_minute
    series = {}
    for f in [f for f in findings if f.action != "observe"][:top] or findings[:top]:
        if f.key_type == "ua":  # a UA finding groups every UA string containing its token
            uas = traffic.by_ua.filter(pl.col("key").is_not_null() & ua_match_expr(f, "key"))["key"]
            s = traffic.uas_timeline(uas)
        else:
            kind = {"ip": "ip", "cidr": "prefix", "asn": "asn"}[f.key_type]
            s = traffic.timeline(kind, int(f.key) if kind == "asn" else f.key)
        series[f"{f.key_type}:{f.key}"] = s.select("minute", "requests")
    return timeline, series


