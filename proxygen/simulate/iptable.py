"""Longest-prefix lookups of a whole column of client addresses at once (nginx geo semantics).

IPv4 addresses are matched in polars (one join per prefix length present); anything else (IPv6,
IPv4-mapped IPv6, malformed) falls back to Python once per distinct address.
"""

from __future__ import annotations

import ipaddress
import socket

_V4 = r"^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$"


_MAPPED = b"\x00" * 10 + b"\xff\xff"


def _parse(ip: str):
    """(version, int) of an address, IPv4-mapped IPv6 as IPv4; None when malformed (inet_pton: fast,
    and strict like ipaddress about leading zeros)."""
    try:
        if ":" in ip:
            packed = socket.inet_pton(socket.AF_INET6, ip)
            if packed[:12] == _MAPPED:
                return 4, int.from_bytes(packed[12:], "big")
            return 6, int.from_bytes(packed, "big")
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, ip), "big")
    except (OSError, ValueError, TypeError):
        return None


def per_distinct(column, fn, dtype):
    """`fn` (a Series of distinct values -> a Series of answers) for every row of `column`, computed
    once per distinct value (nulls give null)."""
    import polars as pl

    codes = column.cast(pl.Categorical).to_physical()
    firsts = codes.drop_nulls().arg_unique() if codes.null_count() == 0 else None
    if firsts is None:
        valid = codes.is_not_null().arg_true()
        firsts = valid.gather(codes.gather(valid).arg_unique())
    answers = fn(column.gather(firsts)).cast(dtype)
    table = pl.repeat(None, (codes.max() or 0) + 1, dtype=dtype, eager=True).scatter(codes.gather(firsts), answers)
    return table.gather(codes)


class PrefixTable:
    """networks -> payload index; `lookup(series)` gives, per address, the payload of its most
    specific network (null when none)."""

    def __init__(self, networks: list):
        self.by_len: dict[int, dict[int, dict[int, int]]] = {4: {}, 6: {}}
        for i, net in enumerate(networks):
            if not isinstance(net, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
                net = ipaddress.ip_network(net)
            table = self.by_len[net.version].setdefault(net.prefixlen, {})
            table.setdefault(int(net.network_address), i)   # first listed wins on duplicates
        self._cache: dict[str, int | None] = {}

    def _segments_v4(self):
        """The IPv4 networks flattened into disjoint [a, b] ranges carrying the most specific payload,
        so one as-of join answers every address (CIDRs nest or are disjoint: a stack sweep)."""
        import polars as pl

        if getattr(self, "_v4_segments", None) is not None:
            return self._v4_segments
        nets = sorted(((start, start + (1 << (32 - plen)) - 1, payload)
                       for plen, table in self.by_len[4].items() for start, payload in table.items()),
                      key=lambda t: (t[0], -t[1]))
        segments: list[tuple[int, int, int]] = []
        stack: list[tuple[int, int]] = []
        pos = 0
        for start, end, payload in nets:
            while stack and stack[-1][0] < start:
                top_end, top_payload = stack.pop()
                if pos <= top_end:
                    segments.append((pos, top_end, top_payload))
                pos = top_end + 1
            if stack and pos <= start - 1:
                segments.append((pos, start - 1, stack[-1][1]))
            stack.append((end, payload))
            pos = start
        while stack:
            top_end, top_payload = stack.pop()
            if pos <= top_end:
                segments.append((pos, top_end, top_payload))
            pos = top_end + 1
        self._v4_segments = pl.DataFrame({"a": [x[0] for x in segments], "b": [x[1] for x in segments],
                                          "p": [x[2] for x in segments]},
                                         schema={"a": pl.Int64, "b": pl.Int64, "p": pl.Int32}).sort("a")
        return self._v4_segments

    def __len__(self) -> int:
        return sum(len(t) for v in self.by_len.values() for t in v.values())

    def lookup_one(self, ip: str, parsed=False) -> int | None:
        """`parsed`: `_parse(ip)` when the caller has it."""
        hit = self._cache.get(ip, -1)
        if hit != -1:
            return hit
        if ":" in ip and not self.by_len[6] and not ip.lower().startswith("::ffff:"):
            return None  # an IPv6 address (not IPv4-mapped) and no IPv6 network: no need to parse it
        result = None
        if parsed is False:
            parsed = _parse(ip)
        if parsed is not None:
            version, value = parsed
            bits = 32 if version == 4 else 128
            for plen in sorted(self.by_len[version], reverse=True):
                found = self.by_len[version][plen].get((value >> (bits - plen)) << (bits - plen) if plen else 0)
                if found is not None:
                    result = found
                    break
        if len(self._cache) < 1_000_000:
            self._cache[ip] = result
        return result

    def lookup(self, ips):
        """Payload index (Int32, null = no network) for each address of a polars Utf8 Series."""
        import polars as pl

        if not len(self):
            return pl.repeat(None, ips.len(), dtype=pl.Int32, eager=True)
        return per_distinct(ips, self._lookup_unique, pl.Int32)

    def _lookup_unique(self, ips):
        return self._lookup_parsed(ips, _parse_v4(ips))

    def _lookup_parsed(self, ips, parsed):
        """lookup() of `ips` (a Series) whose IPv4 addresses `_parse_v4` parsed into `parsed`."""
        import polars as pl

        v4, rest = parsed
        out = pl.repeat(None, ips.len(), dtype=pl.Int32, eager=True)
        if not len(self):
            return out
        if v4.height:
            hit = v4.join_asof(self._segments_v4(), left_on="v", right_on="a", strategy="backward")
            hit = hit.with_columns(pl.when(pl.col("v") <= pl.col("b")).then(pl.col("p")).alias("p"))
            out = out.scatter(hit["_r"], hit["p"])
        if not self.by_len[6]:
            # no IPv6 network: lookup_one answers None for IPv6 other than ::ffff:-mapped, unparsed
            rest = rest.filter(~pl.col("ip").str.contains(":", literal=True)
                               | pl.col("ip").str.to_lowercase().str.starts_with("::ffff:"))
        if rest.height:
            uniq = rest["ip"].unique()
            answers = pl.Series([self.lookup_one(x) for x in uniq.to_list()], dtype=pl.Int32)
            mapped = rest["ip"].replace_strict(uniq, answers, return_dtype=pl.Int32)
            out = out.scatter(rest["_r"], mapped)
        return out


def _parse_v4(ips):
    """(frame _r, v: row and value of each dotted-quad IPv4 address, sorted by value; frame _r, ip:
    every other row) of a Series of addresses."""
    import polars as pl

    df = pl.DataFrame({"ip": ips}).with_row_index("_r").with_columns(
        pl.col("ip").str.contains(_V4).fill_null(False).alias("v4"))
    octet = [pl.col("o").struct.field(f"field_{i}").cast(pl.Int64) for i in range(4)]
    v4 = (df.lazy().filter(pl.col("v4")).select("_r", pl.col("ip").str.split_exact(".", 3).alias("o"))
          .select("_r", (octet[0] * 16777216 + octet[1] * 65536 + octet[2] * 256 + octet[3]).alias("v"))
          .sort("v").collect())
    return v4, df.filter(~pl.col("v4") & pl.col("ip").is_not_null()).select("_r", "ip")


def lookup_many(tables: list, ips):
    """[table.lookup(ips) for table in tables], parsing each address once for all of them."""
    import polars as pl

    v4, rest = _parse_v4(ips)
    out = [table._lookup_parsed(ips, (v4, rest.clear())) for table in tables]
    if rest.height:
        # anything but dotted-quad IPv4 (IPv6 mostly): Python once per distinct address, parsed once for
        # every table that has not seen it yet
        uniq = rest["ip"].unique().to_list()
        answers = [[] for _ in tables]
        for ip in uniq:
            parsed = False
            for table, found in zip(tables, answers):
                hit = table._cache.get(ip, -1)
                if hit == -1:
                    if parsed is False:
                        parsed = _parse(ip)
                    hit = table.lookup_one(ip, parsed)
                found.append(hit)
        mapped = rest.join(pl.DataFrame({"ip": uniq, **{f"a{i}": pl.Series(a, dtype=pl.Int32)
                                                         for i, a in enumerate(answers)}}),
                           on="ip", how="left")
        out = [o.scatter(mapped["_r"], mapped[f"a{i}"]) for i, o in enumerate(out)]
    return out
