"""Counter wraps against resets: a 16-bit total that passes 65,535 is a wrap, a drop from the middle a reset."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processing.counters import counter_bits, counter_deltas, counter_resets, counter_wraps


def test_wrap_near_the_top_counts_across_it() -> None:
    totals = [65_000, 65_500, 30, 100]
    deltas = counter_deltas(totals, width_bits=16)
    assert deltas[1:].tolist() == [500, 30 + 65_536 - 65_500, 70]
    assert counter_wraps(totals, width_bits=16).tolist() == [False, False, True, False]
    assert counter_resets(totals, width_bits=16).tolist() == [False, False, False, False]


def test_drop_from_the_middle_is_a_reset() -> None:
    totals = [30_000, 30_400, 12, 50]
    deltas = counter_deltas(totals, width_bits=16)
    assert deltas[1:].tolist() == [400, 12, 38]
    assert counter_resets(totals, width_bits=16).tolist() == [False, False, True, False]
    assert not counter_wraps(totals, width_bits=16).any()


def test_without_a_width_every_drop_is_a_reset() -> None:
    assert counter_deltas([65_500, 30])[1] == 30
    assert counter_resets([65_500, 30]).tolist() == [False, True]


def test_the_wrap_window_is_the_boundary() -> None:
    # a wrap implying exactly a quarter of the range is still a wrap; one more is a reset
    assert counter_deltas([65_536 - 16_000, 384], width_bits=16)[1] == 16_384
    assert counter_deltas([65_536 - 16_000, 385], width_bits=16)[1] == 385


def test_widths_of_the_catalog_models() -> None:
    assert counter_bits("imbuildings-people-counter") == 16
    assert counter_bits("milesight-vs133") == 32
    assert counter_bits("cayenne-lpp") is None


@pytest.mark.parametrize("bits", [0, 64])
def test_bad_width_is_refused(bits: int) -> None:
    with pytest.raises(ValueError, match="width_bits"):
        counter_deltas([1, 2], width_bits=bits)


def obvious(totals: list[float], bits: int) -> list[float]:
    out, previous = [], None
    for value in totals:
        if math.isnan(value):
            out.append(math.nan)
            continue
        if previous is None:
            out.append(math.nan)
        elif value >= previous:
            out.append(value - previous)
        elif value + 2**bits - previous <= 2**bits / 4:
            out.append(value + 2**bits - previous)
        else:
            out.append(value)
        previous = value
    return out


@settings(max_examples=60)
@given(st.lists(st.one_of(st.integers(0, 2**16 - 1).map(float), st.just(math.nan)), max_size=40))
def test_matches_obvious_loop_with_a_width(totals: list[float]) -> None:
    np.testing.assert_array_equal(counter_deltas(totals, width_bits=16), np.array(obvious(totals, 16), dtype=float))


@settings(max_examples=60)
@given(st.integers(0, 2**16 - 1), st.lists(st.integers(0, 300), min_size=1, max_size=40))
def test_a_wrapping_counter_loses_no_count(start: int, increments: list[int]) -> None:
    """A true 16-bit counter, read after small increments, is counted exactly whatever it wraps."""
    raw = np.cumsum([start, *increments])
    deltas = counter_deltas((raw % 2**16).astype(float), width_bits=16)
    assert deltas[1:].tolist() == [float(i) for i in increments]
