"""Grafana's transformations as dashboards.transformations repeats them: on small frames with known answers."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from dashboards.boards import build_all, panels
from dashboards.transformations import TransformError, apply, moment_format, parse_pairs, table_frame

BERLIN = ZoneInfo("Europe/Berlin")


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_moment_tokens_literals_and_the_viewers_zone() -> None:
    # 01:30 UTC on the last Sunday of March 2025 is 03:30 summer time in Berlin
    moment = datetime(2025, 3, 30, 1, 30, tzinfo=UTC).astimezone(BERLIN)
    assert moment_format(moment, "[day=]E-ddd [hour=]HH") == "day=7-Sun hour=03"
    assert moment_format(moment, "YYYY-MM-DD HH:mm dddd") == "2025-03-30 03:30 Sunday"
    with pytest.raises(TransformError, match="'Do'"):
        moment_format(moment, "Do")


def test_key_value_pairs_as_grafana_reads_them() -> None:
    assert parse_pairs("day=1-Mon hour=08") == {"day": "1-Mon", "hour": "08"}
    assert parse_pairs("a: 1, b=2;c=3&d=x") == {"a": "1", "b": "2", "c": "3", "d": "x"}
    with pytest.raises(TransformError, match="quoted"):
        parse_pairs('a="x y"')


def test_a_table_result_becomes_one_frame_with_time_tags_and_fields() -> None:
    series = [
        {"name": "m", "tags": {"site": "a"}, "columns": ["time", "v"], "values": [[1, 0.5], [2, None]]},
        {"name": "m", "tags": {"site": "b"}, "columns": ["time", "v"], "values": [[1, 0.7]]},
    ]
    assert table_frame(series) == {"Time": [1, 2, 1], "site": ["a", "a", "b"], "v": [0.5, None, 0.7]}


def test_the_hour_by_weekday_steps_average_per_local_weekday_and_hour() -> None:
    panel = next(p for p in panels(build_all()["parking"]) if p["title"] == "Occupancy by hour and weekday")
    # Monday 2025-06-02 and 2025-06-09 at 08:00 and 09:00 Berlin (06:00, 07:00 UTC), Tuesday 08:00 once,
    # given out of order; one hour without a value
    frame = {
        "Time": [_ms(2025, 6, 9, 6), _ms(2025, 6, 2, 6), _ms(2025, 6, 3, 6), _ms(2025, 6, 2, 7), _ms(2025, 6, 9, 7)],
        "occupancy": [0.6, 0.2, 0.9, None, 0.5],
    }
    [matrix] = apply(panel["transformations"], [frame], zone=BERLIN)
    assert matrix == {"hour\\day": ["08", "09"], "1-Mon": [0.4, 0.5], "2-Tue": [0.9, ""]}


def test_a_transformation_not_done_here_is_an_error() -> None:
    with pytest.raises(TransformError, match="calculateField"):
        apply([{"id": "calculateField", "options": {}}], [{"Time": [1]}], zone=BERLIN)
    with pytest.raises(TransformError, match="several frames"):
        apply([{"id": "merge", "options": {}}], [{"Time": [1]}, {"Time": [2]}], zone=BERLIN)
