"""user_agents.classify_many: the same answer as classify, value by value, for a whole column at once."""

from __future__ import annotations

import polars as pl
import pytest

from proxygen.signals.user_agents import _lists, classify, classify_many

TOKENS = [(lst.name, token) for lst in _lists() for token, _ in lst.contains]
EXACT = [(lst.name, value) for lst in _lists() for value, _ in lst.exact]


def _as_tuples(frame):
    return [None if r["ua_class"] is None else (r["ua_class"], r["token"], r["match"], r["detail"])
            for r in frame.iter_rows(named=True)]


def _expected(uas):
    out = []
    for ua in uas:
        m = classify(ua)
        out.append(None if m is None else (m.ua_class, m.token, m.match, m.detail))
    return out


@pytest.mark.parametrize("uas", [
    [f"Mozilla/5.0 (compatible; {t.upper()}/1.0)" for _, t in TOKENS],              # every token, any case
    [f"{a} and {b}" for (_, a), (_, b) in zip(TOKENS, TOKENS[5:] + TOKENS[:5])],    # two tokens: list order wins
    [v for _, v in EXACT] + [f"  {v.upper()} " for _, v in EXACT] + [f"{v}x" for _, v in EXACT if v],
    [None, "", "   ", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
     "Smoothie/4.18.3 (OFF app; iOS 17.5)", "Mozilla/5.0 (compatible; Googlebot/2.1)", "Mozilla/5.0 (compatible)"],
])
def test_same_answers_as_classify(uas):
    assert _as_tuples(classify_many(pl.Series(uas, dtype=pl.Utf8))) == _expected(uas)


def test_a_million_rotated_user_agents_in_one_pass():
    """A crawler giving each request its own user agent: one row each, all found, in order."""
    uas = pl.Series([f"python-requests/2.31 r/{i}" for i in range(1_000_000)])
    frame = classify_many(uas)
    assert frame.height == 1_000_000 and frame["ua_class"].null_count() == 0
    assert frame.row(999_999) == ("scraping_tool", "python-requests", "contains", classify(uas[-1]).detail)
