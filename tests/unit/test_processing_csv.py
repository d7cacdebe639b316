"""``stadtpuls process occupancy|footfall|eaqi`` on small CSV files whose answers are worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from processing.cli import process_group
from processing.csvio import CsvError, format_time, parse_duration, parse_time


def run(tmp_path: Path, text: str, *args: str) -> Any:
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(process_group, [args[0], str(path), *args[1:]])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def fails(tmp_path: Path, text: str, *args: str) -> str:
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(process_group, [args[0], str(path), *args[1:]])
    assert result.exit_code != 0
    return result.output


def test_occupancy_by_hand(tmp_path: Path) -> None:
    # 10:00 free, 10:10 occupied, 10:25 free (15 of 60 minutes), heartbeat 11:00 free,
    # 12:30 occupied until the file ends at 13:00 (30 of 60 minutes)
    rows = "timestamp,value\n2025-03-08T10:00:00,0\n2025-03-08T10:10:00Z,1\n2025-03-08T11:25:00+01:00,0\n" \
           "2025-03-08T11:00:00,0\n2025-03-08T12:30:00,1\n2025-03-08T13:00:00,1\n"
    assert run(tmp_path, rows, "occupancy", "--every", "1h") == [
        {"start": "2025-03-08T10:00:00Z", "end": "2025-03-08T11:00:00Z", "occupancy": 0.25, "coverage": 1.0},
        {"start": "2025-03-08T11:00:00Z", "end": "2025-03-08T12:00:00Z", "occupancy": 0.0, "coverage": 1.0},
        {"start": "2025-03-08T12:00:00Z", "end": "2025-03-08T13:00:00Z", "occupancy": 0.5, "coverage": 1.0},
    ]


def test_occupancy_stale_bay_is_unknown(tmp_path: Path) -> None:
    # occupied at 10:00, then silent until 12:40: with --stale 30m the state is known only 10:00-10:30
    rows = "2025-03-08T10:00:00,1\n2025-03-08T12:40:00,1\n"
    out = run(tmp_path, rows, "occupancy", "--every", "1h", "--stale", "30m")
    assert [(r["occupancy"], r["coverage"]) for r in out] == [(1.0, 0.5), (None, 0.0), (None, 0.0)]


def test_footfall_by_hand(tmp_path: Path) -> None:
    # 10:00 → 11:00: +60; 11:00 → 11:30: +30; reset at 12:00 (190 → 10): 10 more in 11:30-12:00;
    # 12:00 → 15:00 is longer than --max-gap 2h: those hours are null, not zero
    rows = "timestamp,total\n2025-03-08T10:00:00Z,100\n2025-03-08T11:00:00Z,160\n2025-03-08T11:30:00Z,190\n" \
           "2025-03-08T12:00:00Z,10\n2025-03-08T15:00:00Z,40\n"
    out = run(tmp_path, rows, "footfall", "--every", "1h", "--max-gap", "2h")
    assert [(r["start"], r["count"]) for r in out] == [
        ("2025-03-08T10:00:00Z", 60.0), ("2025-03-08T11:00:00Z", 40.0), ("2025-03-08T12:00:00Z", None),
        ("2025-03-08T13:00:00Z", None), ("2025-03-08T14:00:00Z", None),
    ]
    assert out[0]["end"] == "2025-03-08T11:00:00Z"


def test_footfall_spreads_over_intervals(tmp_path: Path) -> None:
    # one reading 90 minutes after the previous: 90 people, 2/3 of the span lies in the first quarter hours
    rows = "2025-03-08T10:00:00Z,0\n2025-03-08T11:30:00Z,90\n"
    out = run(tmp_path, rows, "footfall", "--every", "30m")
    assert [r["count"] for r in out] == [30.0, 30.0, 30.0]


def test_footfall_wrap_with_bits(tmp_path: Path) -> None:
    rows = "2025-03-08T10:00:00Z,65500\n2025-03-08T11:00:00Z,20\n"
    assert run(tmp_path, rows, "footfall", "--bits", "16")[0]["count"] == 56.0
    assert run(tmp_path, rows, "footfall")[0]["count"] == 20.0  # without a width: a reset


EAQI_ROWS = "timestamp,pm2_5,pm10,no2,o3\n" + "".join(
    f"2025-03-08T10:{m:02d}:00Z,{pm},20,30,50\n" for m, pm in zip((0, 15, 30, 45), (4, 6, 8, 10), strict=True)
) + "2025-03-08T11:00:00Z,3,10,5,\n2025-03-08T11:15:00Z,3,10,5,\n"


def test_eaqi_by_hand(tmp_path: Path) -> None:
    out = run(tmp_path, EAQI_ROWS, "eaqi")
    # hour 10: PM2.5 mean 7 (fair), PM10 20 (fair), NO2 30 (moderate), O3 50 (good) → moderate, by NO2
    assert out[0] == {"start": "2025-03-08T10:00:00Z", "index": 3, "band": "moderate", "pollutant": "no2",
                      "values": {"pm2_5": 7.0, "pm10": 20.0, "no2": 30.0, "o3": 50.0},
                      "pm_mean": "1h", "bands": "2024"}
    # hour 11: 2 of 4 expected readings: no valid mean, no index
    assert out[1]["index"] is None
    assert out[1]["band"] is None
    assert out[1]["pollutant"] is None
    assert out[1]["values"] == {"pm2_5": None, "pm10": None, "no2": None, "o3": None}


def test_eaqi_older_bands(tmp_path: Path) -> None:
    out = run(tmp_path, EAQI_ROWS, "eaqi", "--bands", "2017")
    assert (out[0]["index"], out[0]["band"], out[0]["bands"]) == (1, "good", "2017")


def test_eaqi_24h_pm_mean_needs_18_hours(tmp_path: Path) -> None:
    out = run(tmp_path, EAQI_ROWS, "eaqi", "--pm-mean", "24h")
    assert out[0]["values"]["pm2_5"] is None
    assert out[0]["pm_mean"] == "24h"
    assert (out[0]["index"], out[0]["pollutant"]) == (3, "no2")


def test_eaqi_24h_running_mean(tmp_path: Path) -> None:
    # hourly PM10 readings of 10 for 17 hours and 100 for the 18th: the 18th hour's running mean is 15
    rows = "timestamp,pm2_5,pm10,no2,o3\n" + "".join(
        f"2025-03-08T{h:02d}:00:00Z,,{100 if h == 17 else 10},,\n" for h in range(18))
    out = run(tmp_path, rows, "eaqi", "--pm-mean", "24h")
    assert out[16]["index"] is None
    assert (out[17]["values"]["pm10"], out[17]["index"], out[17]["band"]) == (15.0, 1, "good")


@pytest.mark.parametrize(("text", "args", "message"), [
    ("2025-03-08T10:00:00Z,2\n", ("occupancy",), "must be 1"),
    ("yesterday,1\n", ("occupancy",), "line 1"),
    ("2025-03-08T10:00:00Z,abc\n", ("footfall",), "not a number"),
    ("2025-03-08T10:00:00Z,1,2,3,4\n", ("eaqi",), "header"),
    ("timestamp,pm10\n2025-03-08T10:00:00Z,1\n", ("eaqi",), "pm2_5"),
    ("", ("footfall",), "no data rows"),
    ("2025-03-08T10:00:00Z,1\n", ("footfall", "--every", "0h"), "not a duration"),
])
def test_bad_input_is_named(tmp_path: Path, text: str, args: tuple[str, ...], message: str) -> None:
    assert message in fails(tmp_path, text, *args)


def test_time_and_duration_parsing() -> None:
    assert parse_duration("15m") == 900 * 10**9
    assert parse_duration("1.5h") == 5400 * 10**9
    assert parse_time("2025-03-08T11:00:00+01:00") == parse_time("2025-03-08T10:00:00")
    assert format_time(parse_time("2025-03-08T10:00:00.5Z")) == "2025-03-08T10:00:00.500000Z"
    with pytest.raises(CsvError):
        parse_time("08.03.2025")
