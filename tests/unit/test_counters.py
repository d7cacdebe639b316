"""Per-interval counts from cumulative counters, compared with an obvious loop."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from processing.counters import counter_deltas, counter_resets


def obvious(totals: list[float]) -> list[float]:
    out, previous = [], None
    for value in totals:
        if math.isnan(value):
            out.append(math.nan)
            continue
        out.append(math.nan if previous is None else (value - previous if value >= previous else value))
        previous = value
    return out


def test_reset_counts_from_zero() -> None:
    deltas = counter_deltas([100, 130, 180, 12, 40])
    assert np.isnan(deltas[0])
    assert deltas[1:].tolist() == [30, 50, 12, 28]
    assert counter_resets([100, 130, 180, 12, 40]).tolist() == [False, False, False, True, False]


def test_gaps_are_skipped() -> None:
    deltas = counter_deltas([10, math.nan, 25, 25])
    assert np.isnan(deltas[1])
    assert deltas[2] == 15
    assert deltas[3] == 0


def test_too_short() -> None:
    assert np.isnan(counter_deltas([5])).all()
    assert counter_deltas([]).shape == (0,)


@given(st.lists(st.one_of(st.integers(0, 2**32).map(float), st.just(math.nan)), max_size=60))
def test_matches_obvious_loop(totals: list[float]) -> None:
    np.testing.assert_array_equal(counter_deltas(totals), np.array(obvious(totals), dtype=float))
