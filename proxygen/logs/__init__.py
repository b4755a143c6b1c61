"""Reading nginx access logs fast, and aggregating them per client: the analyzer's foundation.

Public API (stable; the detectors build on it):

    from proxygen.logs import open_logs, aggregate, AsnDb

    source = open_logs(["/var/log/nginx/access.log*"], fmt=None)   # detect the format
    print(source.format)            # LogFormat: name + format string; source.detected says if detected
    for batch in source.batches():  # polars DataFrames, standard typed columns (see proxygen.logs.parse)
        ...
    # columns=: only those (faster); derive=: a LazyFrame -> LazyFrame adding columns, run inside the
    # reading plan; transform=: a function of each batch, run in the reading thread
    source.stats                    # LogStats: lines_read, parsed, malformed, malformed_samples, messages

    traffic = aggregate(open_logs(paths), asn_db="GeoLite2-ASN.mmdb",
                        flags={"sensitive": pl.col("path").str.contains(r"^/\\.env")})
    traffic.by_ip, traffic.by_prefix, traffic.by_asn, traffic.by_ua, traffic.per_minute, traffic.ip_minute

`open_logs(paths, fmt=None, *, since=None, until=None, nginx_conf=None, formats=None, progress=None)`:
  - `paths`: files, globs, `.gz` files (detected by content), `-` for stdin. Rotated files of one
    log are read oldest first (access.log.2.gz, access.log.1, access.log).
  - `fmt`: a built-in name (`main`, `combined_upstream`, `proxied_requests`, `combined`, `common`),
    a name from `formats` (proxygen.yml `log_formats`), a `log_format` name found in `nginx_conf`
    (parsed with crossplane), or a raw log_format string. None = detect from the first 200 lines;
    if no format parses at least half of them, a `ProxygenError` names the formats tried and
    shows a sample line. A format given that parses under half of them is a `ProxygenError` too
    (it names the formats that do parse them): reading on would only count malformed lines.
  - `since` / `until`: datetimes, ISO 8601 strings (naive = UTC), or durations before now (`30m`,
    `2h`, `1d`: the last half hour is `since="30m"`); keeps since <= time < until.
  - `progress(bytes_read, total_bytes_or_None)`: called as input is read (compressed bytes for .gz).

Columns of each batch: `client_ip` (for formats without $remote_addr, the LAST element of
X-Forwarded-For), `time` (Datetime UTC, microseconds), `method`, `path`, `query` (null without `?`),
`protocol`, `status` (Int32), `bytes` (Int64), `referer` (null when `-`), `user_agent` (verbatim: a
literal `-` stays `"-"`, as OFF tarpits exactly that UA), `line_number` (in its input file), then every
other variable of the format under its name without `$` (`-` as null; `request` and `time_local`
raw).

Bad input never stops reading: malformed lines are counted with a few samples, and truncated
gzip data, non-UTF-8 bytes, over-long lines and empty files each add a message to `stats.messages`.
Errors the user must fix (no such file, unknown format, undetectable or mismatched format) raise
`ProxygenError`/`UsageError` before anything is read.

Memory: on inputs of more than `EAGER_MEMORY_RETURN_BYTES` (512 MiB uncompressed, or stdin),
`open_logs` makes polars' allocator return freed memory at once, which keeps a 10M-line log under
1 GiB at about a quarter more CPU time; smaller inputs keep the allocator's default (faster). This
only works when `open_logs` runs before polars is first imported, and never overrides
`_RJEM_MALLOC_CONF` set by the user.

`aggregate(source, *, route_classes=None, asn_db=None, flags=None, prefix_v4=24, prefix_v6=48)`
returns a `Traffic`; its columns are documented in `proxygen.logs.aggregate`.
"""

from __future__ import annotations

from proxygen.logs.aggregate import DEFAULT_ROUTE_CLASSES, Totals, Traffic, aggregate
from proxygen.logs.asn import HOW_TO_GET_A_DATABASE, AsnDb
from proxygen.logs.formats import BUILTIN_FORMATS, LogFormat, compile_format, resolve_format
from proxygen.logs.source import LogSource, LogStats, MalformedSample, open_logs

__all__ = [
    "open_logs", "LogSource", "LogStats", "MalformedSample", "LogFormat", "BUILTIN_FORMATS", "compile_format",
    "resolve_format", "aggregate", "Traffic", "Totals", "DEFAULT_ROUTE_CLASSES", "AsnDb",
    "HOW_TO_GET_A_DATABASE",
]
