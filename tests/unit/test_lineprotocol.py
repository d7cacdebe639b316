"""Escaping at the boundary: line protocol and InfluxQL quoting."""

from __future__ import annotations

import math

import pytest

from stadtpuls.lineprotocol import (
    LineProtocolError,
    escape_tag,
    format_float,
    line,
    quote_identifier,
    quote_string,
    tag_set,
)


def test_line_escapes_tags_and_sorts_them() -> None:
    text = line("temperature", {"site": "Markt Platz", "municipality": "A,B=C"}, {"value": 1.5}, 10)
    assert text == r"temperature,municipality=A\,B\=C,site=Markt\ Platz value=1.5 10"


def test_empty_tag_values_are_left_out() -> None:
    assert tag_set({"a": "x", "channel": ""}) == ",a=x"


@pytest.mark.parametrize("name", ["a\\", "a\nb", "tab\t", "nul\x00"])
def test_names_line_protocol_cannot_carry_are_refused(name: str) -> None:
    with pytest.raises(LineProtocolError):
        escape_tag(name)
    with pytest.raises(LineProtocolError):
        line("m", {"site": name}, {"v": 1.0}, 1)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_refused(value: float) -> None:
    with pytest.raises(LineProtocolError, match="finite"):
        format_float(value)


def test_floats_stay_floats() -> None:
    assert format_float(1) == "1.0"


def test_influxql_quoting() -> None:
    assert quote_identifier('we"ird\\') == '"we\\"ird\\\\"'
    assert quote_string("x' OR '1'='1") == "'x\\' OR \\'1\\'=\\'1'"
