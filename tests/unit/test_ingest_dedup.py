"""Deduplication memory (ingest/dedup.py) against the obvious model: the last N distinct keys, in order."""

from __future__ import annotations

from collections import OrderedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.dedup import RecentKeys


def test_a_key_is_new_once_then_a_duplicate() -> None:
    keys = RecentKeys(3)
    assert keys.add("a") is True
    assert keys.add("a") is False
    assert "a" in keys
    assert len(keys) == 1


def test_the_oldest_key_is_forgotten_first() -> None:
    keys = RecentKeys(2)
    for key in ("a", "b", "c"):
        assert keys.add(key)
    assert "a" not in keys
    assert {"b", "c"} == {k for k in "abc" if k in keys}
    assert keys.add("a") is True  # forgotten, so new again; "b" goes
    assert "b" not in keys


def test_a_duplicate_does_not_refresh_its_age() -> None:
    keys = RecentKeys(2)
    keys.add("a")
    keys.add("b")
    keys.add("a")  # duplicate: "a" stays the oldest
    keys.add("c")
    assert "a" not in keys
    assert "b" in keys


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1, got 0"):
        RecentKeys(0)


@settings(max_examples=300)
@given(capacity=st.integers(1, 8), stream=st.lists(st.sampled_from("abcdefghijkl"), max_size=80))
def test_matches_an_ordered_dict_window(capacity: int, stream: list[str]) -> None:
    keys = RecentKeys(capacity)
    model: OrderedDict[str, None] = OrderedDict()
    for key in stream:
        expected_new = key not in model
        if expected_new:
            model[key] = None
            if len(model) > capacity:
                model.popitem(last=False)
        assert keys.add(key) is expected_new
        assert len(keys) == len(model) <= keys.capacity
        assert all(k in keys for k in model)
