"""Per-request signals: what one log line says about its client (UA class, sensitive path, bot claim).

Each signal exists twice with the same meaning: a polars expression over the parsed columns (used by the
aggregation, so that counting costs one vectorised pass) and a plain Python function on one request
(used by conformance tests and to explain a finding).
"""
