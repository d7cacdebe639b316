"""Every parameter that reaches InfluxQL is validated or quoted in api/queries.py: hostile input, times,
durations, cursors and pages.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.queries import (
    NS,
    ParamError,
    Row,
    SeriesRequest,
    cut_page,
    decode_cursor,
    encode_cursor,
    format_time,
    parse_duration,
    parse_time,
    parse_zone,
    series_query,
    series_request,
)

HOSTILE = [
    "x' OR '1'='1",
    "x'; DROP DATABASE stadtpuls; --",
    'a"b',
    "back\\slash",
    "trailing\\",
    "new\nline",
    "regex /.*/ ^$ | (a+)+ [x]",
    "\x00nul",
    "ünïcödé €",
]


def request(**overrides: Any) -> SeriesRequest:
    params: dict[str, Any] = dict(
        quantity="pm10", start="2025-06-14T00:00:00+02:00", end="2025-06-15T00:00:00+02:00", municipality="A",
        dev_eui=None, site="Ring", every=None, agg=None, tz="Europe/Berlin", limit=100, max_points=10_000,
        max_range_days=400, rollups=False,
    )
    params.update(overrides)
    return series_request(**params)


def string_literals(query: str) -> list[str]:
    """The single-quoted literals of an InfluxQL text, unescaped (backslash escapes)."""
    return [re.sub(r"\\(.)", r"\1", m) for m in re.findall(r"'((?:[^'\\]|\\.)*)'", query)]


def test_times_need_a_zone_and_come_out_with_one() -> None:
    assert parse_time("2025-06-14T12:00:00Z", "start") == parse_time("2025-06-14T14:00:00+02:00", "start")
    assert parse_time("2025-06-14T12:00:00.5Z", "start") % NS == NS // 2
    for bad in ("2025-06-14T12:00:00", "2025-06-14", "yesterday", "", "1e30", "2025-13-01T00:00:00Z",
                "9999-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2025-06-14T12:00:00Z" + " " * 100):
        with pytest.raises(ParamError) as info:
            parse_time(bad, "start")
        assert info.value.param == "start"
    ns = parse_time("2025-10-26T01:30:00Z", "start")
    assert format_time(ns) == "2025-10-26T01:30:00Z"
    assert format_time(ns, parse_zone("Europe/Berlin")) == "2025-10-26T02:30:00+01:00"


@given(st.datetimes(timezones=st.timezones()).filter(lambda d: 1971 <= d.year < 2199))
def test_any_zoned_time_is_read_back_to_the_same_instant(moment: Any) -> None:
    ns = parse_time(moment.isoformat(), "start")
    assert parse_time(format_time(ns), "start") == ns


@pytest.mark.parametrize("text", ["1", "0m", "15", "m", "-1h", "1.5h", "1y", "9999999d", "1h; DROP", "30s",
                                  "1h)", " 1h", "１h"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ParamError) as info:
        request(every=text)
    assert info.value.param == "every"


def test_good_durations() -> None:
    assert parse_duration("15m") == ("15m", 15 * 60 * NS)
    assert parse_duration("1w") == ("1w", 7 * 86400 * NS)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "Europe/Berlin'", "", "a" * 100])
def test_unknown_zones_are_refused(zone: str) -> None:
    with pytest.raises(ParamError) as info:
        parse_zone(zone)
    assert info.value.param == "tz"


@pytest.mark.parametrize("quantity", ["pm10' OR 1=1", 'pm10"', "uplink", "PM10", "", "processing_state"])
def test_only_canonical_quantities_reach_a_query(quantity: str) -> None:
    with pytest.raises(ParamError) as info:
        request(quantity=quantity)
    assert info.value.param == "quantity"


@pytest.mark.parametrize("site", [h for h in HOSTILE if "\n" not in h and "\x00" not in h and not h.endswith("\\")])
def test_hostile_site_names_stay_one_string_literal(site: str) -> None:
    query = series_query(request(site=site, every="1h", agg="max"), 0)
    assert string_literals(query) == ["A", site, "Europe/Berlin"]


@pytest.mark.parametrize("site", ["new\nline", "\x00nul", "trailing\\", "", "x" * 201])
def test_site_names_that_cannot_be_stored_are_refused(site: str) -> None:
    with pytest.raises(ParamError) as info:
        request(site=site)
    assert info.value.param == "site"


@given(st.text(min_size=1, max_size=50))
def test_any_site_name_is_refused_or_quoted_as_one_literal(site: str) -> None:
    try:
        spec = request(site=site)
    except ParamError as exc:
        assert exc.param == "site"  # noqa: PT017 - refusing is one of the two valid outcomes
        return
    literals = string_literals(series_query(spec, spec.start))
    assert site in literals


def test_aggregates_and_limits() -> None:
    with pytest.raises(ParamError, match="agg"):
        request(every="1h", agg="median")
    with pytest.raises(ParamError, match="agg"):
        request(agg="mean")  # without every
    with pytest.raises(ParamError, match="follow `next`") as info:
        request(limit=10_001)
    assert info.value.param == "limit"
    with pytest.raises(ParamError, match="split the range"):
        request(start="2020-01-01T00:00:00Z", end="2025-01-01T00:00:00Z")
    with pytest.raises(ParamError, match="end"):
        request(start="2025-01-02T00:00:00Z", end="2025-01-01T00:00:00Z")
    with pytest.raises(ParamError, match="give dev_eui or site"):
        request(site=None)
    with pytest.raises(ParamError, match="longer `every`"):
        request(start="2022-01-01T00:00:00Z", end="2025-01-01T00:00:00Z", every="1m", agg="mean",
                max_range_days=1200)
    assert request(every="1h").agg == "mean"


def test_the_query_scopes_to_the_municipality_and_groups_local_days() -> None:
    query = series_query(request(every="1d", agg="sum"), parse_time("2025-06-14T00:00:00+02:00", "start"))
    assert query == (
        'SELECT sum("value") AS "value" FROM "pm10" WHERE time >= 1749852000000000000 AND time < 1749938400000000000 '
        "AND \"municipality\" = 'A' AND \"site\" = 'Ring' GROUP BY time(1d) fill(none) LIMIT 101 tz('Europe/Berlin')"
    )


def test_raw_readings_carry_their_device() -> None:
    query = series_query(request(dev_eui="70B3D5E75E000001", site=None), 0)
    assert query.startswith('SELECT "value", "dev_eui", "channel" FROM "pm10" WHERE time >= 0')
    assert "\"dev_eui\" = '70B3D5E75E000001'" in query
    assert query.endswith("ORDER BY time ASC LIMIT 101")


def test_rollups_are_read_where_processing_keeps_them() -> None:
    device = {"dev_eui": "70B3D5E75E000001", "site": None, "rollups": True}
    assert request(every="15m", agg="max", **device).source == "r15m.pm10"
    assert 'SELECT "max" AS "value" FROM "r15m"."pm10"' in series_query(request(every="15m", agg="max", **device), 0)
    assert request(every="1h", agg="mean", rollups=True).source == "r1h.pm10_site"
    assert request(every="1d", agg="mean", tz="UTC", **device).source == "r1d.pm10"
    local_days = series_query(request(every="1d", agg="count", **device), 0)
    assert 'SELECT sum("count") AS "value" FROM "r1h"."pm10"' in local_days
    assert "GROUP BY \"channel\", time(1d) fill(none) LIMIT 101 tz('Europe/Berlin')" in local_days
    assert request(every="2h", agg="mean", rollups=True).source == "raw"
    assert request(every="1h", agg="sum", rollups=True).source == "raw"  # pm10 rollups carry no sum
    assert request(quantity="people_in", every="1h", agg="sum", rollups=True).source == "r1h.people_in_site"
    assert request(every="1h", agg="last", rollups=True).source == "raw"  # site rollups keep no last
    assert request(every="1h", agg="mean").source == "raw"  # rollups switched off
    assert request(every="1m", agg="mean", rollups=True).source == "raw"  # minutes come from the raw data
    for quantity in ("occupied", "people_in_total"):  # processing keeps no rollups of these
        assert request(quantity=quantity, every="1h", agg="max", rollups=True).source == "raw"


def test_cursors_are_tied_to_their_request() -> None:
    spec = request()
    middle = spec.start + 3600 * NS
    cursor = encode_cursor(spec, middle)
    assert decode_cursor(spec, cursor) == middle
    with pytest.raises(ParamError, match="another request"):
        decode_cursor(request(site="Other"), cursor)
    for bad in ("", "!!!", "x" * 200, encode_cursor(spec, middle)[:-2], "MTpmb286YmFy"):
        with pytest.raises(ParamError) as info:
            decode_cursor(spec, bad)
        assert info.value.param == "cursor"
    with pytest.raises(ParamError, match="outside"):
        decode_cursor(spec, encode_cursor(spec, spec.end + 1))


def rows(*times: int) -> list[Row]:
    return [Row(t, float(t), "D", None) for t in times]


def test_pages_never_split_one_time() -> None:
    assert cut_page(rows(1, 2, 3), 3) == (rows(1, 2, 3), None)
    assert cut_page(rows(1, 2, 3, 4), 3) == (rows(1, 2, 3), 4)
    assert cut_page(rows(1, 2, 2, 2), 3) == (rows(1), 2)
    assert cut_page(rows(5, 5, 5, 5), 3) == (rows(5, 5, 5, 5), 6)
