"""Turn a chunk of raw lines into a typed polars DataFrame (the standard columns).

Standard columns, present whatever the format (null when the format lacks the variable):

| column | type | from |
|---|---|---|
| client_ip | Utf8 | `$remote_addr`; when the format has no `$remote_addr` but `$http_x_forwarded_for`, its LAST element (the address the trusted proxy saw) |
| time | Datetime(us, UTC) | `$time_local` (offset applied), `$time_iso8601` or `$msec` |
| method, path, query, protocol | Utf8 | `$request` split; `query` is null without `?`; all null when the request line is not `METHOD TARGET [PROTOCOL]` (garbage sent by scanners) |
| status | Int32 | `$status` |
| bytes | Int64 | `$body_bytes_sent` (else `$bytes_sent`) |
| referer | Utf8 | `$http_referer`, null when `-` |
| user_agent | Utf8 | `$http_user_agent` kept verbatim: a literal `-` stays `"-"` (OFF tarpits that exact UA, so it must stay distinguishable from a missing field) |

Every other variable of the format is a Utf8 column under its name without `$`, `-` as null
(`request` and `time_local` keep the raw text). A line whose regex does not match, or whose time
does not parse, is malformed.
"""

from __future__ import annotations

import polars as pl

from proxygen.logs.formats import LogFormat

STANDARD_COLUMNS: dict[str, pl.DataType] = {
    "client_ip": pl.Utf8,
    "time": pl.Datetime("us", "UTC"),
    "method": pl.Utf8,
    "path": pl.Utf8,
    "query": pl.Utf8,
    "protocol": pl.Utf8,
    "status": pl.Int32,
    "bytes": pl.Int64,
    "referer": pl.Utf8,
    "user_agent": pl.Utf8,
}
_REQUEST = r"^(?P<method>[A-Za-z_-]+) (?P<path>[^ ?]*)(?:\?(?P<query>[^ ]*))?(?: (?P<protocol>[^ ]+))?$"
_MAPPED = {"time_local", "time_iso8601", "msec", "status", "body_bytes_sent", "http_referer",
           "http_user_agent", "remote_addr"}
_KEEP_RAW = {"request", "time_local"}


def _null_dash(name: str) -> pl.Expr:
    col = pl.col(name)
    return pl.when(col == "-").then(None).otherwise(col).alias(name)


def _time_expr(fmt: LogFormat) -> pl.Expr:
    if "time_local" in fmt.variables:
        return pl.col("time_local").str.to_datetime("%d/%b/%Y:%H:%M:%S %z", time_unit="us", strict=False,
                                                    cache=True).dt.convert_time_zone("UTC")
    if "time_iso8601" in fmt.variables:
        return pl.col("time_iso8601").str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", time_unit="us", strict=False,
                                                      cache=True).dt.convert_time_zone("UTC")
    if "msec" in fmt.variables:
        return (pl.col("msec").cast(pl.Float64, strict=False) * 1_000_000).cast(pl.Int64).cast(
            pl.Datetime("us")).dt.replace_time_zone("UTC")
    return pl.lit(None, dtype=pl.Datetime("us", "UTC"))


def parse_lines(lines: pl.Series, fmt: LogFormat) -> tuple[pl.DataFrame, pl.Series]:
    """Parse a Series of lines: (typed frame of parsed lines with a `line_index` column, indexes of malformed lines).

    `line_index` is the 0-based position of each line in `lines`, so callers can report
    file:line for samples and keep input order.
    """
    groups = lines.str.extract_groups(fmt.regex).struct.unnest()
    first = fmt.variables[0]
    groups = groups.with_row_index("line_index")
    std: list[pl.Expr] = []
    v = set(fmt.variables)
    if "remote_addr" in v:
        std.append(pl.col("remote_addr").alias("client_ip"))
    elif "http_x_forwarded_for" in v:
        std.append(pl.col("http_x_forwarded_for").str.extract(r"([^,\s]+)\s*$").alias("client_ip"))
    else:
        std.append(pl.lit(None, dtype=pl.Utf8).alias("client_ip"))
    std.append(_time_expr(fmt).alias("time"))
    if "request" in v:
        std.append(pl.col("request").str.extract_groups(_REQUEST).alias("_req"))
    std.append(pl.col("status").cast(pl.Int32, strict=False).alias("status") if "status" in v
               else pl.lit(None, dtype=pl.Int32).alias("status"))
    size = "body_bytes_sent" if "body_bytes_sent" in v else ("bytes_sent" if "bytes_sent" in v else None)
    std.append(pl.col(size).cast(pl.Int64, strict=False).alias("bytes") if size
               else pl.lit(None, dtype=pl.Int64).alias("bytes"))
    std.append(_null_dash("http_referer").alias("referer") if "http_referer" in v
               else pl.lit(None, dtype=pl.Utf8).alias("referer"))
    std.append(pl.col("http_user_agent").alias("user_agent") if "http_user_agent" in v
               else pl.lit(None, dtype=pl.Utf8).alias("user_agent"))
    others = [pl.col(name) if name in _KEEP_RAW else _null_dash(name)
              for name in fmt.variables if name not in _MAPPED or name in _KEEP_RAW]
    if "bytes_sent" in v and size == "bytes_sent":
        others = [o for o in others if o.meta.output_name() != "bytes_sent"]
    frame = groups.select(pl.col("line_index"), pl.col(first).is_not_null().alias("_matched"), *std, *others)
    if "request" in v:
        frame = frame.unnest("_req")
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias(c) for c in ("method", "path", "query",
                                                                                  "protocol"))
    ok = pl.col("_matched") & pl.col("time").is_not_null()
    malformed = frame.filter(~ok)["line_index"]
    frame = frame.filter(ok).drop("_matched")
    # standard columns first, in a fixed order, then the format's own variables
    ordered = ["line_index", *STANDARD_COLUMNS, *[c for c in frame.columns
                                                    if c not in STANDARD_COLUMNS and c != "line_index"]]
    return frame.select(ordered), malformed
