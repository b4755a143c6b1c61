"""A seeded generator of OFF-shaped access logs with labelled scenarios, and a matching ASN database.

Tests and benchmarks need logs with known answers and no private data. `generate()` writes lines
in OFF's `main` log_format, in time order, plus a sidecar labels file (one label per line, same
order: `legit:browser`, `abuse:distributed_asn`, ...). `write_asn_mmdb()` writes a small MaxMind
ASN database covering every address range the generator uses, so the whole pipeline (read,
parse, aggregate, ASN) runs offline.

The address ranges and ASNs are real-looking (Googlebot's published 66.249.64.0/19, residential
ISPs, clouds) so reports read like production; the database is synthetic and must not be used to
judge real traffic. Output is reproducible for a given seed (Python's `random`, no polars hashing).

Scenarios (share of lines by default; each abusive one has the shape a detector must catch):

| label | who | shape |
|---|---|---|
| legit:browser | residential IPs (IPv4 and IPv6), browser UAs | short sessions of ~3.5 requests, mixed pages |
| legit:office_nat | ONE IP, many browser UAs | moderate rate (~20 r/min), mixed pages |
| legit:mobile_app | thousands of residential IPs, `Smoothie/x.y.z (OFF app; ...)` | product API reads |
| legit:googlebot | 66.249.64.0/19 (AS15169), Googlebot UA | product pages, steady |
| abuse:scraper | 3 IPs of one hosting ASN, a browser UA | product pages at hundreds of r/min, every page distinct |
| abuse:distributed_asn | hundreds of IPs over several /24s of ONE cloud ASN | search + facets, each IP under 10 r/min |
| abuse:fake_googlebot | Googlebot UA from a cloud ASN | product pages and search |
| abuse:ai_crawler | GPTBot / ClaudeBot / Bytespider from their ASNs | everything, refused with 403 |
| abuse:library_ua | python-requests, Scrapy, Go-http-client, curl, `-` | API and search |
| abuse:probing | a few cloud IPs | /.env, /wp-login.php, /.git/config ... mostly 404 |
| abuse:ignores_limits | one IP | API search, keeps going at the same rate after its 429s |
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

DEFAULT_START = datetime(2025, 1, 31, 0, 0, 0, tzinfo=timezone.utc)
REQUESTS_PER_SECOND = 400  # OFF's edge: tens of millions of requests a day
BLOCK_LINES = 400_000

GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

# (asn, org, networks) written to the .mmdb; the generator draws addresses from these.
ASNS: list[tuple[int, str, list[str]]] = [
    (3215, "Orange S.A.", ["90.0.0.0/9", "2a01:cb00::/24"]),
    (12322, "Free SAS", ["78.192.0.0/10", "2a01:e00::/26"]),
    (3320, "Deutsche Telekom AG", ["79.192.0.0/10"]),
    (7922, "Comcast Cable Communications, LLC", ["73.0.0.0/8", "2601::/20"]),
    (2200, "Renater", ["193.48.0.0/14"]),
    (15169, "Google LLC", ["66.249.64.0/19"]),
    (24940, "Hetzner Online GmbH", ["88.198.0.0/16", "5.9.0.0/16"]),
    (136907, "HUAWEI CLOUDS", ["124.243.128.0/18", "159.138.0.0/16"]),
    (14061, "DigitalOcean, LLC", ["167.99.0.0/16", "159.203.0.0/16"]),
    (8075, "Microsoft Corporation", ["20.171.0.0/16"]),
    (16509, "Amazon.com, Inc.", ["216.73.216.0/22"]),
    (138699, "Byte Dance Inc.", ["110.249.200.0/21"]),
    (16276, "OVH SAS", ["51.68.0.0/16"]),
    (4134, "Chinanet", ["218.92.0.0/16"]),
]

SCENARIOS: dict[str, float] = {
    "legit:browser": 0.429,
    "legit:office_nat": 0.001,  # ~24 r/min at 400 r/s overall
    "legit:mobile_app": 0.15,
    "legit:googlebot": 0.05,
    "abuse:scraper": 0.10,
    "abuse:distributed_asn": 0.10,
    "abuse:fake_googlebot": 0.02,
    "abuse:ai_crawler": 0.06,
    "abuse:library_ua": 0.04,
    "abuse:probing": 0.01,
    "abuse:ignores_limits": 0.04,
}
DEFAULT = SCENARIOS
#: Share of the log's duration during which a scenario is active (start, end).
_WINDOWS = {
    "abuse:scraper": (0.2, 0.8),
    "abuse:distributed_asn": (0.3, 1.0),
    "abuse:fake_googlebot": (0.0, 0.6),
    "abuse:probing": (0.5, 0.7),
    "abuse:ignores_limits": (0.4, 0.9),
}

BROWSER_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel {m}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0",
]
AI_UAS = [
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", 8075),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)", 16509),
    ("Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 "
     "(compatible; Bytespider; spider-feedback@bytedance.com)", 138699),
]
LIBRARY_UAS = ["python-requests/2.31.0", "Scrapy/2.11.0 (+https://scrapy.org)", "Go-http-client/1.1",
               "curl/8.5.0", "-"]
PROBES = ["/.env", "/wp-login.php", "/.git/config", "/phpmyadmin/index.php", "/admin/config.php",
          "/wp-admin/setup-config.php", "/.aws/credentials", "/cgi-bin/luci", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
          "/server-status", "/.DS_Store", "/actuator/env", "/xmlrpc.php", "/config.json", "/backup.sql"]
CATEGORIES = ["en:beverages", "en:snacks", "en:dairies", "en:breakfasts", "en:cheeses", "en:breads", "en:sodas",
              "en:chocolates", "en:biscuits", "en:yogurts", "en:frozen-foods", "en:pastas", "en:cereals"]
BRANDS = ["danone", "nestle", "carrefour", "coca-cola", "lu", "bonne-maman", "president", "barilla", "ferrero"]
SEARCH_TERMS = ["nutella", "coca", "yaourt", "chocolat", "pain", "lait", "pizza", "biscuit", "jus", "riz",
                "fromage", "pates", "chips", "cafe", "the", "miel"]
STATIC = ["/css/dist/app-ltr.css", "/js/dist/product-multilingual.js", "/images/icons/dist/barcode.svg",
          "/images/logos/off-logo-horizontal-light.svg", "/js/dist/display-product.js", "/favicon.ico",
          "/images/attributes/dist/nutriscore-a.svg", "/images/attributes/dist/nova-group-1.svg"]


def _net(asn: int, index: int = 0) -> str:
    for number, _org, nets in ASNS:
        if number == asn:
            return nets[index]
    raise KeyError(asn)


def _address(rng: random.Random, network: str, host: int | None = None) -> str:
    """An address inside `network`: random, or the host-th one (stable pools)."""
    import ipaddress

    net = ipaddress.ip_network(network)
    size = net.num_addresses
    offset = host % (size - 2) + 1 if host is not None else rng.randrange(1, size - 1)
    return str(net.network_address + offset)


@dataclass
class _Rows:
    times: list[float]
    ips: list[str]
    uas: list[str]
    paths: list[str]
    statuses: list[int]
    sizes: list[int]
    referers: list[str]
    label: str


class _World:
    """The stable cast of the log: address pools and user agents of every scenario."""

    def __init__(self, rng: random.Random, lines: int, duration: float):
        self.rng = rng
        rate_per_min = lines / duration * 60
        browsers = max(500, int(lines * SCENARIOS["legit:browser"] / 3.5))
        self.browser_pool = browsers
        self.mobile_pool = max(2000, int(lines * SCENARIOS["legit:mobile_app"] / 12))
        dist_rate = rate_per_min * SCENARIOS["abuse:distributed_asn"] / (
            _WINDOWS["abuse:distributed_asn"][1] - _WINDOWS["abuse:distributed_asn"][0])
        n_dist = max(300, math.ceil(dist_rate / 5))  # each IP near 5 r/min on average, under 10
        subnets = [f"124.243.{128 + i * 7}." for i in range(8)] + [f"159.138.{20 + i * 11}." for i in range(4)]
        self.distributed = [f"{subnets[i % len(subnets)]}{10 + (i // len(subnets)) % 240}" for i in range(n_dist)]
        if n_dist > len(subnets) * 240:  # very large logs: widen over more /24s of the same ASN
            self.distributed = [_address(rng, "124.243.128.0/18", i * 7919) for i in range(n_dist)]
        self.office_ip = "193.50.67.10"
        self.office_uas = [rng.choice(BROWSER_UAS).format(v=rng.randrange(118, 132), m=rng.randrange(1, 9))
                           for _ in range(45)]
        self.googlebot = [_address(rng, "66.249.64.0/19", 13 * i + 1) for i in range(12)]
        self.scrapers = [_address(rng, "88.198.0.0/16", 4099 * i + 7) for i in range(3)]
        self.scraper_ua = BROWSER_UAS[0].format(v=120, m=1)
        self.fake_googlebot = [_address(rng, "167.99.0.0/16", 257 * i + 3) for i in range(4)]
        self.ai = [(ua, [_address(rng, _net(asn), 31 * i + 2) for i in range(6)]) for ua, asn in AI_UAS]
        self.library = [(ua, _address(rng, "51.68.0.0/16", 1021 * i + 5)) for i, ua in enumerate(LIBRARY_UAS)]
        self.probers = [_address(rng, "159.203.0.0/16", 613 * i + 9) for i in range(3)] + [
            _address(rng, "218.92.0.0/16", 977 + i) for i in range(2)]
        self.ignores_ip = _address(rng, "5.9.0.0/16", 4242)
        self.ignores_ua = "Mozilla/5.0 (compatible; FoodDataHarvester/0.3)"
        self.residential = ["90.0.0.0/9", "78.192.0.0/10", "79.192.0.0/10", "73.0.0.0/8"]
        self.residential_v6 = ["2a01:cb00::/24", "2a01:e00::/26", "2601::/20"]

    def residential_ip(self, index: int, v6_share: float = 0.1) -> str:
        """The index-th residential address (stable: same index, same address)."""
        if (index * 2654435761) % 100 < v6_share * 100:
            return _address(self.rng, self.residential_v6[index % 3], index * 65537 * 65536 + 1)
        return _address(self.rng, self.residential[index % 4], index * 40503 + 17)


def _barcode(rng: random.Random) -> str:
    return f"{rng.choice(('3', '5', '7', '8', '0'))}{rng.randrange(10**11, 10**12)}"


def _page(rng: random.Random) -> str:
    """A page a human (or a search engine) would visit."""
    r = rng.random()
    if r < 0.45:
        return f"/product/{_barcode(rng)}/{rng.choice(BRANDS)}-{rng.choice(SEARCH_TERMS)}"
    if r < 0.60:
        return f"/cgi/search.pl?search_terms={rng.choice(SEARCH_TERMS)}&search_simple=1&action=process"
    if r < 0.72:
        return rng.choice((f"/category/{rng.choice(CATEGORIES)}", f"/brand/{rng.choice(BRANDS)}",
                           f"/facets/categories/{rng.choice(CATEGORIES)}"))
    if r < 0.92:
        return rng.choice(STATIC)
    return rng.choice(("/", "/discover", "/contribute", "/?page=2"))


def _scenario_rows(label: str, n: int, t0: float, t1: float, rng: random.Random, world: _World,
                   block: int, blocks: int) -> _Rows:
    rows = _Rows([], [], [], [], [], [], [], label)
    if n <= 0:
        return rows
    span = t1 - t0
    add_t, add_ip, add_ua, add_p = rows.times.append, rows.ips.append, rows.uas.append, rows.paths.append
    add_s, add_b, add_r = rows.statuses.append, rows.sizes.append, rows.referers.append
    rand, choice, randrange = rng.random, rng.choice, rng.randrange
    if label == "legit:browser":
        per_block = max(1, world.browser_pool // blocks)
        sessions: dict[int, tuple[float, str, str]] = {}
        for _ in range(n):
            ip_index = block * per_block + randrange(per_block)
            session = sessions.get(ip_index)
            if session is None:
                ua = choice(BROWSER_UAS).format(v=110 + ip_index % 22, m=1 + ip_index % 8)
                session = sessions[ip_index] = (t0 + rand() * span, world.residential_ip(ip_index), ua)
            add_t(min(t1, session[0] + rng.expovariate(1 / 90)))
            add_ip(session[1])
            add_ua(session[2])
            path = _page(rng)
            add_p(path)
            add_s(304 if rand() < 0.05 else (404 if rand() < 0.02 else 200))
            add_b(randrange(300, 60000))
            add_r("https://world.openfoodfacts.org/" if rand() < 0.6 else "-")
    elif label == "legit:office_nat":
        for _ in range(n):
            add_t(t0 + rand() * span)
            add_ip(world.office_ip)
            add_ua(choice(world.office_uas))
            add_p(_page(rng))
            add_s(200 if rand() < 0.95 else 304)
            add_b(randrange(300, 60000))
            add_r("https://fr.openfoodfacts.org/" if rand() < 0.7 else "-")
    elif label == "legit:mobile_app":
        for _ in range(n):
            index = randrange(world.mobile_pool)
            add_t(t0 + rand() * span)
            add_ip(world.residential_ip(10_000_000 + index, v6_share=0.3))
            add_ua(f"Smoothie/4.{15 + index % 4}.{index % 6} (OFF app; {'Android 14' if index % 3 else 'iOS 17.5'})")
            code = _barcode(rng)
            add_p(f"/api/v2/product/{code}?fields=product_name,nutriscore_grade,image_front_url"
                  if rand() < 0.8 else f"/api/v2/search?code={code}&fields=code")
            add_s(200 if rand() < 0.9 else 404)
            add_b(randrange(200, 8000))
            add_r("-")
    elif label == "legit:googlebot":
        for _ in range(n):
            add_t(t0 + rand() * span)
            add_ip(choice(world.googlebot))
            add_ua(GOOGLEBOT_UA)
            add_p(f"/product/{_barcode(rng)}/{choice(BRANDS)}" if rand() < 0.8 else f"/category/{choice(CATEGORIES)}")
            add_s(200 if rand() < 0.93 else 404)
            add_b(randrange(20000, 90000))
            add_r("-")
    elif label == "abuse:scraper":
        for _ in range(n):
            add_t(t0 + rand() * span)
            add_ip(choice(world.scrapers))
            add_ua(world.scraper_ua)
            add_p(f"/product/{_barcode(rng)}")
            add_s(200 if rand() < 0.9 else 503)
            add_b(randrange(20000, 90000))
            add_r("-")
    elif label == "abuse:distributed_asn":
        for _ in range(n):
            add_t(t0 + rand() * span)
            add_ip(choice(world.distributed))
            add_ua(choice(BROWSER_UAS).format(v=121, m=3))
            r = rand()
            add_p(f"/cgi/search.pl?search_terms={choice(SEARCH_TERMS)}&page={randrange(1, 400)}&json=1" if r < 0.5
                  else f"/facets/categories/{choice(CATEGORIES)}/brands/{choice(BRANDS)}/{randrange(1, 50)}")
            add_s(200 if rand() < 0.8 else 503)
            add_b(randrange(5000, 120000))
            add_r("-")
    elif label == "abuse:fake_googlebot":
        for _ in range(n):
            add_t(t0 + rand() * span)
            add_ip(choice(world.fake_googlebot))
            add_ua(GOOGLEBOT_UA)
            add_p(f"/product/{_barcode(rng)}" if rand() < 0.7
                  else f"/cgi/search.pl?search_terms={choice(SEARCH_TERMS)}&page={randrange(1, 100)}")
            add_s(200)
            add_b(randrange(20000, 90000))
            add_r("-")
    elif label == "abuse:ai_crawler":
        for _ in range(n):
            ua, pool = choice(world.ai)
            add_t(t0 + rand() * span)
            add_ip(choice(pool))
            add_ua(ua)
            add_p(_page(rng))
            add_s(403)
            add_b(randrange(150, 200))
            add_r("-")
    elif label == "abuse:library_ua":
        for _ in range(n):
            ua, ip = choice(world.library)
            add_t(t0 + rand() * span)
            add_ip(ip)
            add_ua(ua)
            if ua == "-":  # OFF rewrites this UA to the stop-crawling page
                add_p(f"/api/v2/product/{_barcode(rng)}")
                add_s(200)
                add_b(1024)
            else:
                add_p(f"/api/v2/search?categories_tags={choice(CATEGORIES)}&page={randrange(1, 500)}")
                add_s(403)
                add_b(162)
            add_r("-")
    elif label == "abuse:probing":
        for _ in range(n):
            add_t(t0 + rand() * span)
            add_ip(choice(world.probers))
            add_ua(choice(("Mozilla/5.0 (compatible)", "-", "Mozilla/5.0 zgrab/0.x", BROWSER_UAS[2].format(v=99, m=1))))
            add_p(choice(PROBES))
            add_s(404 if rand() < 0.9 else 403)
            add_b(randrange(150, 600))
            add_r("-")
    elif label == "abuse:ignores_limits":
        for _ in range(n):
            add_t(t0 + rand() * span)
            add_ip(world.ignores_ip)
            add_ua(world.ignores_ua)
            add_p(f"/api/v2/search?categories_tags={choice(CATEGORIES)}&page={randrange(1, 900)}")
            add_s(429 if rand() < 0.85 else 200)
            add_b(randrange(150, 20000))
            add_r("-")
    else:
        raise ValueError(f"unknown scenario {label!r}; known: {', '.join(SCENARIOS)}")
    return rows


def generate(out_path: str | Path, *, lines: int, seed: int, start: datetime = DEFAULT_START,
             duration: timedelta | None = None, scenarios: dict[str, float] = DEFAULT) -> Path:
    """Write `lines` OFF `main`-format lines to `out_path` (gzip when it ends in .gz), in time order.

    Also writes `<out_path>.labels` (plain text, one label per line, same order) and returns its
    path. `scenarios` maps labels to their share of lines (renormalised). `duration` defaults to
    `lines` at 400 requests/s (at least 10 minutes).
    """
    if lines < 0:
        raise ValueError("lines must be >= 0")
    out_path = Path(out_path)
    labels_path = Path(str(out_path) + ".labels")
    rng = random.Random(seed)
    total_share = sum(scenarios.values()) or 1.0
    shares = {label: share / total_share for label, share in scenarios.items()}
    seconds = duration.total_seconds() if duration else max(600.0, lines / REQUESTS_PER_SECOND)
    world = _World(rng, lines, seconds)
    blocks = max(1, math.ceil(lines / BLOCK_LINES))
    base = start.astimezone(timezone.utc).timestamp()
    # lines per scenario and block, in proportion to the overlap of the block with the scenario's window
    plan: list[dict[str, int]] = [dict() for _ in range(blocks)]
    for label, share in shares.items():
        want = round(lines * share)
        lo, hi = _WINDOWS.get(label, (0.0, 1.0))
        weights = [max(0.0, min(hi, (b + 1) / blocks) - max(lo, b / blocks)) for b in range(blocks)]
        total = sum(weights) or 1.0
        counts = [int(want * w / total) for w in weights]
        counts[max(range(blocks), key=lambda b: weights[b])] += want - sum(counts)
        for b in range(blocks):
            plan[b][label] = counts[b]
    # adjust rounding so the file has exactly `lines` lines
    diff = lines - sum(sum(p.values()) for p in plan)
    first_label = next(iter(shares))
    plan[-1][first_label] = max(0, plan[-1][first_label] + diff)

    tmp = out_path.with_name(out_path.name + ".part")
    tmp_labels = labels_path.with_name(labels_path.name + ".part")
    with contextlib.ExitStack() as stack:
        if out_path.suffix == ".gz":  # no name, mtime=0: the same seed gives the same bytes
            raw = stack.enter_context(open(tmp, "wb"))
            packed = stack.enter_context(gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0))
            out = stack.enter_context(io.TextIOWrapper(packed, encoding="utf-8", newline="\n"))
        else:
            out = stack.enter_context(open(tmp, "w", encoding="utf-8", newline="\n"))
        lab = stack.enter_context(open(tmp_labels, "w", encoding="utf-8"))
        for b in range(blocks):
            t0 = b * seconds / blocks
            t1 = (b + 1) * seconds / blocks
            rows = []
            for label, count in plan[b].items():
                lo, hi = _WINDOWS.get(label, (0.0, 1.0))
                s0, s1 = max(t0, lo * seconds), min(t1, hi * seconds)
                if s1 <= s0:
                    s0, s1 = t0, t1
                rows.append(_scenario_rows(label, count, s0, min(s1, t1 - 1e-6), rng, world, b, blocks))
            _write_block(out, lab, rows, base, rng)
    tmp.replace(out_path)
    tmp_labels.replace(labels_path)
    return labels_path


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _write_block(out, lab, scenario_rows: list[_Rows], base: float, rng: random.Random) -> None:
    order = []
    for s, rows in enumerate(scenario_rows):
        order.extend((t, s, i) for i, t in enumerate(rows.times))
    order.sort()
    stamp_cache: dict[int, str] = {}
    buf: list[str] = []
    labels: list[str] = []
    rand = rng.random
    for t, s, i in order:
        rows = scenario_rows[s]
        second = int(base + t)
        stamp = stamp_cache.get(second)
        if stamp is None:
            d = datetime.fromtimestamp(second, tz=timezone.utc)
            stamp = stamp_cache[second] = (f"{d.day:02d}/{_MONTHS[d.month - 1]}/{d.year}:"
                                           f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} +0000")
        status = rows.statuses[i]
        cache = "-" if status >= 400 else ("HIT" if rand() < 0.2 else "MISS")
        upstream = "-" if status in (403, 429, 503) and rows.label != "abuse:distributed_asn" else f"{rand() * 0.3:.3f}"
        buf.append(f'{rows.ips[i]} - - [{stamp}] "GET {rows.paths[i]} HTTP/2.0" {status} {rows.sizes[i]} '
                   f'"{rows.referers[i]}" "{rows.uas[i]}" "-" {cache} [{upstream}]\n')
        labels.append(rows.label)
    out.write("".join(buf))
    lab.write("\n".join(labels) + ("\n" if labels else ""))


def write_asn_mmdb(path: str | Path) -> Path:
    """Write a small MaxMind-format ASN database (GeoLite2-ASN record shape) for the generator's ranges."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN",
                        description={"en": "proxygen synthetic ASN data for tests; not real data"})
    for asn, org, networks in ASNS:
        writer.insert_network(IPSet(networks), {"autonomous_system_number": asn,
                                                "autonomous_system_organization": org})
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    writer.to_db_file(str(tmp))
    tmp.replace(path)
    return path
