"""The `crawlers:` section of proxygen.yml: what the analyzer counts as expensive and as abusive.

Defaults suit Open Food Facts: route classes mirror the edge vhost's locations (static files, search,
facets, product pages, API), and thresholds sit above what a browser, a NAT'd office or the mobile app
produce, and below what the scrapers of the runbook produce. Every number is a per-client figure over
the analysed log window unless its name says otherwise.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RouteClass(_Strict):
    """A family of URLs with a common cost: a request there weighs `weight` cheap page views."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Identifier, used as column rc_<name>; "
                                                                   "requests matching no class are 'other'.")
    pattern: str = Field(min_length=1, description="Regular expression matched against the path from its start.")
    weight: float = Field(ge=0, le=1000, description="Cost of one request, relative to an ordinary page (1).")

    @field_validator("name")
    @classmethod
    def _not_other(cls, value: str) -> str:
        if value == "other":
            raise ValueError("'other' is the implicit class of unmatched requests (its weight is default_weight)")
        return value

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"not a valid regular expression: {err}") from None
        return value


# Cost of one request per route class, relative to an ordinary page. Search and facet pages are what
# OFF's runbook calls "the most consuming"; Product Opener itself allows 10 searches and 5-10 facet pages
# per minute per IP against 100 product pages, hence a weight of 10.
OFF_WEIGHTS = {"search": 10.0, "facets": 10.0, "product": 1.0, "api": 1.0, "static": 0.1}


def _off_route_classes() -> list[RouteClass]:
    """OFF's route classes: the patterns of proxygen.logs (read off the edge vhost), with their weights."""
    from proxygen.logs.aggregate import DEFAULT_ROUTE_CLASSES

    return [RouteClass(name=name, pattern=pattern, weight=OFF_WEIGHTS.get(name, 1.0))
            for name, pattern in DEFAULT_ROUTE_CLASSES]


class RateThresholds(_Strict):
    """Per-IP request rate, in cost units per minute (a search counts `weight` units)."""

    throttle_cost_per_min: float = Field(
        100, gt=0, description="Sustained weighted rate that earns a throttle (100 = 10 searches/min, Product "
                               "Opener's own per-IP search limit, kept up for 10 minutes).")
    block_cost_per_min: float = Field(400, gt=0, description="Sustained weighted rate that earns a block.")
    peak_cost_per_min: float = Field(
        600, gt=0, description="Weighted requests in one calendar minute that earn a throttle even when the "
                               "burst is too short to raise the sustained rate (nobody reads 600 pages a minute).")
    min_requests: int = Field(100, ge=1, description="Ignore clients with fewer requests in the window.")
    shared_address_uas: int = Field(
        8, ge=2, description="An IP with at least this many browser user agents is treated as a shared address "
                             "(office NAT, carrier NAT): observed, never throttled on rate alone.")


class DistributedThresholds(_Strict):
    """A prefix or ASN whose many IPs together crawl expensive routes."""

    min_ips: int = Field(20, ge=2, description="Distinct client IPs in the prefix/ASN.")
    min_requests: int = Field(500, ge=1)
    min_expensive_share: float = Field(
        0.5, ge=0, le=1, description="Share of its requests that hit weighted routes (search, facets).")
    min_pattern_share: float = Field(
        0.5, ge=0, le=1, description="Or this share of deep pagination (page >= 10) and facet combinations, "
                                     "whatever the route classes say.")
    max_static_share: float = Field(
        0.1, ge=0, le=1, description="Browsers fetch static assets; crawlers rarely do.")
    max_uas_per_ip: float = Field(
        0.2, ge=0, description="Distinct user agents per IP: a crawl shares one or a few user agents, "
                               "people behind many addresses bring many.")
    expensive_share_any_ua: float = Field(
        0.8, ge=0, le=1, description="Above this share of expensive routes, rotating user agents do not matter.")
    min_total_share: float = Field(0.01, ge=0, le=1, description="Share of all requests in the log (ASN).")
    min_prefix_share: float = Field(
        0.002, ge=0, le=1, description="Share of all requests in the log for one /24 (/48): a crawl spread over "
                                       "many prefixes must still show in each when no ASN database is given.")


class UserAgentThresholds(_Strict):
    min_requests: int = Field(20, ge=1, description="Below this, a bad user agent is only observed.")


class ProbingThresholds(_Strict):
    min_probes: int = Field(5, ge=1, description="4xx answers on sensitive paths (wp-login.php, .env, shells...).")
    min_not_found: int = Field(30, ge=1, description="404/410 answers over as many distinct paths "
                                                     "(random-URL scans).")
    min_not_found_share: float = Field(0.5, ge=0, le=1)


class LimitThresholds(_Strict):
    min_limited: int = Field(30, ge=1, description="429/503 answers received.")
    min_limited_share: float = Field(
        0.3, ge=0, le=1, description="Share of the client's requests answered 429/503.")
    min_after_limited: int = Field(20, ge=1, description="Requests sent after the first 429/503.")


class FakeBotThresholds(_Strict):
    min_requests: int = Field(10, ge=1, description="Requests claiming a good bot from outside its ranges.")


class Thresholds(_Strict):
    rate: RateThresholds = Field(default_factory=RateThresholds)
    distributed: DistributedThresholds = Field(default_factory=DistributedThresholds)
    user_agent: UserAgentThresholds = Field(default_factory=UserAgentThresholds)
    probing: ProbingThresholds = Field(default_factory=ProbingThresholds)
    limits: LimitThresholds = Field(default_factory=LimitThresholds)
    fake_bot: FakeBotThresholds = Field(default_factory=FakeBotThresholds)


class CrawlerSettings(_Strict):
    """Settings of `proxygen crawlers analyze`; every field has a default that suits OFF."""

    asn_db: Path | None = Field(None, description="MaxMind-format ASN database (GeoLite2-ASN.mmdb); "
                                                  "without it, findings are per IP and prefix only.")
    ranges_dir: Path | None = Field(None, description="Directory of published good-bot ranges written by "
                                                      "`crawlers update-ranges`; default: the files shipped "
                                                      "with proxygen.")
    route_classes: list[RouteClass] = Field(default_factory=_off_route_classes)
    default_weight: float = Field(1, ge=0, description="Weight of a request matching no route class.")
    thresholds: Thresholds = Field(default_factory=Thresholds)
    verify_dns: bool = Field(False, description="Confirm unverified good-bot claims by forward-confirmed "
                                                "reverse DNS (needs network).")
    dns_timeout: float = Field(2.0, gt=0, le=30)
    top: int = Field(50, ge=1, description="Findings shown in the terminal table.")

    @field_validator("route_classes")
    @classmethod
    def _unique_names(cls, value: list[RouteClass]) -> list[RouteClass]:
        names = [rc.name for rc in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"route class names must be unique; repeated: {', '.join(dupes)}")
        return value

    def weights(self) -> dict[str, float]:
        return {rc.name: rc.weight for rc in self.route_classes}

    def route_class_pairs(self) -> list[tuple[str, str]]:
        """(name, pattern) pairs in match order, as proxygen.logs.aggregate takes them."""
        return [(rc.name, rc.pattern) for rc in self.route_classes]
