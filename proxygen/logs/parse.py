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

import re

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


#: Variables each standard column is made from.
_SOURCES = {
    "client_ip": ("remote_addr", "http_x_forwarded_for"),
    "time": ("time_local", "time_iso8601", "msec"),
    "method": ("request",), "path": ("request",), "query": ("request",), "protocol": ("request",),
    "status": ("status",), "bytes": ("body_bytes_sent", "bytes_sent"), "referer": ("http_referer",),
    "user_agent": ("http_user_agent",),
}


def needed_variables(fmt: LogFormat, columns: set[str] | None) -> frozenset[str] | None:
    """The variables to capture to produce `columns` (None = all). Time is always needed (filters, stats).

    Each capture group costs: `$http_x_forwarded_for` is skipped when `$remote_addr` gives the client,
    and a quoted `$request` is not captured whole when only its parts are wanted (the fast regex
    captures method/path/query/protocol inside it).
    """
    if columns is None:
        return None
    want = set(columns) | {"time"}
    out: set[str] = set()
    for col in want:
        if col == "client_ip" and "remote_addr" in fmt.variables:
            out.add("remote_addr")
        elif col in _SOURCES:
            out.update(v for v in _SOURCES[col] if v in fmt.variables)
        elif col in fmt.variables:
            out.add(col)
    if "request" in out:
        out.update(c for c in ("method", "path", "query", "protocol") if c in want)
        if "request" not in want and fmt.request_split_inline:
            out.discard("request")
    return frozenset(out)


def _extract(lines: pl.Series, fmt: LogFormat, capture: frozenset[str] | None) -> pl.DataFrame:
    """Run the fast regex, then the general one on the lines it rejected. Returns groups + line_index."""
    # in a frame, not on the Series: polars then runs the regex over the chunks in parallel
    fast = lines.to_frame("line").select(
        pl.col("line").str.extract_groups(fmt.line_regex(capture, fast=True))).unnest("line")
    fast = fast.with_row_index("line_index")
    key = next(c for c in fast.columns if c in ("time_local", "time_iso8601", "msec"))  # never null on a match
    if fast[key].null_count() == 0:
        return fast.with_columns(pl.lit(True).alias("_matched"))
    missed = fast.filter(pl.col(key).is_null())
    slow_capture = None if capture is None else capture | ({"request"} if "request" in fmt.variables and (
        capture & {"method", "path", "query", "protocol", "request"}) else set())
    slow = (lines.gather(missed["line_index"]).str.extract_groups(fmt.line_regex(slow_capture, fast=False))
            .struct.unnest())
    if "request" in slow.columns:
        split = slow["request"].str.extract_groups(_REQUEST).struct.unnest()
        slow = pl.concat([slow, split.select([c for c in split.columns if c in fast.columns])], how="horizontal")
        if capture is not None and "request" not in capture:
            slow = slow.drop("request")
    slow = slow.with_columns(missed["line_index"]).select(fast.columns)
    return pl.concat([fast.filter(pl.col(key).is_not_null()), slow]).sort("line_index").with_columns(
        pl.col(key).is_not_null().alias("_matched"))


def typed_columns(fmt: LogFormat, groups: set[str], columns: set[str] | None = None) -> list[pl.Expr]:
    """Expressions turning capture-group columns (`groups`: their names) into the standard columns and
    the format's other variables; with `columns`, only those (and `time`). Used on a parsed batch and
    inside a lazy scan of a file alike."""
    v = groups
    std: list[pl.Expr] = []
    if "remote_addr" in v:
        std.append(pl.col("remote_addr").alias("client_ip"))
    elif "http_x_forwarded_for" in v:
        std.append(pl.col("http_x_forwarded_for").str.extract(r"([^,\s]+)\s*$").alias("client_ip"))
    else:
        std.append(pl.lit(None, dtype=pl.Utf8).alias("client_ip"))
    std.append(_time_expr(fmt).alias("time"))
    for name in ("method", "path", "query", "protocol"):
        std.append(pl.col(name) if name in v else pl.lit(None, dtype=pl.Utf8).alias(name))
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
              for name in fmt.variables if name in v and (name not in _MAPPED or name in _KEEP_RAW)
              and name != size]
    exprs = std + others
    if columns is not None:
        keep = set(columns) | {"time"}
        exprs = [e for e in exprs if e.meta.output_name() in keep]
    return exprs


def parsed_ok(fmt: LogFormat, groups: set[str]) -> pl.Expr:
    """True where the line matched (its time variable was captured) and its time parses."""
    key = next(c for c in ("time_local", "time_iso8601", "msec") if c in groups)
    return pl.col(key).is_not_null() & _time_expr(fmt).is_not_null()


def fast_groups(fmt: LogFormat, columns: set[str] | None) -> tuple[str, set[str]]:
    """The fast line regex for `columns` and the names of its capture groups."""
    regex = fmt.line_regex(needed_variables(fmt, columns), fast=True)
    return regex, set(re.compile(regex).groupindex)


def parse_lines(lines: pl.Series, fmt: LogFormat, columns: set[str] | None = None) -> tuple[pl.DataFrame, pl.Series]:
    """Parse a Series of lines: (typed frame of parsed lines with a `line_index` column, indexes of malformed lines).

    `line_index` is the 0-based position of each line in `lines`, so callers can report
    file:line for samples and keep input order. `columns` limits the output to those columns
    (plus `line_index` and `time`), which skips capturing the other variables: faster.
    """
    capture = needed_variables(fmt, columns)
    groups = _extract(lines, fmt, capture)
    names = set(groups.columns)
    frame = groups.select(pl.col("line_index"), (pl.col("_matched") & _time_expr(fmt).is_not_null()).alias("_ok"),
                          *typed_columns(fmt, names, columns))
    ok = frame["_ok"]
    if ok.all():  # the common case: no copy
        malformed = pl.Series("line_index", [], dtype=frame["line_index"].dtype)
        frame = frame.drop("_ok")
    else:
        malformed = frame.filter(~ok)["line_index"]
        frame = frame.filter(ok).drop("_ok")
    return frame, malformed
