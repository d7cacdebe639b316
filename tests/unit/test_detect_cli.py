"""``stadtpuls process detect`` on small CSV files with planted anomalies, and on clean ones."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from stadtpuls.cli import main

START = datetime(2025, 6, 2, tzinfo=UTC)  # a Monday


def write_csv(path: Path, rows: list[tuple[str, str]], *, header: bool = True) -> Path:
    lines = ["timestamp,value"] if header else []
    lines += [f"{stamp},{value}" for stamp, value in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def level_rows(days: int = 21, *, every_minutes: int = 10, seed: int = 3) -> list[tuple[datetime, float]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(days * 24 * 60 // every_minutes):
        moment = START + timedelta(minutes=i * every_minutes)
        value = 20 + 6 * np.sin(2 * np.pi * i * every_minutes / 1440) + rng.normal(0, 1.5)
        rows.append((moment, round(float(value), 1)))
    return rows


def count_rows(weeks: int = 8, *, seed: int = 4) -> list[tuple[datetime, float]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(weeks * 7 * 24):
        moment = START + timedelta(hours=i)
        busy = 9 <= moment.hour < 19 and moment.weekday() != 6
        rows.append((moment, float(rng.poisson(300 if busy else 8))))
    return rows


def naive(rows: list[tuple[datetime, float]]) -> list[tuple[str, str]]:
    return [(moment.strftime("%Y-%m-%d %H:%M:%S"), f"{value:g}") for moment, value in rows]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["process", "detect", *args])
    return result.exit_code, result.output


def test_clean_level_series_prints_an_empty_list(tmp_path: Path) -> None:
    code, output = run(str(write_csv(tmp_path / "clean.csv", naive(level_rows()))))
    assert code == 0, output
    assert json.loads(output) == []


def test_clean_counts_print_an_empty_list(tmp_path: Path) -> None:
    code, output = run(str(write_csv(tmp_path / "clean.csv", naive(count_rows()))), "--kind", "count")
    assert code == 0, output
    assert json.loads(output) == []


def test_planted_spike_and_stuck_value(tmp_path: Path) -> None:
    rows = level_rows()
    rows[1500] = (rows[1500][0], 95.0)  # 2025-06-12 10:00
    for i in range(2400, 2455):  # 2025-06-18 16:00 .. 2025-06-19 01:00
        rows[i] = (rows[i][0], 17.3)
    code, output = run(str(write_csv(tmp_path / "faults.csv", naive(rows))), "--quantity", "pm2_5")
    assert code == 0, output
    events = json.loads(output)
    assert [event["kind"] for event in events] == ["spike", "stuck"]
    spike, stuck = events
    assert spike["start"] == spike["end"] == "2025-06-12T10:00:00Z"
    assert spike["reason"].startswith("pm2_5 95.0 µg/m³ at 2025-06-12 10:00 UTC, far above")
    assert stuck["end"] == "2025-06-19T01:00:00Z"
    assert stuck["score"] > 1
    assert stuck["reason"].startswith("pm2_5 unchanged at 17.3 µg/m³ for 9 h since 2025-06-18 16:00 UTC")
    assert set(spike) == {"start", "end", "kind", "score", "reason"}


def test_zoned_timestamps_and_irregular_rate(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    rows = []
    moment = START
    for _ in range(3000):
        moment += timedelta(seconds=int(rng.integers(240, 960)))  # 4 to 16 minutes apart
        rows.append((moment, round(float(20 + rng.normal(0, 1)), 1)))
    rows[2000] = (rows[2000][0], 60.0)
    local = [((m.astimezone(datetime.now(UTC).astimezone().tzinfo)).isoformat(), f"{v:g}") for m, v in rows]
    zoned = [(m.astimezone(UTC).replace(tzinfo=None).isoformat() + "+00:00", f"{v:g}") for m, v in rows]
    plus_two = [((m + timedelta(hours=2)).replace(tzinfo=None).isoformat() + "+02:00", f"{v:g}") for m, v in rows]
    outputs = [run(str(write_csv(tmp_path / f"{i}.csv", r)))[1] for i, r in enumerate((local, zoned, plus_two))]
    assert outputs[0] == outputs[1] == outputs[2]
    events = json.loads(outputs[0])
    assert [event["kind"] for event in events] == ["spike"]
    assert events[0]["start"] == rows[2000][0].strftime("%Y-%m-%dT%H:%M:%SZ")


def test_counter_stuck_on_a_saturday(tmp_path: Path) -> None:
    rows = count_rows()
    saturday = START + timedelta(weeks=7, days=5)
    rows = [(m, 0.0 if saturday + timedelta(hours=9) <= m < saturday + timedelta(hours=18) else v) for m, v in rows]
    code, output = run(str(write_csv(tmp_path / "counts.csv", naive(rows), header=False)), "--kind", "count")
    assert code == 0, output
    events = json.loads(output)
    assert [event["kind"] for event in events] == ["stuck"]
    assert events[0]["start"] == (saturday + timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert events[0]["reason"].startswith("counter stuck at 0 for 8 h since")


def test_shut_days_do_not_stand_in_for_usual_weeks(tmp_path: Path) -> None:
    """Six weeks of summer holidays whose first three Thursdays were shut (a few people about): the later
    Thursdays have only holiday weeks before them, and the shut ones would make each look crowded.
    """
    shut = [START + timedelta(weeks=week, days=3) for week in range(3)]
    rows = [(m, round(v * 0.03) if any(d <= m < d + timedelta(days=1) for d in shut) else v)
            for m, v in count_rows(weeks=6)]
    path = write_csv(tmp_path / "summer.csv", naive(rows))
    holidays = [arg for day in range(42) for arg in ("--exclude-day", f"{START + timedelta(days=day):%Y-%m-%d}")]
    code, output = run(str(path), "--kind", "count", *holidays)
    assert code == 0, output
    assert [event["kind"] for event in json.loads(output)] == ["seasonal"] * 3
    closed = [arg for day in shut for arg in ("--closed-day", f"{day:%Y-%m-%d}")]
    code, output = run(str(path), "--kind", "count", *holidays, *closed)
    assert code == 0, output
    assert json.loads(output) == []


def test_holiday_is_not_an_anomaly(tmp_path: Path) -> None:
    holiday = START + timedelta(weeks=6, days=2)
    rows = [(m, 0.0 if holiday <= m < holiday + timedelta(days=1) else v) for m, v in count_rows()]
    path = write_csv(tmp_path / "counts.csv", naive(rows))
    assert json.loads(run(str(path), "--kind", "count")[1]) != []
    code, output = run(str(path), "--kind", "count", "--exclude-day", holiday.strftime("%Y-%m-%d"))
    assert code == 0
    assert json.loads(output) == []


def test_an_event_day_excuses_a_crowd_but_not_a_dead_counter(tmp_path: Path) -> None:
    saturday = START + timedelta(weeks=7, days=5)
    shop = (saturday + timedelta(hours=9), saturday + timedelta(hours=18))
    crowd = [(m, 3 * v if shop[0] <= m < shop[1] else v) for m, v in count_rows()]
    crowd_path = write_csv(tmp_path / "crowd.csv", naive(crowd))
    day = saturday.strftime("%Y-%m-%d")
    assert json.loads(run(str(crowd_path), "--kind", "count")[1]) != []
    code, output = run(str(crowd_path), "--kind", "count", "--event-day", day)
    assert code == 0, output
    assert json.loads(output) == []
    dead = [(m, 0.0 if shop[0] <= m < shop[1] else v) for m, v in count_rows()]
    code, output = run(str(write_csv(tmp_path / "dead.csv", naive(dead))), "--kind", "count", "--event-day", day)
    assert code == 0, output
    assert [event["kind"] for event in json.loads(output)] == ["stuck"]


def test_out_of_range_bounds_from_the_command_line(tmp_path: Path) -> None:
    rows = naive(level_rows(days=2))
    rows[100] = (rows[100][0], "150")
    code, output = run(str(write_csv(tmp_path / "range.csv", rows)), "--max", "100")
    assert code == 0, output
    kinds = [event["kind"] for event in json.loads(output)]
    assert "out_of_range" in kinds


def test_missing_values_are_skipped(tmp_path: Path) -> None:
    rows = naive(level_rows(days=7))
    rows = [(stamp, "" if i % 7 == 0 else value) for i, (stamp, value) in enumerate(rows)]
    rows[50] = (rows[50][0], "nan")
    code, output = run(str(write_csv(tmp_path / "holes.csv", rows)))
    assert code == 0
    assert json.loads(output) == []


def test_bad_files_are_named_with_their_line(tmp_path: Path) -> None:
    cases = {
        "when.csv": ("timestamp,value\n2025-06-02T00:00:00Z,1\nyesterday,2\n", "line 3: 'yesterday' is not an ISO"),
        "what.csv": ("timestamp,value\n2025-06-02T00:00:00Z,abc\n", "line 2: value 'abc' is not a number"),
        "cols.csv": ("timestamp,value\n2025-06-02T00:00:00Z,1,2\n", "line 2: expected 2 columns"),
        "inf.csv": ("timestamp,value\n2025-06-02T00:00:00Z,inf\n", "line 2: value 'inf' is not finite"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        code, output = run(str(path))
        assert code == 1, (name, output)
        assert message in output, (name, output)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    code, output = run(str(binary))
    assert code == 1
    assert "not UTF-8" in output
    code, output = run(str(tmp_path / "when.csv"), "--quantity", "unobtainium")
    assert code == 2
    assert "unknown quantity" in output


def test_empty_file_prints_an_empty_list(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("timestamp,value\n", encoding="utf-8")
    assert run(str(path)) == (0, "[]\n")


def test_too_many_rows_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("processing.detect_cli.MAX_ROWS", 3)
    path = write_csv(tmp_path / "long.csv", naive(level_rows(days=1))[:5])
    code, output = run(str(path))
    assert code == 1
    assert "more than 3 readings" in output


def test_timezone_option(tmp_path: Path) -> None:
    holiday = START + timedelta(weeks=4)  # a Monday: closed from local midnight (22:00 UTC the day before)
    local_day = (holiday - timedelta(hours=2), holiday + timedelta(hours=22))
    rows = [(m, 0.0 if local_day[0] <= m < local_day[1] else v) for m, v in count_rows(weeks=5)]
    path = write_csv(tmp_path / "counts.csv", naive(rows))
    day = holiday.strftime("%Y-%m-%d")
    assert json.loads(run(str(path), "--kind", "count", "--timezone", "Europe/Berlin")[1]) != []
    code, output = run(str(path), "--kind", "count", "--timezone", "Europe/Berlin", "--exclude-day", day)
    assert code == 0, output
    assert json.loads(output) == [], output
    code, output = run(str(path), "--kind", "count", "--timezone", "Nowhere/Special")
    assert code == 1
    assert "unknown time zone 'Nowhere/Special'" in output


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.text(max_size=30), st.datetimes().map(lambda m: m.isoformat())),
            st.one_of(st.text(max_size=12), st.floats(allow_nan=True, allow_infinity=True).map(str)),
        ),
        max_size=20,
    )
)
def test_garbage_never_crashes(tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, str]]) -> None:
    path = tmp_path_factory.mktemp("garbage") / "garbage.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    result = CliRunner().invoke(main, ["process", "detect", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code == 0:
        assert isinstance(json.loads(result.output), list)
    else:
        assert result.output.startswith("Error: ")
