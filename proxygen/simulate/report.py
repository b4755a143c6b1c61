"""What a simulation found: counts per client and per rule, and the legitimate-looking clients hit.

"Legitimate-looking" means allowlisted (network or user agent), a verified good bot (claimed UA
from its operator's published ranges), or a browser-like user agent at a low request rate: the
clients a rule change must not hurt. They are listed whenever any request of theirs would be
delayed, throttled, blocked or tarpitted (dry-run outcomes included).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from proxygen.simulate.engine import HIT, OUTCOMES

_BROWSER = re.compile(r"^Mozilla/5\.0 \(.*(Chrome|Firefox|Safari|Edg)/")
_BOTLIKE = re.compile(r"(?i)bot|crawl|spider|slurp|fetch|scrap|python|curl|wget|headless|http")


@dataclass
class ClientRow:
    ip: str
    user_agent: str
    requests: int
    counts: dict[str, int]
    first_ms: int
    last_ms: int

    @property
    def per_minute(self) -> float:
        span = max(self.last_ms - self.first_ms, 60_000)
        return self.requests * 60_000 / span

    @property
    def hit(self) -> int:
        return sum(self.counts[OUTCOMES[i]] for i in HIT)


@dataclass
class Collateral:
    client: ClientRow
    why: str                                    # "allowlisted: ...", "verified Googlebot", "low-rate browser"


@dataclass
class Report:
    frames: list = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _merged: object = None                  # per client, everything folded so far
    _pending: list = field(default_factory=list)   # per request context, batches not folded yet
    _pending_rows: int = 0
    _rules: object = None

    def add_frame(self, df, contexts, labels: list[str]) -> None:
        """Fold one batch into running per-client and per-rule aggregates (keeps memory bounded).

        `df`: per request ctx (row of `contexts`: client_ip, user_agent, in order of first appearance
        in `df`), t, outcome, rule (index into `labels`) and status (what nginx answers itself;
        null = served)."""
        import polars as pl

        names = pl.Series(labels, dtype=pl.Utf8)
        frame = df.lazy()
        per_ctx, per_rule = pl.collect_all([       # one pass each, side by side
            frame.group_by("ctx").agg(
                pl.len().alias("requests"),
                *[(pl.col("outcome") == i).sum().alias(name) for i, name in enumerate(OUTCOMES)],
                pl.col("t").min().alias("first_ms"), pl.col("t").max().alias("last_ms")).sort("ctx"),
            frame.filter(pl.col("rule").is_not_null()).group_by("rule", "outcome", "status").agg(pl.len().alias("n"))
            .with_columns(pl.lit(names).gather(pl.col("rule")).alias("rule"))])
        # in order of first appearance, so a client's first user agent comes first when folded
        self._pending.append(per_ctx.select(
            contexts["client_ip"].gather(per_ctx["ctx"]).alias("client_ip"), pl.exclude("ctx"),
            contexts["user_agent"].gather(per_ctx["ctx"]).alias("user_agent")))
        self._pending_rows += per_ctx.height
        if self._pending_rows > 2_000_000:
            self._fold()
        self._rules = per_rule if self._rules is None else (
            pl.concat([self._rules, per_rule]).group_by("rule", "outcome", "status").agg(pl.col("n").sum()))

    def _fold(self) -> None:
        import polars as pl

        if self._pending:
            parts = ([] if self._merged is None else [self._merged]) + self._pending
            self._merged = self._merge_clients(pl.concat(parts))
            self._pending, self._pending_rows = [], 0

    @property
    def _clients(self):
        """One row per client: requests, each outcome's count, first/last time, first user agent."""
        self._fold()
        return self._merged

    @staticmethod
    def _merge_clients(df):
        import polars as pl

        return df.group_by("client_ip").agg(
            pl.col("requests").sum(), *[pl.col(name).sum() for name in OUTCOMES],
            pl.col("first_ms").min(), pl.col("last_ms").max(), pl.col("user_agent").first())

    # -- results

    @property
    def totals(self) -> dict[str, int]:
        if self._clients is None:
            return {"requests": 0, **{name: 0 for name in OUTCOMES}}
        row = self._clients.select("requests", *OUTCOMES).sum().row(0, named=True)
        return {k: int(v) for k, v in row.items()}

    def clients(self, *, only_hit: bool = False, limit: int | None = None) -> list[ClientRow]:
        """Clients, most affected first."""
        import polars as pl

        if self._clients is None:
            return []
        df = self._clients.with_columns(sum(pl.col(OUTCOMES[i]) for i in HIT).alias("_hit"))
        if only_hit:
            df = df.filter(pl.col("_hit") > 0)
        df = df.sort(["_hit", "requests", "client_ip"], descending=[True, True, False])
        if limit is not None:
            df = df.head(limit)
        rows = df.select("client_ip", "user_agent", "requests", "first_ms", "last_ms", *OUTCOMES).iter_rows()
        return [ClientRow(ip=r[0], user_agent=r[1] or "", requests=r[2], counts=dict(zip(OUTCOMES, r[5:])),
                          first_ms=r[3], last_ms=r[4]) for r in rows]

    def client(self, ip: str) -> ClientRow | None:
        import polars as pl

        if self._clients is None:
            return None
        rows = self._clients.filter(pl.col("client_ip") == ip)
        if rows.height == 0:
            return None
        r = rows.row(0, named=True)
        return ClientRow(ip=ip, user_agent=r["user_agent"] or "", requests=r["requests"],
                         counts={name: r[name] for name in OUTCOMES}, first_ms=r["first_ms"], last_ms=r["last_ms"])

    def rules(self) -> dict[str, dict[str, int]]:
        """rule or zone -> outcome -> requests."""
        out: dict[str, dict[str, int]] = {}
        if self._rules is None:
            return out
        for rule, outcome, _, n in self._rules.select("rule", "outcome", "status", "n").iter_rows():
            out.setdefault(rule, {name: 0 for name in OUTCOMES})[OUTCOMES[outcome]] += n
        return dict(sorted(out.items(), key=lambda kv: -sum(kv[1].values())))

    def statuses(self) -> dict[str, dict[int, int]]:
        """rule or zone -> the status nginx answers itself (403/444 for blocks, the location's
        limit_req_status for throttles, a site rule's `return`) -> requests. A throttle zone answers with
        each location's own limit_req_status, so one rule can show 429 in some places and 503 in others."""
        import polars as pl

        out: dict[str, dict[int, int]] = {}
        if self._rules is None:
            return out
        for rule, status, n in (self._rules.filter(pl.col("status").is_not_null()).group_by("rule", "status")
                                .agg(pl.col("n").sum()).sort("rule", "status").iter_rows()):
            out.setdefault(rule, {})[status] = n
        return out

    def collateral(self, *, allowlists=None, good_bots=None, browser_max_per_minute: float = 30.0) -> list[Collateral]:
        """Legitimate-looking clients that some request of would be delayed, throttled, blocked or tarpitted."""
        rows = self.clients(only_hit=True)
        reasons = _Reasons(allowlists, good_bots, browser_max_per_minute, [row.ip for row in rows])
        out: list[Collateral] = []
        for row in rows:
            why = reasons.of(row)
            if why:
                out.append(Collateral(row, why))
        return out


def legit_reason(row: ClientRow, allowlists, good_bots, browser_max_per_minute: float) -> str | None:
    return _Reasons(allowlists, good_bots, browser_max_per_minute).of(row)


class _Reasons:
    """legit_reason for many clients: what depends on the user agent alone is worked out once per user
    agent, and the allowlisted networks are searched only for addresses one of them contains (one
    vectorised lookup of `ips`, when given)."""

    def __init__(self, allowlists, good_bots, browser_max_per_minute: float, ips: list | None = None):
        self.allowlists, self.good_bots, self.browser_max = allowlists, good_bots, browser_max_per_minute
        self.per_ua: dict[str, tuple] = {}
        # a user agent allowlisted only from given networks depends on the address too
        self.ua_alone = allowlists is None or not any(u.networks for u in allowlists.user_agents)
        self.contained = None                   # the addresses inside some allowlisted network
        if allowlists is not None and ips:
            import polars as pl

            from proxygen.simulate.iptable import PrefixTable

            series = pl.Series(ips, dtype=pl.Utf8)
            inside = PrefixTable([n.cidr for n in allowlists.networks]).lookup(series).is_not_null()
            self.contained = set(series.filter(inside).to_list())

    def _user_agent(self, user_agent: str) -> tuple:
        """(allowlisted user agent or None when that depends on the address too, claimed good bot,
        browser-like)."""
        hit = self.per_ua.get(user_agent)
        if hit is None:
            allowed = self.allowlists.user_agent_for(user_agent) if self.allowlists is not None and self.ua_alone \
                else None
            bot = None
            if self.good_bots is not None:
                from proxygen.signals.good_bots import claimed_bot

                bot = claimed_bot(user_agent)
            browser = bool(_BROWSER.search(user_agent)) and not _BOTLIKE.search(user_agent)
            hit = self.per_ua[user_agent] = (allowed, bot, browser)
        return hit

    def of(self, row: ClientRow) -> str | None:
        allowed, bot, browser = self._user_agent(row.user_agent)
        al = self.allowlists
        if al is not None:
            net = None
            if self.contained is None or row.ip in self.contained:
                try:
                    net = al.network_for(row.ip)
                except ValueError:
                    net = None
            if net is not None:
                return f"allowlisted network {net.cidr} ({net.reason})"
            ua = allowed if self.ua_alone else al.user_agent_for(row.user_agent, row.ip)
            if ua is not None:
                return f"allowlisted user agent {ua.pattern!r} ({ua.reason})"
        if bot is not None:
            how = self.good_bots.verify(bot, row.ip)
            if how:
                return f"verified {bot.name} ({how})"
        if browser and row.per_minute <= self.browser_max:
            return f"browser at {row.per_minute:.1f} requests/min"
        return None
