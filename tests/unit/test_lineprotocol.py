"""Escaping at the boundary: line protocol and InfluxQL quoting."""

from __future__ import annotations

import math

import pytest

from stadtpuls.lineprotocol import (
    LineBuilder,
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


HOSTILE = ["Markt Platz", "a,b=c", 'quote"double', "back\\slash", "x=y z,w", "Straße → Süd", "='"]


@pytest.mark.parametrize("channel", HOSTILE)
def test_the_fast_builder_writes_what_the_reference_builder_writes(channel: str) -> None:
    tags = {"site": "Markt Platz", "dev_eui": "70B3D5E75E000001"}
    builder = LineBuilder("channel")
    fast = builder.value_line("temperature", tag_set(tags), 21.5, 10, channel)
    assert fast == line("temperature", {**tags, "channel": channel}, {"value": 21.5}, 10)
    assert builder.value_line("temperature", tag_set(tags), 21.5, 10, channel) == fast  # from its memory


def test_the_fast_builder_leaves_out_an_empty_channel_and_missing_fields() -> None:
    builder = LineBuilder("channel")
    assert builder.value_line("co2", ",site=a", 400.0, 5) == "co2,site=a value=400.0 5"
    fields = (("f_cnt", 1.0), ("rssi", None), ("snr a", -3.25))
    assert builder.fields_line("uplink", ",site=a", fields, 5) == r"uplink,site=a f_cnt=1.0,snr\ a=-3.25 5"
    with pytest.raises(LineProtocolError, match="no fields"):
        builder.fields_line("uplink", "", (("rssi", None),), 5)


@pytest.mark.parametrize("channel", ["tab\t", "trailing\\"])
def test_the_fast_builder_refuses_what_line_protocol_cannot_carry(channel: str) -> None:
    with pytest.raises(LineProtocolError):
        LineBuilder("channel").value_line("temperature", "", 1.0, 1, channel)


def test_the_fast_builder_memory_is_bounded() -> None:
    builder = LineBuilder("channel", max_names=3)
    lines = [builder.value_line("m", "", 1.0, 1, f"c{i}") for i in range(10)]
    assert lines == [f"m,channel=c{i} value=1.0 1" for i in range(10)]
    assert len(builder._prefixes) <= 3
