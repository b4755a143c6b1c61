"""The detectors, in an explicit registry (no import magic).

Each detector module has NAME, SUMMARY, optional `flags()` (per-request polars expressions the
aggregation counts per key as flag_<name>) and `detect(ctx) -> list[Hit]`.
"""

from __future__ import annotations

from proxygen.analyze.detectors import distributed, fake_bot, ignores_limits, probing, rate, user_agent

DETECTORS = [rate, distributed, user_agent, fake_bot, probing, ignores_limits]


def flags() -> dict:
    """Every per-request flag the registered detectors need, by name."""
    out = {}
    for det in DETECTORS:
        if hasattr(det, "flags"):
            out.update(det.flags())
    return out
