"""Per-client aggregates of a log: the numbers every crawler detector starts from.

`aggregate(source)` reads the batches once and returns a `Traffic`: one table per client key
(IP, network prefix, ASN, user agent), whole-log and per-key per-minute series, and totals.

Two ways to the same tables, chosen by the input (`LogSource.fits_in_memory`):

- plain files under `EAGER_MEMORY_RETURN_BYTES` in all (512 MiB, about 2 million OFF lines) keep a
  few derived columns of every line (about 50 bytes a line) and group them once, on both cores
  (`_read_whole`): a third of the work of grouping batch by batch and merging;
- larger inputs, gzip files (their expanded size is only a guess) and stdin keep memory bounded
  by the number of distinct keys, not lines (`_read_batched`): a million lines at a time are
  reduced to partial tables keyed by 64-bit hashes of the IP and user agent (integers group fast
  and take 8 bytes), those partials are merged (re-aggregated) whenever they grow, and only the
  final tables get the strings back.

Prefix and ASN tables are derived from the IP-level tables at the end, after the ASN lookups
(one per database network the IPs fall in, see `_asn_of`).

Column definitions (all tables):

- `requests`, `s2xx` .. `s5xx` (status classes; 1xx and others only in `requests`), `bytes`;
- `limited`: responses 429 or 503 (OFF's "you are too fast" and "the site protects itself");
- `after_limited`: requests sent after the key's first 429/503. Exact for `by_ip` and `by_ua`
  (read in groups of a million lines: when the input is in time order; rotated files are read oldest
  first); for `by_prefix` and
  `by_asn` it counts requests in the minutes after the minute of the first 429/503 (minute
  resolution);
- `distinct_paths`: distinct request targets (path AND query string, so a crawl of
  `/cgi/search.pl?page=N` counts every page). Exact up to `DISTINCT_SKETCH_K` (256) per key,
  above that a K-minimum-values estimate (mergeable across batches and from IPs to prefixes;
  typical error about 6 %);
- `first_seen`, `last_seen` (UTC); `rc_<class>` requests per route class;
  `flag_<name>` count of requests where the caller's flag expression is true;
- `peak_rpm`: most requests in one calendar minute; `sustained_rpm`: the highest average
  requests per minute over any 10 consecutive minutes (sum of a sliding 10-minute window / 10;
  a burst of 100 requests in one minute gives peak 100, sustained 10);
- `top_ua` (most frequent user agent) and `n_uas` (distinct user agents), except in `by_ua`;
- `ips` (distinct IPs) in `by_prefix`, `by_asn`, `by_ua`; `asn`, `asn_org`, `prefix` in `by_ip`;
  `family` in `by_ua` (`Googlebot`, `python-requests`, `Chrome`...; see `ua_family`): group `by_ua`
  on it for per-family counts.

Rows are sorted busiest first (`requests` descending). The per-IP partials are kept in four hash
shards merged on polars' streaming engine, so no merge holds two copies of a million-row table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import polars as pl

    from proxygen.logs.asn import AsnDb
    from proxygen.logs.source import LogSource, LogStats

#: Default route classes for OFF (first match wins), read off the edge vhost's locations.
DEFAULT_ROUTE_CLASSES: list[tuple[str, str]] = [
    ("search", r"^/(?:cgi/search\.pl|api/v[0-9]+(?:\.[0-9]+)?/search|search)(?:[/?]|$)"),
    ("facets", r"^/(?:facets(?:/|$)|(?:category|categories|categorie|brand|brands|marque|label|labels|"
               r"ingredient|ingredients|country|countries|pays|store|stores|magasin|packaging|emballage|"
               r"origin|origins|origine|allergen|allergens|allergene|additive|additives|additif|trace|traces|"
               r"nutrition-grade|nutrition-grades|nutriscore|nova-group|nova-groups|ecoscore|"
               r"manufacturing-place|packager-code|purchase-place|state|states|language|languages|"
               r"contributor|editor|photographer|informer|data-quality|entry-date|last-edit-date|"
               r"city|cities|vitamin|mineral|nucleotide|label)/)"),
    ("product", r"^/(?:product|produit|producto|produkto|produto|produk|produkt|proizvod|afaris|berhem|gynnyrch|"
                r"məhsul|mountaj|termék|toode|ürün|өнім|продукт|उत्पादन|생성물|产品|產品|製品)(?:/|$)|"
                r"^/api/v[0-9]+(?:\.[0-9]+)?/product"),
    ("api", r"^/api/"),
    ("static", r"^/(?:css|js|fonts|images|\.well-known|data/i18n)/|"
               r"\.(?:png|jpe?g|gif|svg|webp|ico|css|js|woff2?|ttf|eot|map|txt)$"),
]
OTHER_CLASS = "other"
DISTINCT_SKETCH_K = 256
SUSTAINED_WINDOW_MINUTES = 10
_COMPACT_ROWS = 2_000_000
#: Hash shards of the per-IP partial tables (see `_Sharded`).
_SHARDS = 4
#: Merge a partial table when its pending rows reach this share of its merged size: lower bounds
#: memory (pending rows are not merged yet), higher spends less time re-merging.
_GROWTH = 1.5


@dataclass
class Totals:
    lines: int
    parsed: int
    malformed: int
    filtered_out: int
    first_time: datetime | None
    last_time: datetime | None


class _KeyedMinutes:
    """A per-key per-minute table kept under 64-bit key hashes, with the key strings joined on demand.

    Joining the strings onto millions of (key, minute) rows would double the memory of the result,
    and most analyses only draw a few timelines.
    """

    def __init__(self, minutes, keys):
        self.minutes = minutes  # (hash, minute as int, requests, limited)
        self.keys = keys        # (hash, key)
        self._frame = None

    def frame(self):
        if self._frame is None:
            h = self.minutes.columns[0]
            self._frame = self.minutes.join(self.keys, on=h).select("key", _minute_dt(), "requests", "limited")
        return self._frame

    def of(self, keys):
        import polars as pl

        h = self.minutes.columns[0]
        keys = keys if isinstance(keys, pl.Series) else pl.Series(list(keys), dtype=self.keys["key"].dtype)
        wanted = self.keys.filter(pl.col("key").is_in(keys.implode()))
        return (self.minutes.join(wanted.select(h), on=h, how="semi").group_by("minute")
                .agg(pl.col("requests").sum(), pl.col("limited").sum()).select(_minute_dt(), "requests", "limited")
                .sort("minute"))


@dataclass
class Traffic:
    """The aggregates of one log. Tables are polars DataFrames; see the module docstring for columns.

    `ip_minute` and `ua_minute` (key, minute, requests, limited) are built on first access;
    `timeline()` draws one key's series without building them.
    """

    by_ip: "pl.DataFrame"
    by_prefix: "pl.DataFrame"
    by_asn: "pl.DataFrame"
    by_ua: "pl.DataFrame"
    per_minute: "pl.DataFrame"   # minute (Datetime UTC), requests, limited
    totals: Totals
    route_classes: list[tuple[str, str]]
    flags: list[str]
    asn_enabled: bool
    asn_message: str | None
    prefix_lengths: tuple[int, int]
    stats: "LogStats | None" = None
    messages: list[str] = field(default_factory=list)
    _ip_minutes: "_KeyedMinutes | None" = field(default=None, repr=False)
    _ua_minutes: "_KeyedMinutes | None" = field(default=None, repr=False)

    @property
    def ip_minute(self) -> "pl.DataFrame":
        """key (IP), minute, requests, limited: one row per IP and minute with requests."""
        return self._ip_minutes.frame()

    @property
    def ua_minute(self) -> "pl.DataFrame":
        """key (user agent), minute, requests, limited."""
        return self._ua_minutes.frame()

    def timeline(self, kind: str, key) -> "pl.DataFrame":
        """Requests per minute (minute, requests, limited) of one key of `kind` ip|prefix|asn|ua."""
        import polars as pl

        if kind == "ip":
            return self._ip_minutes.of([key])
        if kind == "ua":
            return self._ua_minutes.of([key])
        column = {"prefix": "prefix", "asn": "asn"}.get(kind)
        if column is None:
            raise ValueError(f"unknown key kind {kind!r} (ip, prefix, asn, ua)")
        return self._ip_minutes.of(self.by_ip.filter(pl.col(column) == key)["key"].to_list())

    def uas_timeline(self, keys) -> "pl.DataFrame":
        """Requests per minute of several user agents together (a finding on a user-agent token covers
        every user agent containing it: with a rotating crawler, hundreds of thousands)."""
        return self._ua_minutes.of(keys)


# --------------------------------------------------------------------------- partial tables


class _Partial:
    """A table accumulated over batches: frames are concatenated and re-aggregated when they grow."""

    def __init__(self, keys: list[str], aggs: dict[str, str], min_rows: int | None = None):
        self.min_rows = min_rows
        self.keys = keys
        self.aggs = aggs  # column -> sum | min | max | first
        self.frames: list = []
        self.rows = 0
        self.compacted_rows = 0

    def _exprs(self):
        import polars as pl

        out = []
        for name, how in self.aggs.items():
            col = pl.col(name)
            out.append({"sum": col.sum, "min": col.min, "max": col.max, "first": col.first}[how]().alias(name))
        return out

    def add(self, frame) -> None:
        self.frames.append(frame)
        self.rows += frame.height
        if self.rows > max(self.min_rows or _COMPACT_ROWS, _GROWTH * self.compacted_rows):
            self.compact()

    def compact(self):
        import polars as pl

        if len(self.frames) > 1:
            # streaming engine: the concatenation is never materialised, only the merged table
            merged = (pl.concat([f.lazy() for f in self.frames], how="vertical_relaxed").group_by(self.keys)
                      .agg(self._exprs()).collect(engine="streaming"))
            self.frames = [merged]
        self.rows = self.compacted_rows = self.frames[0].height if self.frames else 0
        return self.result()

    def result(self):
        import polars as pl

        if not self.frames:
            return None
        if len(self.frames) > 1:
            self.compact()
        return self.frames[0] if self.frames else pl.DataFrame()


class _Sharded:
    """A `_Partial` split by key hash into shards merged separately: a merge then needs a quarter of
    the transient memory (the IP tables of a log with a million IPs are the largest)."""

    def __init__(self, keys: list[str], aggs: dict[str, str] | None = None, sketch=False):
        self.key = keys[0]
        if sketch:  # sharded K-minimum-values sketches instead of summed tables
            self.shards = [_Sketch(self.key, min_rows=_COMPACT_ROWS // _SHARDS) for _ in range(_SHARDS)]
        else:
            self.shards = [_Partial(keys, aggs, min_rows=_COMPACT_ROWS // _SHARDS) for _ in range(_SHARDS)]

    def add_split(self, pieces: dict) -> None:
        """Add a frame already cut by `split_shards` (the reading thread does that)."""
        for shard, piece in pieces.items():
            self.shards[shard].add(piece)

    @property
    def frames(self):
        return [f for shard in self.shards for f in shard.frames]

    @frames.setter
    def frames(self, value):
        assert value == []
        for shard in self.shards:
            shard.frames = []

    def result(self):
        import polars as pl

        parts = [r for r in (shard.result() for shard in self.shards) if r is not None]
        if not parts:
            return None
        merged = pl.concat(parts, rechunk=False)  # no copy: the shards' frames become its chunks
        for shard in self.shards:
            shard.frames = []
        return merged


def split_shards(frame, key: str) -> dict:
    """{shard: rows} of a frame, by key hash, as `_Sharded` keeps them."""
    import polars as pl

    pieces = frame.with_columns((pl.col(key) % _SHARDS).alias("_shard")).partition_by(
        "_shard", include_key=False, as_dict=True)
    return {int(shard): piece for (shard,), piece in pieces.items()}


class _Sketch:
    """Per-key K-minimum-values sketches of distinct target hashes (exact below K per key).

    Once a key's sketch is full (K hashes), its largest kept hash is a cutoff: a later hash above it
    can never be among the key's K smallest, so `add` drops it at once. The requests of busy keys
    (most of a log) then never reach the sketch, which keeps it, and its merges, small.
    """

    def __init__(self, key: str, k: int = DISTINCT_SKETCH_K, min_rows: int | None = None):
        self.key = key
        self.k = k
        self.min_rows = min_rows
        self.frames: list = []
        self.rows = 0
        self.compacted_rows = 0
        self.dirty = False
        self.cutoffs = None  # (key, _cut) of the keys whose sketch is full

    def add(self, pairs) -> None:  # pairs: (key, h), duplicates allowed
        import polars as pl

        if self.cutoffs is not None:
            pairs = (pairs.join(self.cutoffs, on=self.key, how="left")
                     .filter(pl.col("_cut").is_null() | (pl.col("h") < pl.col("_cut"))).drop("_cut"))
        self.frames.append(pairs)  # de-duplicated when merged: a batch repeats few pairs
        self.rows += pairs.height
        self.dirty = True
        if self.rows > max(self.min_rows or _COMPACT_ROWS, _GROWTH * self.compacted_rows):
            self.compact()

    def compact(self) -> None:
        import polars as pl

        if not self.frames or not self.dirty:
            return
        self.dirty = False
        merged = pl.concat([f.lazy() for f in self.frames]).unique().collect(engine="streaming")
        self.frames = []
        trimmed = trim_sketch(merged, self.key, self.k)
        del merged
        self.frames = [trimmed]
        self.rows = self.compacted_rows = trimmed.height
        full = trimmed.group_by(self.key).agg(pl.len().alias("_n"), pl.col("h").max().alias("_cut")).filter(
            pl.col("_n") >= self.k)
        self.cutoffs = full.select(self.key, "_cut") if full.height else None

    def result(self):
        self.compact()
        return self.frames[0] if self.frames else None


def trim_sketch(pairs, key: str, k: int = DISTINCT_SKETCH_K):
    """Keep the k smallest distinct hashes per key."""
    import polars as pl

    counts = pairs.group_by(key).len()
    big = counts.filter(pl.col("len") > k)
    if big.height == 0:
        return pairs
    is_big = pl.col(key).is_in(big[key].implode())  # a set lookup: cheaper than a join, few keys are big
    small_part = pairs.filter(~is_big)
    big_part = pairs.filter(is_big).group_by(key).agg(pl.col("h").bottom_k(k)).explode("h")
    return pl.concat([small_part, big_part.select(small_part.columns)])


def estimate_distinct(pairs, key: str, k: int = DISTINCT_SKETCH_K, cutoffs: bool = False):
    """(key, distinct_paths) from sketches: the count when below k, else (k-1) / kth-smallest-hash.

    With `cutoffs`, also a `_cut` column: the kth-smallest hash of full sketches (else null).
    """
    import polars as pl

    full = pl.col("_n") >= k
    return pairs.group_by(key).agg(
        pl.len().alias("_n"), pl.col("h").max().alias("_hmax")
    ).select(
        pl.col(key),
        pl.when(~full).then(pl.col("_n").cast(pl.Float64))
        .otherwise((k - 1) / (pl.col("_hmax").cast(pl.Float64) / 2.0 ** 64))
        .round(0).cast(pl.Int64).alias("distinct_paths"),
        *([pl.when(full).then(pl.col("_hmax")).alias("_cut")] if cutoffs else []),
    )


# --------------------------------------------------------------------------- helpers


def _route_class_expr(route_classes: list[tuple[str, str]]):
    import polars as pl

    path = pl.col("path").fill_null("")
    expr = pl.lit(len(route_classes), dtype=pl.UInt8)
    for index in range(len(route_classes) - 1, -1, -1):
        expr = pl.when(path.str.contains(route_classes[index][1])).then(pl.lit(index, dtype=pl.UInt8)).otherwise(expr)
    return expr


def validate_route_classes(route_classes) -> list[tuple[str, str]]:
    """Check names and regexes (polars/Rust regex syntax) and return them as a list of pairs."""
    import re

    from proxygen.errors import UsageError

    out = []
    for item in route_classes:
        try:
            name, pattern = item
        except (TypeError, ValueError):
            raise UsageError(f"route class {item!r}: expected a (name, path regex) pair") from None
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name or "") or name == OTHER_CLASS:
            raise UsageError(f"route class {name!r}: names are lower-case words (a-z, 0-9, _), not {OTHER_CLASS!r}")
        try:
            re.compile(pattern)
        except re.error as err:
            raise UsageError(f"route class {name!r}: invalid path regex {pattern!r}: {err}") from None
        out.append((name, pattern))
    return out


def ip_prefixes(ips: "pl.Series", v4_len: int, v6_len: int) -> "pl.Series":
    """The network prefix (e.g. 192.0.2.0/24) of each address; the raw value when it is not an address.

    IPv4 is done in polars (it is most of the addresses); IPv6 with the socket module.
    """
    import socket

    import polars as pl

    frame = ips.rename("ip").to_frame()
    ip = pl.col("ip")
    octet = "[0-9]{1,3}"
    v4 = ip.str.contains(rf"^{octet}\.{octet}\.{octet}\.{octet}$") & ~ip.str.contains(
        r"(?:^|\.)(?:25[6-9]|2[6-9][0-9]|[3-9][0-9][0-9])(?:\.|$)")
    if v4_len % 8 == 0:  # the usual /24 (or /16...): plain text operations, no arithmetic
        kept = v4_len // 8
        head = ip.str.extract(r"^(" + r"\.".join([octet] * kept) + r")", 1) if kept else pl.lit("")
        tail = ".".join(["0"] * (4 - kept))
        v4_text = pl.concat_str([head, pl.lit(("." if kept and tail else "") + tail + f"/{v4_len}")])
    else:
        octets = ip.str.split_exact(".", 3)
        parts = [octets.struct.field(f"field_{i}").cast(pl.Int64, strict=False) for i in range(4)]
        as_int = parts[0] * (1 << 24) + parts[1] * (1 << 16) + parts[2] * (1 << 8) + parts[3]
        net = as_int - as_int % (1 << (32 - v4_len))
        v4_text = pl.concat_str([(net // (1 << 24)).cast(pl.Utf8), (net // (1 << 16) % 256).cast(pl.Utf8),
                                 (net // (1 << 8) % 256).cast(pl.Utf8), (net % 256).cast(pl.Utf8)],
                                separator=".") + f"/{v4_len}"
    out = frame.select(pl.when(v4).then(v4_text).otherwise(None).alias("prefix"))
    prefix = out["prefix"]
    others = out.with_row_index("i").filter(pl.col("prefix").is_null() & ips.is_not_null())
    if others.height:
        values: list[str | None] = []
        masks = {}
        for ip in ips.gather(others["i"]).to_list():
            try:
                packed = socket.inet_pton(socket.AF_INET6, ip)
            except (OSError, ValueError):
                values.append(ip)  # not an address: its own group
                continue
            if packed[:12] == b"\0" * 10 + b"\xff\xff":  # IPv4-mapped
                number = int.from_bytes(packed[12:], "big") & (((1 << 32) - 1) ^ ((1 << (32 - v4_len)) - 1))
                values.append(f"{socket.inet_ntop(socket.AF_INET, number.to_bytes(4, 'big'))}/{v4_len}")
                continue
            m = masks.get(v6_len) or masks.setdefault(v6_len, ((1 << 128) - 1) ^ ((1 << (128 - v6_len)) - 1))
            number = int.from_bytes(packed, "big") & m
            values.append(f"{socket.inet_ntop(socket.AF_INET6, number.to_bytes(16, 'big'))}/{v6_len}")
        prefix = prefix.scatter(others["i"], pl.Series(values, dtype=pl.Utf8))
    return prefix.alias("prefix")


# --------------------------------------------------------------------------- aggregate


def aggregate(source: "LogSource", *, route_classes=None, asn_db: "AsnDb | str | None" = None,
              flags: "dict[str, pl.Expr] | None" = None, prefix_v4: int = 24, prefix_v6: int = 48) -> Traffic:
    """Read every batch of `source` once and aggregate it per IP, prefix, ASN and user agent."""
    import polars as pl

    from proxygen.errors import UsageError
    from proxygen.logs.asn import HOW_TO_GET_A_DATABASE, AsnDb

    classes = validate_route_classes(DEFAULT_ROUTE_CLASSES if route_classes is None else route_classes)
    class_names = [name for name, _ in classes] + [OTHER_CLASS]
    flags = dict(flags or {})
    for name in flags:
        if not name.isidentifier():
            raise UsageError(f"flag name {name!r}: must be an identifier")
    if not (0 < prefix_v4 <= 32 and 0 < prefix_v6 <= 128):
        raise UsageError(f"prefix lengths /{prefix_v4} (IPv4) and /{prefix_v6} (IPv6) are out of range")
    db = AsnDb.open(asn_db) if isinstance(asn_db, str) else asn_db
    large = getattr(source, "large", True)  # memory first: the final tables are built more one at a time

    count_cols = ["requests", "s2xx", "s3xx", "s4xx", "s5xx", "limited", "bytes",
                  *[f"rc_{c}" for c in class_names], *[f"flag_{f}" for f in flags]]
    rc_expr = _route_class_expr(classes)
    lim = pl.col("_lim")
    per_key = [
        pl.len().cast(pl.UInt32).alias("requests"),
        *[(pl.col("_cls") == n).sum().cast(pl.UInt32).alias(f"s{n}xx") for n in (2, 3, 4, 5)],
        lim.sum().cast(pl.UInt32).alias("limited"),
        pl.col("_bytes").sum().alias("bytes"),
        *[(pl.col("_rc") == i).sum().cast(pl.UInt32).alias(f"rc_{name}") for i, name in enumerate(class_names)],
        *[pl.col(f"flag_{name}").sum().cast(pl.UInt32).alias(f"flag_{name}") for name in flags],
        pl.col("time").min().alias("first_seen"), pl.col("time").max().alias("last_seen"),
        pl.col("time").filter(lim).min().alias("first_limited"),
    ]
    per_minute_aggs = [pl.len().cast(pl.UInt32).alias("requests"), lim.sum().cast(pl.UInt32).alias("limited")]

    needed = {"client_ip", "time", "path", "query", "status", "bytes", "user_agent"}
    for expr in flags.values():
        needed.update(expr.meta.root_names())

    status = pl.col("status")
    derived = [
        pl.col("client_ip").hash().alias("ip_h"),
        pl.col("user_agent").hash().alias("ua_h"),
        (pl.col("time").dt.epoch("s") // 60).cast(pl.Int32).alias("minute"),
        (status // 100).cast(pl.Int8).alias("_cls"),
        status.is_in([429, 503]).fill_null(False).alias("_lim"),
        pl.col("bytes").fill_null(0).alias("_bytes"),
        rc_expr.alias("_rc"),
        (pl.col("path").hash() ^ pl.col("query").hash()).alias("h"),
        *[expr.fill_null(False).alias(f"flag_{name}") for name, expr in flags.items()],
    ]
    #: what the tables are grouped from: hashed keys, minute, classes, flags, and the key strings
    line_columns = ["client_ip", "user_agent", "time", *[e.meta.output_name() for e in derived]]

    def derive(lazy):
        """The per-line columns every table is grouped from; runs inside the reader's plan."""
        return lazy.with_columns(derived)

    def group_queries(lazy):
        """(ip, ua, ip x ua, ip x minute, ua x minute, minute) tables of some lines."""
        return [
            lazy.group_by("ip_h").agg(*per_key, pl.col("client_ip").first().alias("key")),
            lazy.group_by("ua_h").agg(*per_key, pl.col("user_agent").first().alias("key")),
            lazy.group_by("ip_h", "ua_h").agg(pl.len().cast(pl.UInt32).alias("requests")),
            lazy.group_by("ip_h", "minute").agg(per_minute_aggs),
            lazy.group_by("ua_h", "minute").agg(per_minute_aggs),
            lazy.group_by("minute").agg(per_minute_aggs),
        ]

    def enrich(ip_keys):
        return _enrich(ip_keys, db, prefix_v4, prefix_v6)

    if getattr(source, "fits_in_memory", False):
        keyed = _read_whole(source, needed, derive, line_columns, group_queries, enrich)
    else:
        keyed = _read_batched(source, needed, derive, line_columns, group_queries, count_cols)
    stats = source.stats
    totals = Totals(lines=stats.lines_read, parsed=stats.parsed, malformed=stats.malformed,
                    filtered_out=stats.filtered_out, first_time=stats.first_time, last_time=stats.last_time)
    # the per-IP table stays in its shards until the end: by_ip is built shard by shard
    ip_shards = [f for f in keyed.ip_shards if f.height]
    if not ip_shards:
        return _empty_traffic(classes, class_names, flags, totals, db, prefix_v4, prefix_v6, stats,
                              count_cols)
    ip_keys = pl.concat([f.select("ip_h", "key") for f in ip_shards])
    ua_tab, ip_ua_tab, ip_min_tab, ua_min_tab = keyed.ua, keyed.ip_ua, keyed.ip_min, keyed.ua_min
    keyed.ip_shards = keyed.ip_ua = None

    def by_ua_table():
        ips_per_ua = ip_ua_tab.group_by("ua_h").agg(pl.len().cast(pl.UInt32).alias("ips"))
        return (ua_tab.join(estimate_distinct(keyed.ua_sketch(), "ua_h"), on="ua_h", how="left")
                .join(keyed.after_ua, on="ua_h", how="left")
                .join(_rates(ua_min_tab, "ua_h"), on="ua_h", how="left")
                .join(ips_per_ua, on="ua_h", how="left")
                .with_columns(pl.col("after_limited").fill_null(0).cast(pl.UInt32)))

    # Independent pieces run in parallel threads: polars releases the GIL while it computes.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:  # more threads only raise peak memory
        f_ua = pool.submit(by_ua_table)
        f_ip_sketch = pool.submit(keyed.ip_sketch)
        f_rates = pool.submit(_rates, ip_min_tab, "ip_h")
        f_top = pool.submit(_top_ua, ip_ua_tab, "ip_h", ua_tab)
        f_minutes = pool.submit(lambda: (
            _KeyedMinutes(ip_min_tab, ip_keys),
            _KeyedMinutes(ua_min_tab, ua_tab.select("ua_h", "key")),
            keyed.per_min.select(_minute_dt(), "requests", "limited").sort("minute")))
        enrichment = keyed.enrichment if keyed.enrichment is not None else enrich(ip_keys)
        ip_sketch_tab = f_ip_sketch.result()
        ip_distinct = estimate_distinct(ip_sketch_tab, "ip_h", cutoffs=True)
        ip_cutoffs = ip_distinct.filter(pl.col("_cut").is_not_null()).select("ip_h", "_cut")
        side = [ip_distinct.drop("_cut"), keyed.after_ip, f_rates.result(), f_top.result(), enrichment]
        # a finished future keeps its result: dropped here, or the per-IP sketch would outlive its use
        del ip_distinct, f_ip_sketch, f_rates, f_top
        by_ua = f_ua.result()  # the last users of the (IP, UA) table besides the groups

        # ---- what by_prefix / by_asn need from IP-level partials, one after the other (side by side,
        # their transient tables would add up); then the per-IP sketch and (IP, UA) table can go
        group_args = (enrichment, ip_min_tab, ip_ua_tab, ip_sketch_tab, ip_cutoffs, ua_tab)
        f_asn = pool.submit(_group_activity, "asn", *group_args) if db is not None and not large else None
        activity = {"prefix": _group_activity("prefix", *group_args)}
        if db is not None:  # a large log's: one after the other, their transient tables would add up
            activity["asn"] = f_asn.result() if f_asn is not None else _group_activity("asn", *group_args)
        del ip_sketch_tab, ip_cutoffs, ip_ua_tab, group_args, f_asn  # the tuple held them too

        parts = []
        while ip_shards:  # one shard at a time, each freed once joined: never two copies of the IP table
            chain = ip_shards.pop().lazy()
            for table in side:
                chain = chain.join(table.lazy(), on="ip_h", how="left")
            parts.append(chain.with_columns(pl.col("after_limited").fill_null(0).cast(pl.UInt32)).collect())
            del chain
        by_ip = pl.concat(parts, rechunk=False)
        del parts, side, enrichment
        asn_message = HOW_TO_GET_A_DATABASE if db is None else _no_asn_found(by_ip, db)

        by_prefix = _group_table("prefix", by_ip, activity.pop("prefix"), count_cols)
        if db is not None:
            by_asn = _group_table("asn", by_ip, activity.pop("asn"), count_cols)
            orgs_tab = (by_ip.lazy().filter(pl.col("asn").is_not_null()).group_by("asn")
                        .agg(pl.col("asn_org").first()).collect())
            by_asn = by_asn.join(orgs_tab.rename({"asn": "key"}), on="key", how="left")
            prefix_asn = (by_ip.lazy().filter(pl.col("asn").is_not_null()).group_by("prefix", "asn").len()
                          .sort(["len", "asn"], descending=[True, False])
                          .group_by("prefix", maintain_order=True).agg(pl.col("asn").first())
                          .collect())  # the most common ASN of the prefix
            by_prefix = by_prefix.join(prefix_asn.rename({"prefix": "key"}), on="key", how="left").join(
                orgs_tab, on="asn", how="left")
        else:
            by_asn = _empty_group_table("asn", count_cols, pl.Int64)
            by_prefix = by_prefix.with_columns(pl.lit(None, dtype=pl.Int64).alias("asn"),
                                               pl.lit(None, dtype=pl.Utf8).alias("asn_org"))
        ip_minute, ua_minute, per_minute = f_minutes.result()
    # what the result does not keep goes before the final copies are made
    del ua_tab, keyed

    ordered = ["key", "requests", "distinct_paths", "s2xx", "s3xx", "s4xx", "s5xx", "limited", "after_limited",
               "bytes", "first_seen", "last_seen", *[f"rc_{c}" for c in class_names],
               *[f"flag_{f}" for f in flags], "peak_rpm", "sustained_rpm"]
    clamp = pl.min_horizontal("distinct_paths", pl.col("requests").cast(pl.Int64)).alias("distinct_paths")

    def final(table, *extra, family=False):
        """Clamp the estimate, order the columns, then the rows (busiest first) one column at a time,
        so that sorting a million-row table never holds two copies of it."""
        lazy = table.lazy().with_columns(clamp)
        del table
        if family:
            lazy = lazy.with_columns(ua_family())
        table = lazy.select(*ordered, *extra).collect()
        del lazy  # the sorted columns below replace these one by one: nothing else may hold them
        order = table["requests"].arg_sort(descending=True)
        columns = {}
        for name in list(table.columns):
            columns[name] = table[name].gather(order)
            table = table.drop(name)
        return pl.DataFrame(columns)

    tables = {"by_ip": by_ip, "by_prefix": by_prefix, "by_asn": by_asn, "by_ua": by_ua}
    del by_ip, by_prefix, by_asn, by_ua
    by_ip = final(tables.pop("by_ip"), "top_ua", "n_uas", "asn", "asn_org", "prefix")
    by_prefix = final(tables.pop("by_prefix"), "top_ua", "n_uas", "ips", "asn", "asn_org")
    by_asn = final(tables.pop("by_asn"), "top_ua", "n_uas", "ips", "asn_org")
    by_ua = final(tables.pop("by_ua"), "ips", "family", family=True)
    return Traffic(by_ip=by_ip, by_prefix=by_prefix, by_asn=by_asn, by_ua=by_ua, per_minute=per_minute,
                   _ip_minutes=ip_minute, _ua_minutes=ua_minute, totals=totals, route_classes=classes,
                   flags=list(flags), asn_enabled=db is not None, asn_message=asn_message,
                   prefix_lengths=(prefix_v4, prefix_v6), stats=stats, messages=list(stats.messages))


#: With at least this many client addresses, a database that knows none of them is worth a word.
_ASN_CHECK_MIN_IPS = 20


def _no_asn_found(by_ip, db) -> str | None:
    """A message when the database gave no ASN to any address: most likely it is not an ASN database
    (a GeoLite2-City file given by mistake), and the ASN-wide detectors would silently see nothing."""
    if by_ip.height < _ASN_CHECK_MIN_IPS or by_ip["asn"].null_count() < by_ip.height:
        return None
    return (f"ASN grouping found nothing: {db.path} (type {db.database_type!r}) gave no ASN for any of the "
            f"{by_ip.height:,} client addresses. Is it an ASN database? Use GeoLite2-ASN, DB-IP ASN Lite "
            "or IPinfo Lite (a City or Country database has no ASNs).")


def ua_family():
    """A short family name for a user agent (expression on `key`): the bot/library/app name, or the browser.

    `Mozilla/5.0 (compatible; Googlebot/2.1; ...)` -> `Googlebot`; `python-requests/2.31` ->
    `python-requests`; `Smoothie/4.17.0 (OFF app)` -> `Smoothie`; browsers -> `Edge`, `Firefox`,
    `Chrome`, `Safari`; `-` stays `-`. Good enough to group a log by; not a full UA parser.
    """
    import polars as pl

    ua = pl.col("key")
    bot = ua.str.extract(r"(?i)([A-Za-z0-9_.-]*(?:bot|spider|crawler|crawl|scan|fetcher|agent)[A-Za-z0-9_.-]*)"
                         r"(?:/|;|\)|\s|$)", 1)
    compatible = ua.str.extract(r"compatible; ([^/;)]+)", 1)
    browser = (pl.when(ua.str.contains("Edg/")).then(pl.lit("Edge"))
               .when(ua.str.contains("Firefox/")).then(pl.lit("Firefox"))
               .when(ua.str.contains("Chrome/")).then(pl.lit("Chrome"))
               .when(ua.str.contains("Safari/")).then(pl.lit("Safari")))
    first_token = ua.str.extract(r"^([^/\s;(]+)", 1)
    return (pl.when(ua.is_null()).then(None)
            .when(ua == "-").then(pl.lit("-"))
            .when(ua.str.starts_with("Mozilla/")).then(pl.coalesce(bot, compatible, browser, pl.lit("Mozilla")))
            .otherwise(pl.coalesce(first_token, ua))).alias("family")


def _minute_dt():
    import polars as pl

    return (pl.col("minute").cast(pl.Int64) * 60_000_000).cast(pl.Datetime("us")).dt.replace_time_zone(
        "UTC").alias("minute")


@dataclass
class _KeyTables:
    """What the final tables are built from: per-key sums, (key, minute) and (IP, UA) counts, and the
    distinct-target sketches (functions: the batched reader finishes them while the rest goes on)."""

    ip_shards: list           # per-IP sums (several frames: see `_Sharded`)
    ua: "pl.DataFrame"
    ip_ua: "pl.DataFrame"
    ip_min: "pl.DataFrame"
    ua_min: "pl.DataFrame"
    per_min: "pl.DataFrame"
    after_ip: "pl.DataFrame"  # (ip_h, after_limited)
    after_ua: "pl.DataFrame"
    ip_sketch: Callable       # () -> (ip_h, h) with the K smallest distinct h per IP
    ua_sketch: Callable
    enrichment: "pl.DataFrame | None" = None  # `_enrich` of every IP, when the reader did it already

    @classmethod
    def empty(cls) -> "_KeyTables":
        """No line parsed: `aggregate` returns its empty tables before looking at anything else."""
        return cls([], None, None, None, None, None, None, None, lambda: None, lambda: None)


def _enrich(ip_keys, db, prefix_v4: int, prefix_v6: int):
    """(ip_h, prefix, asn, asn_org) of the (ip_h, key) rows: prefixes, and ASNs as `_asn_of` finds them."""
    import polars as pl

    keys = ip_keys.select("ip_h", "key", ip_prefixes(ip_keys["key"], prefix_v4, prefix_v6))
    if db is None:
        return keys.select("ip_h", "prefix", pl.lit(None, dtype=pl.Int64).alias("asn"),
                           pl.lit(None, dtype=pl.Utf8).alias("asn_org"))
    return keys.select("ip_h", "prefix").join(_asn_of(keys.select("ip_h", "key"), db), on="ip_h", how="left")


#: Lines grouped at once on the batched path (about 50 MiB of derived columns): grouping a million lines
#: together costs a third of grouping fifteen 70,000-line batches, and merges come fifteen times less
#: often. 10M lines: 34.3 s instead of 39.9-42.4 s, the peak unchanged (989 MiB then); 2M lines at once:
#: no faster, 997 MiB.
_GROUP_ROWS = 1_000_000


def _slim_lines(line_columns):
    """The transform keeping a batch's derived columns without the key strings, which are kept once per
    distinct key instead ((ip_h, key) and (ua_h, key) tables): user agents are most of a line's bytes."""
    def slim(batch):
        import polars as pl

        lines = batch.select(line_columns)
        keys = pl.collect_all([lines.lazy().group_by("ip_h").agg(pl.col("client_ip").first().alias("key")),
                               lines.lazy().group_by("ua_h").agg(pl.col("user_agent").first().alias("key"))])
        return lines.drop("client_ip", "user_agent"), keys
    return slim


class _Lines:
    """Slim lines (see `_slim_lines`) and their key tables, accumulated until grouped."""

    def __init__(self):
        self.parts, self.ip_keys, self.ua_keys, self.rows = [], [], [], 0

    def add(self, lines, keys) -> None:
        self.parts.append(lines)
        self.ip_keys.append(keys[0])
        self.ua_keys.append(keys[1])
        self.rows += lines.height

    def take(self):
        """(lines, ip names, ua names) of everything added; empties the accumulator."""
        import polars as pl

        out = (pl.concat(self.parts, rechunk=False), pl.concat(self.ip_keys).unique("ip_h", keep="first"),
               pl.concat(self.ua_keys).unique("ua_h", keep="first"))
        self.__init__()
        return out


def _group_lines(lines, ip_names, ua_names, group_queries, extra=()) -> list:
    """`group_queries` over slim lines, plus `extra` queries, on both cores; the key strings are joined
    to the (far fewer) grouped rows of the IP and UA tables, not to every line."""
    import polars as pl

    lazy = lines.lazy().with_columns(pl.lit(None, dtype=pl.Utf8).alias("client_ip"),
                                     pl.lit(None, dtype=pl.Utf8).alias("user_agent"))
    tables = pl.collect_all([*group_queries(lazy), *extra])
    tables[0] = tables[0].drop("key").join(ip_names, on="ip_h", how="left")
    tables[1] = tables[1].drop("key").join(ua_names, on="ua_h", how="left")
    return tables


def _read_whole(source, needed, derive, line_columns, group_queries, enrich) -> _KeyTables:
    """Keep every line's derived columns (about 50 bytes a line), then group them once.

    Grouping all lines at once costs a third of grouping batch by batch and merging the partials;
    it is how plain files under `EAGER_MEMORY_RETURN_BYTES` are read (their lines fit in memory
    with room to spare: a 480 MiB log of 2.15M lines peaks at ~630 MiB). The IPs are `enrich`ed
    (ASN lookups, in Python) while polars groups the lines. Results equal `_read_batched`'s;
    `after_limited` is exact in any line order.
    """
    import polars as pl

    kept = _Lines()
    for slim, keys in source.batches(columns=needed, derive=derive, transform=_slim_lines(line_columns)):
        kept.add(slim, keys)
    if not kept.rows:
        return _KeyTables.empty()
    lines, ip_names, ua_names = kept.take()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:  # the ASN walk (Python) beside polars' grouping
        enriched = pool.submit(enrich, ip_names)
        tables = _group_lines(lines, ip_names, ua_names, group_queries,
                              [lines.lazy().select("ip_h", "h").unique(), lines.lazy().select("ua_h", "h").unique()])
        enriched = enriched.result()
    ip, ua, ip_ua, ip_min, ua_min, per_min, ip_pairs, ua_pairs = tables

    def after(key, table):  # requests later than the key's first 429/503
        first = table.lazy().filter(pl.col("first_limited").is_not_null()).select(key, "first_limited")
        return (lines.lazy().select(key, "time").join(first, on=key).filter(pl.col("time") > pl.col("first_limited"))
                .group_by(key).agg(pl.len().cast(pl.UInt32).alias("after_limited")))

    after_ip, after_ua = pl.collect_all([after("ip_h", ip), after("ua_h", ua)])
    return _KeyTables([ip.drop("first_limited")], ua.drop("first_limited"), ip_ua, ip_min, ua_min, per_min,
                      after_ip, after_ua, lambda: trim_sketch(ip_pairs, "ip_h"),
                      lambda: trim_sketch(ua_pairs, "ua_h"), enriched)


def _read_batched(source, needed, derive, line_columns, group_queries, count_cols) -> _KeyTables:
    """Group `_GROUP_ROWS` lines at a time and merge the partial tables as they grow: memory bounded by
    the number of distinct keys, for inputs of any size."""
    import polars as pl

    key_aggs = {c: "sum" for c in count_cols} | {"first_seen": "min", "last_seen": "max"}
    ip_part = _Sharded(["ip_h"], key_aggs | {"key": "first"})
    ua_part = _Partial(["ua_h"], key_aggs | {"key": "first"})
    ip_ua = _Partial(["ip_h", "ua_h"], {"requests": "sum"})
    ip_min = _Sharded(["ip_h", "minute"], {"requests": "sum", "limited": "sum"})
    ua_min = _Partial(["ua_h", "minute"], {"requests": "sum", "limited": "sum"})
    per_min = _Partial(["minute"], {"requests": "sum", "limited": "sum"})
    after_ip = _Partial(["ip_h"], {"after_limited": "sum"})
    after_ua = _Partial(["ua_h"], {"after_limited": "sum"})
    ip_sketch = _Sharded(["ip_h"], sketch=True)
    ua_sketch = _Sketch("ua_h", min_rows=_COMPACT_ROWS // 8)  # few keys, most of them full soon
    first_lim_ip = None  # (ip_h, first_limited) of every key limited so far
    first_lim_ua = None

    def merge(lines, ip_names, ua_names) -> None:
        nonlocal first_lim_ip, first_lim_ua
        tables = _group_lines(lines, ip_names, ua_names, group_queries)
        ip_batch, ua_batch, ip_ua_batch, ip_min_batch, ua_min_batch, per_min_batch = tables
        ip_part.add_split(split_shards(ip_batch.drop("first_limited"), "ip_h"))
        ua_part.add(ua_batch.drop("first_limited"))
        ip_ua.add(ip_ua_batch)
        ip_min.add_split(split_shards(ip_min_batch, "ip_h"))
        ua_min.add(ua_min_batch)
        per_min.add(per_min_batch)
        ip_sketch.add_split(split_shards(lines.select("ip_h", "h"), "ip_h"))
        ua_sketch.add(lines.select("ua_h", "h"))
        # after_limited: requests later than the key's first 429/503 (earlier lines included)
        first_lim_ip = _after_limited(lines, ip_batch, "ip_h", first_lim_ip, after_ip)
        first_lim_ua = _after_limited(lines, ua_batch, "ua_h", first_lim_ua, after_ua)

    # the reading thread parses and slims the next batches while this one groups and merges
    pending = _Lines()
    for slim, keys in source.batches(columns=needed, derive=derive, transform=_slim_lines(line_columns)):
        pending.add(slim, keys)
        if pending.rows >= _GROUP_ROWS:
            merge(*pending.take())
    if pending.rows:
        merge(*pending.take())

    def taken(partial):
        """The partial's result, which it then lets go of (no second reference to free later)."""
        result = partial.result()
        partial.frames = []
        return result

    def after(partial, key):
        return taken(partial) if partial.frames else pl.DataFrame(schema={key: pl.UInt64,
                                                                         "after_limited": pl.UInt32})

    ip_shards = [f for f in (taken(shard) for shard in ip_part.shards) if f is not None]
    return _KeyTables(ip_shards, taken(ua_part), taken(ip_ua), taken(ip_min), taken(ua_min), taken(per_min),
                      after(after_ip, "ip_h"), after(after_ua, "ua_h"), lambda: taken(ip_sketch),
                      lambda: taken(ua_sketch))


def _after_limited(lines, fine, key: str, known, out: _Partial):
    """Count this batch's requests later than each key's first 429/503; return the updated first times."""
    import polars as pl

    batch_first = fine.filter(pl.col("first_limited").is_not_null()).group_by(key).agg(
        pl.col("first_limited").min())
    if batch_first.height:
        known = batch_first if known is None else pl.concat([known, batch_first]).group_by(key).agg(
            pl.col("first_limited").min())
    if known is None or known.height == 0:
        return known
    counted = (lines.select(key, "time").join(known, on=key, how="inner")
               .filter(pl.col("time") > pl.col("first_limited"))
               .group_by(key).agg(pl.len().cast(pl.UInt32).alias("after_limited")))
    if counted.height:
        out.add(counted)
    return known


_V4_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_V4 = rf"^{_V4_OCTET}\.{_V4_OCTET}\.{_V4_OCTET}\.{_V4_OCTET}$"


def _asn_of(keys, db):
    """(ip_h, asn, asn_org) for the (ip_h, key) rows: the answers of one lookup per IP, with one lookup
    per database network the IPs fall in.

    The addresses are walked in numeric order: a lookup also returns the database network holding
    the address (its prefix length), and every later address up to that network's end gets the same
    answer without a lookup of its own. Values that are no plain address in canonical form
    (IPv4-mapped IPv6, zone indexes, typos) are looked up one by one.
    """
    import socket

    import polars as pl

    v4 = keys.filter(pl.col("key").str.contains(_CANONICAL_V4))
    octets = pl.col("key").str.split_exact(".", 3)
    v4 = v4.with_columns(sum(octets.struct.field(f"field_{i}").cast(pl.Int64) * (1 << (8 * (3 - i)))
                             for i in range(4)).alias("_n")).sort("_n")
    parts = [_walk(db, v4.height, lambda a, b: (v4["key"].slice(a, b - a).to_list(),
                                                 v4["_n"].slice(a, b - a).to_list()), 32).with_columns(v4["ip_h"])]
    candidates = keys.join(v4.select("ip_h"), on="ip_h", how="anti").filter(pl.col("key").str.contains(":"))
    v6_keys, v6_numbers, v6_h = [], [], []
    for ip_h, key in zip(candidates["ip_h"].to_list(), candidates["key"].to_list()):
        try:
            packed = socket.inet_pton(socket.AF_INET6, key)
        except (OSError, ValueError):
            continue
        if packed[:12] != b"\0" * 10 + b"\xff\xff" and packed[:12] != b"\0" * 12:  # not IPv4 inside IPv6
            v6_keys.append(key)
            v6_numbers.append(int.from_bytes(packed, "big"))
            v6_h.append(ip_h)
    order = sorted(range(len(v6_keys)), key=v6_numbers.__getitem__)
    v6_keys, v6_numbers = [v6_keys[i] for i in order], [v6_numbers[i] for i in order]
    parts.append(_walk(db, len(v6_keys), lambda a, b: (v6_keys[a:b], v6_numbers[a:b]), 128)
                 .with_columns(pl.Series("ip_h", [v6_h[i] for i in order], dtype=pl.UInt64)))
    walked = pl.concat([p.select("ip_h", "asn", "asn_org") for p in parts])
    rest = keys.join(walked.select("ip_h"), on="ip_h", how="anti")
    asns, orgs = db.lookup_many(rest["key"].to_list()) if rest.height else ([], [])
    rest = rest.select("ip_h", pl.Series("asn", asns, dtype=pl.Int64), pl.Series("asn_org", orgs, dtype=pl.Utf8))
    return pl.concat([walked, rest])


#: Addresses handed to Python at a time by `_walk`: a million address strings would take ~100 MiB.
_WALK_SLICE = 100_000


def _walk(db, count: int, slice_of, bits: int):
    """(asn, asn_org) of `count` addresses in numeric order, one lookup per database network met.

    `slice_of(start, stop)` gives (address strings, their numbers) of a slice: the walk holds one
    slice at a time, and a database network that goes on past a slice's end goes on in the next.
    """
    import bisect

    import polars as pl

    asns, orgs, lengths = [], [], []
    last = -1  # the current database network's last address; -1: none
    for start in range(0, count, _WALK_SLICE):
        ips, numbers = slice_of(start, min(count, start + _WALK_SLICE))
        i = 0
        if last >= 0 and numbers[0] <= last:  # the previous slice's network goes on here
            i = bisect.bisect_right(numbers, last)
            asns.append(asns[-1])
            orgs.append(orgs[-1])
            lengths.append(i)
        while i < len(ips):
            info, prefix_len = db.lookup_network(ips[i])
            asn, org = info.asn, info.org
            if prefix_len is None:  # not an address after all: its own answer only
                last, end = -1, i + 1
            else:
                last = numbers[i] | ((1 << (bits - prefix_len)) - 1)
                end = bisect.bisect_right(numbers, last, i + 1)
            asns.append(asn)
            orgs.append(org)
            lengths.append(end - i)
            i = end
    runs = pl.DataFrame({"asn": pl.Series(asns, dtype=pl.Int64), "asn_org": pl.Series(orgs, dtype=pl.Utf8),
                         "_n": pl.Series(lengths, dtype=pl.UInt32)})
    return runs.select(pl.col("asn").repeat_by("_n").explode(), pl.col("asn_org").repeat_by("_n").explode()) \
        if runs.height else runs.drop("_n")


def _rates(minutes, key: str):
    """peak_rpm and sustained_rpm per key from its (key, minute, requests) rows.

    A key active within 10 consecutive minutes has sustained = its total / 10 (one window holds
    everything); only the others need the sliding window, which keeps this cheap for the many
    short-lived clients.
    """
    import polars as pl

    per_key = minutes.group_by(key).agg(
        pl.col("requests").max().cast(pl.UInt32).alias("peak_rpm"),
        pl.col("requests").sum().alias("_total"),
        (pl.col("minute").max() - pl.col("minute").min()).alias("_span"),
    )
    short = per_key.filter(pl.col("_span") < SUSTAINED_WINDOW_MINUTES).select(
        key, "peak_rpm", (pl.col("_total") / SUSTAINED_WINDOW_MINUTES).alias("sustained_rpm"))
    long_keys = per_key.filter(pl.col("_span") >= SUSTAINED_WINDOW_MINUTES).select(key, "peak_rpm")
    if long_keys.height == 0:
        return short
    window = (minutes.join(long_keys.select(key), on=key, how="semi").select(key, "minute", "requests")
              .sort(key, "minute")
              .rolling(index_column="minute", period=f"{SUSTAINED_WINDOW_MINUTES}i", group_by=key)
              .agg(pl.col("requests").sum().alias("_w")))
    sustained = window.group_by(key).agg((pl.col("_w").max() / SUSTAINED_WINDOW_MINUTES).alias("sustained_rpm"))
    return pl.concat([short, long_keys.join(sustained, on=key)], how="vertical_relaxed")


def _top_ua(ip_ua, key: str, ua_tab):
    """Most frequent user agent and number of distinct user agents per key."""
    import polars as pl

    top = ip_ua.group_by(key).agg(
        pl.col("ua_h").sort_by(["requests", "ua_h"], descending=[True, False]).first().alias("_top"),
        pl.len().cast(pl.UInt32).alias("n_uas"))  # ties broken by hash: same input, same answer
    return top.join(ua_tab.select(pl.col("ua_h").alias("_top"), pl.col("key").alias("top_ua")), on="_top",
                    how="left").drop("_top")


def _group_activity(column: str, membership, ip_min, ip_ua, ip_sketch, ip_cutoffs, ua_tab):
    """What a group table (prefix or asn) takes from the IP-level partials, keyed by `gk`: rates,
    after_limited, top_ua, n_uas, and the distinct paths of groups of several IPs.

    Computed before `by_ip` exists, so that these transient tables and the large per-IP sketch are
    gone before the widest table is built. Groups are handled under a 64-bit hash of their key
    (integer joins are much cheaper than string ones). `ip_cutoffs` (ip_h, _cut) holds the
    kth-smallest hash of the IPs whose sketch is full: a group's kth-smallest hash is at most its
    members' smallest cutoff, so hashes above it are dropped before the union.
    """
    import polars as pl

    member = membership.lazy().filter(pl.col(column).is_not_null()).select(
        "ip_h", pl.col(column).hash().alias("gk")).collect()
    # join-then-group pipelines run on the streaming engine: the joined rows (millions) are never
    # materialised at once, which keeps peak memory near the size of the tables themselves
    # and a share of the groups at a time (their results are disjoint) keeps the hash tables small
    rates_parts, after_parts = [], []
    n_parts = _parts_for(ip_min.height, 4)
    for part in range(n_parts):
        chosen = member.filter(pl.col("gk") % n_parts == part)
        minutes = (_rows_of(ip_min, chosen).join(chosen.lazy(), on="ip_h")
                   .group_by("gk", "minute").agg(pl.col("requests").sum(), pl.col("limited").sum())
                   .collect(engine="streaming"))
        rates_parts.append(_rates(minutes, "gk"))
        # first minute with a 429/503, then requests in later minutes (minute resolution)
        lim_start = minutes.filter(pl.col("limited") > 0).group_by("gk").agg(pl.col("minute").min().alias("_lm"))
        after_parts.append(minutes.join(lim_start, on="gk").filter(pl.col("minute") > pl.col("_lm"))
                           .group_by("gk").agg(pl.col("requests").sum().cast(pl.UInt32).alias("after_limited")))
        del minutes
    rates = pl.concat(rates_parts, how="vertical_relaxed")
    after = pl.concat(after_parts)
    uas = (ip_ua.lazy().join(member.lazy(), on="ip_h").group_by("gk", "ua_h").agg(pl.col("requests").sum())
           .collect(engine="streaming"))
    top = _top_ua(uas, "gk", ua_tab)
    del uas
    # a group of one IP takes its IP's estimate as is (see _group_table): only larger ones need a union
    multi_member = member.join(member.group_by("gk").len().filter(pl.col("len") > 1).select("gk"), on="gk",
                               how="semi")
    bounds = multi_member.join(ip_cutoffs, on="ip_h").group_by("gk").agg(pl.col("_cut").min().alias("_bound"))
    multi_member = multi_member.join(bounds, on="gk", how="left")
    parts = []
    n_parts = _parts_for(ip_sketch.height, 8, per_part=500_000)
    for part in range(n_parts):  # a share of the groups at a time: the de-duplication table stays small
        chosen = multi_member.filter(pl.col("gk") % n_parts == part)
        union = (_rows_of(ip_sketch, chosen).join(chosen.lazy(), on="ip_h")
                 .filter(pl.col("_bound").is_null() | (pl.col("h") <= pl.col("_bound")))
                 .select("gk", "h").unique().collect(engine="streaming"))
        parts.append(estimate_distinct(trim_sketch(union, "gk"), "gk"))  # the groups' sketches are not kept
        del union
    distinct = pl.concat(parts)
    return (rates.lazy().join(after.lazy(), on="gk", how="full", coalesce=True)
            .join(top.lazy(), on="gk", how="full", coalesce=True)
            .join(distinct.lazy(), on="gk", how="full", coalesce=True).collect())


def _group_table(column: str, by_ip, activity, count_cols):
    """The group table (prefix or asn): sums over its IPs' rows, joined with its `_group_activity`."""
    import polars as pl

    # lazy, so that filtering the million-row by_ip never copies it
    keys = by_ip.lazy().select(pl.col(column).hash().alias("gk"), pl.col(column).alias("key")).filter(
        pl.col("key").is_not_null()).unique("gk").collect()
    base = by_ip.lazy().filter(pl.col(column).is_not_null()).group_by(pl.col(column).hash().alias("gk")).agg(
        *[pl.col(c).sum() for c in count_cols],
        pl.col("first_seen").min(), pl.col("last_seen").max(), pl.len().cast(pl.UInt32).alias("ips"),
        pl.col("distinct_paths").first().alias("_single_distinct"),
    ).collect()
    return (base.lazy().join(activity.lazy(), on="gk", how="left")
            .with_columns(pl.coalesce("distinct_paths", "_single_distinct").alias("distinct_paths"))
            .drop("_single_distinct")
            .join(keys.lazy(), on="gk").drop("gk")
            .with_columns(pl.col("after_limited").fill_null(0).cast(pl.UInt32))
            .collect())


def _parts_for(rows: int, most: int, per_part: int = 1_000_000) -> int:
    """In how many parts to process a join over `rows` rows: one per `per_part` rows, at most `most`
    (each part scans the whole table again, so small tables go in one piece)."""
    return max(1, min(most, -(-rows // per_part)))


def _rows_of(table, members):
    """The rows of an IP-keyed table whose IP is in `members` (lazy). Filtering on a set before the
    join is about twice as fast as the join alone, which then only sees the rows it keeps."""
    import polars as pl

    return table.lazy().filter(pl.col("ip_h").is_in(members["ip_h"].implode()))


def _empty_group_table(column: str, count_cols, key_dtype):
    import polars as pl

    schema = {"key": key_dtype, **{c: pl.UInt32 for c in count_cols}, "bytes": pl.Int64,
              "distinct_paths": pl.Int64, "after_limited": pl.UInt32,
              "first_seen": pl.Datetime("us", "UTC"), "last_seen": pl.Datetime("us", "UTC"),
              "peak_rpm": pl.UInt32, "sustained_rpm": pl.Float64, "top_ua": pl.Utf8, "n_uas": pl.UInt32,
              "ips": pl.UInt32, "asn": pl.Int64, "asn_org": pl.Utf8, "prefix": pl.Utf8}
    return pl.DataFrame(schema=schema)


def _empty_traffic(classes, class_names, flags, totals, db, v4, v6, stats, count_cols) -> Traffic:
    import polars as pl

    from proxygen.logs.asn import HOW_TO_GET_A_DATABASE

    ordered = ["key", "requests", "distinct_paths", "s2xx", "s3xx", "s4xx", "s5xx", "limited", "after_limited",
               "bytes", "first_seen", "last_seen", *[f"rc_{c}" for c in class_names],
               *[f"flag_{f}" for f in flags], "peak_rpm", "sustained_rpm"]
    ip = _empty_group_table("ip", count_cols, pl.Utf8).select(*ordered, "top_ua", "n_uas", "asn", "asn_org",
                                                               "prefix")
    prefix = _empty_group_table("prefix", count_cols, pl.Utf8).select(*ordered, "top_ua", "n_uas", "ips", "asn",
                                                                       "asn_org")
    asn = _empty_group_table("asn", count_cols, pl.Int64).select(*ordered, "top_ua", "n_uas", "ips", "asn_org")
    ua = _empty_group_table("ua", count_cols, pl.Utf8).with_columns(pl.lit(None, dtype=pl.Utf8).alias(
        "family")).select(*ordered, "ips", "family")
    minute = pl.DataFrame(schema={"minute": pl.Datetime("us", "UTC"), "requests": pl.UInt32,
                                  "limited": pl.UInt32})
    def keyed(h):
        return _KeyedMinutes(pl.DataFrame(schema={h: pl.UInt64, "minute": pl.Int32, "requests": pl.UInt32,
                                                  "limited": pl.UInt32}),
                             pl.DataFrame(schema={h: pl.UInt64, "key": pl.Utf8}))
    return Traffic(by_ip=ip, by_prefix=prefix, by_asn=asn, by_ua=ua, per_minute=minute, _ip_minutes=keyed("ip_h"),
                   _ua_minutes=keyed("ua_h"), totals=totals, route_classes=classes, flags=list(flags),
                   asn_enabled=db is not None, asn_message=None if db is not None else HOW_TO_GET_A_DATABASE,
                   prefix_lengths=(v4, v6), stats=stats, messages=list(stats.messages))
