"""From detector hits to ranked findings: merge per key, add traffic numbers, apply allowlists, score.

Allowlists are applied here, before anything becomes a rule: a finding on an allowlisted network, an
allowlisted user agent, or a verified search-engine bot keeps its evidence, says why it is allowlisted,
and is only observed. A CIDR or ASN rule that would cover such a client is refused the same way.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict

from proxygen.analyze.context import Context
from proxygen.analyze.findings import Finding, Hit, rank, score, stronger
from proxygen.model.allowlists import Allowlists
from proxygen.signals.good_bots import claimed_bot


def build_findings(ctx: Context, hits: list[Hit], allowlists: Allowlists, samples=None,
                   max_samples: int = 3) -> list[Finding]:
    grouped: dict[tuple[str, str], list[Hit]] = defaultdict(list)
    for h in hits:
        grouped[(h.key_type, h.key)].append(h)
    lookup = _Lookup(ctx)
    lookup.prefetch([k for t, k in grouped if t == "ip"], samples)
    lookup.prefetch_ua([(k, next((h.ua_match for h in hs if h.ua_match), None))
                        for (t, k), hs in grouped.items() if t == "ua"], samples)
    findings = []
    for (key_type, key), key_hits in grouped.items():
        key_hits.sort(key=lambda h: -h.strength)
        action = "observe"
        for h in key_hits:
            action = stronger(action, h.action)
        f = Finding(key_type=key_type, key=key, action=action, score=0, detectors=key_hits,
                    proposed_action=action, ua_match=next((h.ua_match for h in key_hits if h.ua_match), None))
        lookup.fill(f)
        f.share = f.requests / max(ctx.total_requests, 1)
        f.score = score(key_hits, f.share)
        reason = _allowlisted(ctx, lookup, allowlists, f)
        if reason:
            f.allowlisted = reason
            f.action = "observe"
        f.why = _sentence(f)
        if samples is not None:
            f.samples = lookup.samples(samples, f, max_samples)
        findings.append(f)
    return rank(findings)


def _sentence(f: Finding) -> str:
    subject = {"ip": f"IP {f.key}", "cidr": f"Network {f.key}", "asn": f"AS{f.key}",
               "ua": f"User agent '{f.key or '(empty)'}'"}[f.key_type]
    if f.asn_org and f.key_type != "ua":
        subject += f" ({f.asn_org})" if f.key_type == "asn" else f" (AS{f.asn} {f.asn_org})"
    clauses = "; ".join(h.why for h in f.detectors)
    text = f"{subject}: {clauses}."
    if f.allowlisted:
        text += f" Not proposed as a rule: {f.allowlisted}."
    elif f.action == "observe":
        text += " Observed only."
    return text


class _Lookup:
    """Traffic numbers of a key, from the aggregated tables."""

    def __init__(self, ctx: Context):
        import polars as pl

        self.ctx = ctx
        self.pl = pl
        self.by_ip = ctx.by_ip
        self._ip_rows: dict = {}
        self._ip_samples: dict = {}
        self._ua_ips = ctx.by_ip          # narrowed by prefetch_ua
        self._ua_samples = None

    def prefetch(self, ips: list[str], samples) -> None:
        """Rows and samples of every IP key at once (one filter instead of one per finding)."""
        pl = self.pl
        wanted = pl.Series(ips, dtype=pl.Utf8).implode()
        for row in self.by_ip.filter(pl.col("client_ip").is_in(wanted)).iter_rows(named=True):
            self._ip_rows[row["client_ip"]] = row
        for ip in ips:
            self._ip_rows.setdefault(ip, None)
        if samples is not None and samples.height:
            part = samples.filter(pl.col("client_ip").is_in(wanted))
            self._ip_samples = part.partition_by("client_ip", as_dict=True) if part.height else {}

    def prefetch_ua(self, keys: list[tuple[str, str | None]], samples) -> None:
        """Narrow by_ip and the samples once to rows whose user agent matches any UA finding."""
        pl = self.pl
        self._ua_ips = self.by_ip
        self._ua_samples = samples
        if not keys:
            return
        contains = [k.lower() for k, how in keys if how != "exact" and k]
        exact = [k.lower() for k, how in keys if how == "exact"]

        def narrowed(df, column):
            if df is None or column not in df.columns or df.height == 0:
                return df
            low = pl.col(column).fill_null("").str.to_lowercase()
            mask = low.str.strip_chars().is_in(exact)
            if contains:
                mask = mask | low.str.contains_any(contains)
            return df.filter(mask)

        self._ua_ips = narrowed(self.by_ip, "top_ua")
        self._ua_samples = narrowed(samples, "user_agent")

    def ip_row(self, ip: str) -> dict | None:
        if ip not in self._ip_rows:
            rows = self.by_ip.filter(self.pl.col("client_ip") == ip).to_dicts()
            self._ip_rows[ip] = rows[0] if rows else None
        return self._ip_rows[ip]

    def members(self, f: Finding):
        """by_ip rows of the IPs a cidr/asn finding covers."""
        pl = self.pl
        if f.key_type == "cidr" and "prefix" in self.by_ip.columns:
            return self.by_ip.filter(pl.col("prefix") == f.key)
        if f.key_type == "asn" and "asn" in self.by_ip.columns:
            return self.by_ip.filter(pl.col("asn") == int(f.key))
        return self.by_ip.clear()

    def fill(self, f: Finding) -> None:
        pl = self.pl
        row = None
        if f.key_type == "ip":
            row = self.ip_row(f.key)
            f.ips = 1 if row else 0
        elif f.key_type == "cidr" and self.ctx.by_prefix is not None:
            rows = self.ctx.by_prefix.filter(pl.col("prefix") == f.key).to_dicts()
            row = rows[0] if rows else None
        elif f.key_type == "asn" and self.ctx.by_asn is not None:
            rows = self.ctx.by_asn.filter(pl.col("asn") == int(f.key)).to_dicts()
            row = rows[0] if rows else None
        elif f.key_type == "ua":
            self._fill_ua(f)
            return
        if row is None:
            return
        f.requests = int(row.get("requests") or 0)
        if f.key_type != "ip":
            f.ips = int(row.get("ips") or 0)
        f.first_seen, f.last_seen = row.get("first_seen"), row.get("last_seen")
        if f.key_type == "asn":
            f.asn, f.asn_org = int(f.key), row.get("asn_org")
        else:
            f.asn, f.asn_org = row.get("asn"), row.get("asn_org")
            if f.asn is None and f.key_type == "cidr":
                m = self.members(f)
                if m.height and "asn" in m.columns:
                    f.asn, f.asn_org = m["asn"][0], m["asn_org"][0] if "asn_org" in m.columns else None
        if row.get("top_ua"):
            f.user_agents = [row["top_ua"]]

    def _fill_ua(self, f: Finding) -> None:
        pl = self.pl
        df = self.ctx.by_ua
        ua_col = "user_agent" if "user_agent" in df.columns else df.columns[0]
        rows = df.filter(ua_match_expr(f, ua_col))
        f.requests = int(rows["requests"].sum()) if rows.height else 0
        f.ips = int(rows["ips"].sum()) if rows.height and "ips" in rows.columns else 0
        if rows.height and "first_seen" in rows.columns:
            f.first_seen, f.last_seen = rows["first_seen"].min(), rows["last_seen"].max()
        # ties broken by the text: the same log gives the same examples (a crawler rotating user agents
        # sends many with the same count)
        f.user_agents = rows.sort(["requests", ua_col], descending=[True, False])[ua_col].head(5).to_list()
        by_ip = self._ua_ips
        if by_ip.height and "asn" in by_ip.columns and "top_ua" in by_ip.columns:
            ips = by_ip.filter(ua_match_expr(f, "top_ua"))
            if ips.height:
                by_asn = ips.group_by("asn").agg(pl.col("requests").sum()).sort("requests", descending=True)
                top = by_asn.row(0, named=True)
                if top["asn"] is not None and top["requests"] >= 0.5 * ips["requests"].sum():
                    f.asn = top["asn"]
                    org = ips.filter(pl.col("asn") == top["asn"])
                    f.asn_org = org["asn_org"][0] if "asn_org" in org.columns else None

    def samples(self, samples, f: Finding, n: int) -> list[str]:
        pl = self.pl
        if samples is None or samples.height == 0:
            return []
        if f.key_type == "ip":
            rows = self._ip_samples.get((f.key,))
            if rows is None:
                return []
        elif f.key_type == "ua":
            narrowed = self._ua_samples if self._ua_samples is not None else samples
            rows = narrowed.filter(ua_match_expr(f, "user_agent"))
        else:
            ips = self.members(f)["client_ip"]
            rows = samples.filter(pl.col("client_ip").is_in(ips.implode()))
        return [format_line(r) for r in rows.sort("time").head(n).iter_rows(named=True)]


def format_line(r: dict) -> str:
    """A parsed request written back as a combined-format log line (the original line is not kept)."""
    t = r.get("time")
    when = t.strftime("%d/%b/%Y:%H:%M:%S +0000") if hasattr(t, "strftime") else str(t)
    target = (r.get("path") or "") + (("?" + r["query"]) if r.get("query") else "")
    request = " ".join(x for x in (r.get("method"), target, r.get("protocol")) if x)
    return (f'{r.get("client_ip")} - - [{when}] "{request}" {r.get("status")} {r.get("bytes") or 0} '
            f'"{r.get("referer") or "-"}" "{r.get("user_agent") or "-"}"')


def _allowlisted(ctx: Context, lookup: _Lookup, allowlists: Allowlists, f: Finding) -> str | None:
    """Why this finding may not become a rule, or None."""
    verifier = ctx.verifier
    if f.key_type == "ip":
        net = allowlists.network_for(f.key) if _is_ip(f.key) else None
        if net:
            return f"{f.key} is in allowlisted network {net.cidr} ({net.reason})"
        row = lookup.ip_row(f.key) or {}
        return _member_reason(ctx, allowlists, f.key, row.get("top_ua"), row.get("asn"))
    if f.key_type == "cidr":
        net = allowlists.overlapping(f.key)
        if net:
            return f"{f.key} overlaps allowlisted network {net.cidr} ({net.reason})"
        if allowlists.verified_good_bots:
            bot = verifier.in_any_search_range(f.key)
            if bot:
                return f"{f.key} overlaps {bot.operator}'s published {bot.name} ranges"
        return _members_reason(ctx, lookup, allowlists, f)
    if f.key_type == "asn":
        if allowlists.verified_good_bots:
            bot = verifier.search_asn(int(f.key))
            if bot:
                return f"AS{f.key} is where {bot.operator}'s {bot.name} crawls from"
        if ctx.asn_lookup is not None:
            for net in allowlists.networks:
                if ctx.asn_lookup(str(net.cidr.network_address)) == int(f.key):
                    return f"AS{f.key} announces allowlisted network {net.cidr} ({net.reason})"
        return _members_reason(ctx, lookup, allowlists, f)
    if f.key_type == "ua":
        for ua in allowlists.user_agents:
            for seen in f.user_agents or [f.key]:
                hit = seen == ua.pattern if ua.match == "exact" else ua.pattern in (seen or "")
                if hit:
                    return f"user agent '{seen}' is allowlisted ({ua.reason})"
        bot = claimed_bot(f.key)
        if bot and bot.kind == "search" and allowlists.verified_good_bots:
            return f"'{f.key}' is {bot.operator}'s {bot.name}; block fakes by address, not by user agent"
    return None


def _member_reason(ctx: Context, allowlists: Allowlists, ip: str, top_ua: str | None, asn) -> str | None:
    allowed_ua = allowlists.user_agent_for(top_ua, ip)
    if allowed_ua:
        return f"its user agent '{top_ua}' is allowlisted ({allowed_ua.reason})"
    if allowlists.verified_good_bots:
        bot = claimed_bot(top_ua)
        if bot and bot.kind == "search":
            how = ctx.verifier.verify(bot, ip, asn)
            if how:
                return f"verified {bot.name} ({how})"
    return None


def _members_reason(ctx: Context, lookup: _Lookup, allowlists: Allowlists, f: Finding) -> str | None:
    """A network rule is refused when it would cover an allowlisted or verified-good-bot client."""
    members = lookup.members(f)
    if members.height == 0:
        return None
    cols = [c for c in ("client_ip", "top_ua", "asn", "requests") if c in members.columns]
    total = max(int(members["requests"].sum()), 1) if "requests" in members.columns else 1
    app_requests, app_reason = 0, None
    for row in members.select(cols).iter_rows(named=True):
        ip = row["client_ip"]
        net = allowlists.network_for(ip) if _is_ip(ip) else None
        if net:
            return f"it contains {ip}, in allowlisted network {net.cidr} ({net.reason})"
        reason = _member_reason(ctx, allowlists, ip, row.get("top_ua"), row.get("asn"))
        if reason and reason.startswith("verified"):
            return f"it contains {ip}: {reason}"
        if reason:
            app_requests += row.get("requests") or 0
            app_reason = app_reason or f"it contains {ip}: {reason}"
    # A few allowlisted app users inside a crawled network stay exempt through the allowlist itself;
    # a network where they carry real traffic is not blocked.
    if app_reason and app_requests >= 0.01 * total:
        return app_reason
    return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def ua_match_expr(f: Finding, column: str):
    """Whether the user agent in `column` is one a UA finding covers (the rule it proposes would match it)."""
    import polars as pl

    ua = pl.col(column).fill_null("").str.strip_chars()
    if f.ua_match == "exact":
        return ua.str.to_lowercase() == f.key.lower()
    return ua.str.to_lowercase().str.contains(f.key.lower(), literal=True)
