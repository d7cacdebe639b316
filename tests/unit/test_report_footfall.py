"""The footfall report without a database: weeks, gaps, the numbers of a hand-made week, words and escaping."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from processing.events import Detection, EventStore
from reports.footfall import text
from reports.footfall.anomalies import AnomalyFileError, load_anomalies, stored_anomalies
from reports.footfall.data import Anomaly, Options, WeekCounts, build, change, fill_week, week_hours
from reports.footfall.plots import _short
from reports.footfall.query import HourCount, Line, footfall_query
from reports.footfall.render import css_string, render_html
from reports.footfall.weeks import IsoWeek, WeekError, last_complete_week, local_hour, parse_week, week_of
from stadtpuls.calendar import load_calendar
from stadtpuls.errors import ConfigError
from stadtpuls.holidays import easter_sunday, public_holidays

ROOT = Path(__file__).resolve().parents[2]
TOWN = ROOT / "firmware_sim" / "towns" / "default.yaml"
A_IN, A_OUT, B_IN = Line("a", "A1", "", "in"), Line("a", "A1", "", "out"), Line("b", "B1", "", "in")


# --- weeks -----------------------------------------------------------------------------------------------------------


def test_a_week_parses_and_prints_in_iso_form() -> None:
    week = parse_week("2026-W47")
    assert (week.year, week.week, str(week)) == (2026, 47, "2026-W47")
    assert week.days[0] == date(2026, 11, 16)
    assert week.days[6] == date(2026, 11, 22)


@pytest.mark.parametrize("bad", ["2026-47", "2026-W5", "W47", "2026-W00", "2025-W53", "", "2026-W47; DROP"])
def test_a_bad_week_is_refused_with_its_text(bad: str) -> None:
    with pytest.raises(WeekError):
        parse_week(bad)


def test_week_53_exists_only_in_long_years() -> None:
    assert str(parse_week("2026-W53")) == "2026-W53"  # 28 Dec 2026 is a Monday of week 53
    assert IsoWeek(2026, 53).year_before() == IsoWeek(2025, 52)  # 2025 has 52 weeks
    assert IsoWeek(2021, 1).year_before() == IsoWeek(2020, 1)


def test_the_same_week_last_year_is_weekday_aligned() -> None:
    week = parse_week("2026-W47")
    last = week.year_before()
    assert str(last) == "2025-W47"
    assert [d.weekday() for d in last.days] == list(range(7))
    assert last.days[5] == date(2025, 11, 22)  # the Saturday a year earlier is not 21 Nov
    assert week.previous() == IsoWeek(2026, 46)
    assert IsoWeek(2026, 1).previous() == IsoWeek(2025, 52)
    assert IsoWeek(2026, 53).next() == IsoWeek(2027, 1)


def test_weeks_across_daylight_saving_have_167_and_169_hours() -> None:
    spring, autumn = week_of(date(2026, 3, 29)), week_of(date(2026, 10, 25))
    assert len(week_hours(spring)) == 167
    assert len(week_hours(autumn)) == 169
    assert len(week_hours(parse_week("2026-W47"))) == 168
    start, end = autumn.bounds()
    assert datetime.fromtimestamp(start / 1e9, tz=UTC) == datetime(2026, 10, 18, 22, tzinfo=UTC)  # CEST midnight
    assert datetime.fromtimestamp(end / 1e9, tz=UTC) == datetime(2026, 10, 25, 23, tzinfo=UTC)  # CET midnight


def test_the_repeated_hour_belongs_to_the_sunday() -> None:
    hours = week_hours(week_of(date(2026, 10, 25)))
    sunday = [local_hour(ns) for ns in hours if local_hour(ns)[0] == date(2026, 10, 25)]
    assert len(sunday) == 25
    assert [h for _, h in sunday].count(2) == 2


def test_the_last_complete_week_waits_for_the_grace_period() -> None:
    # Monday 23 Nov 2026, 04:00 local = 03:00 UTC: week 47 ended four hours ago, less than the grace of six
    assert last_complete_week(datetime(2026, 11, 23, 3, tzinfo=UTC)) == IsoWeek(2026, 46)
    assert last_complete_week(datetime(2026, 11, 23, 6, tzinfo=UTC)) == IsoWeek(2026, 47)


# --- gaps and numbers ----------------------------------------------------------------------------------------------


def rows(week: IsoWeek, values: dict[Line, float], *, skip: set[tuple[Line, int]] = frozenset(),  # type: ignore[assignment]
         gaps: set[tuple[Line, int]] = frozenset(), override: dict[tuple[Line, int], float] | None = None,  # type: ignore[assignment]
         ) -> list[HourCount]:
    """Constant counts per line; ``skip`` leaves (line, hour index) out, ``gaps`` stores it as a gap."""
    out = []
    for n, ns in enumerate(week_hours(week)):
        for line, value in values.items():
            if (line, n) in skip:
                continue
            count = None if (line, n) in gaps else (override or {}).get((line, n), value)
            out.append(HourCount(line, ns, count))
    return out


def hour_index(week: IsoWeek, weekday: int, hour: int) -> int:
    """The index in week_hours of a local weekday and hour (the first, on the day with a repeated hour)."""
    for n, ns in enumerate(week_hours(week)):
        day, h = local_hour(ns)
        if day.weekday() == weekday and h == hour:
            return n
    raise AssertionError("no such hour")


def test_a_gap_is_estimated_from_the_week_before_never_zero() -> None:
    week = parse_week("2026-W47")
    tuesday_ten = hour_index(week, 1, 10)
    now = rows(week, {A_IN: 10}, gaps={(A_IN, tuesday_ten)})
    before = rows(week.previous(), {A_IN: 8})
    counts = fill_week(week, now, before, {A_IN})
    assert counts.estimated[A_IN] == {week_hours(week)[tuesday_ten]: 8.0}
    assert counts.total() == 167 * 10 + 8
    assert counts.missing_hours() == 0
    assert not counts.complete


def test_a_gap_without_the_week_before_stays_missing() -> None:
    week = parse_week("2026-W47")
    counts = fill_week(week, rows(week, {A_IN: 10}, skip={(A_IN, 0), (A_IN, 1)}), [], {A_IN, B_IN})
    assert counts.missing_hours() == 2 + 168  # B_IN had no point at all this week
    assert counts.total() == 166 * 10


def week_report(week: IsoWeek) -> tuple[WeekCounts, WeekCounts, WeekCounts]:
    saturday_three = hour_index(week, 5, 15)
    now = rows(week, {A_IN: 10, A_OUT: 5, B_IN: 2}, gaps={(A_IN, hour_index(week, 1, 10))},
               skip={(B_IN, hour_index(week, 2, h)) for h in range(4)}, override={(A_IN, saturday_three): 100})
    before = rows(week.previous(), {A_IN: 8, A_OUT: 4, B_IN: 2},
                  skip={(B_IN, hour_index(week.previous(), 2, h)) for h in range(4)})
    last = rows(week.year_before(), {A_IN: 5, A_OUT: 5, B_IN: 1})
    lines = {A_IN, A_OUT, B_IN}
    return (fill_week(week, now, before, lines), fill_week(week.previous(), before, [], lines),
            fill_week(week.year_before(), last, [], lines))


def test_the_numbers_of_a_hand_made_week_in_the_autumn_change() -> None:
    week = week_of(date(2026, 10, 25))  # Sunday has 25 hours
    report = build(*week_report(week), Options("Musterstadt"), calendar=load_calendar(None))
    monday, tuesday, wednesday, saturday, sunday = (report.days[n] for n in (0, 1, 2, 5, 6))
    assert monday.total == 24 * 17
    assert tuesday.total == 24 * 17 - 10 + 8
    assert tuesday.estimated == 8
    assert wednesday.total == 24 * 17 - 4 * 2
    assert wednesday.missing_hours == 4
    assert saturday.total == 24 * 17 + 90
    assert saturday.peak_hour == 15
    assert saturday.peak_count == 107
    assert sunday.total == 25 * 17
    # 2025-W43 ends with the autumn change as well: its Sunday has 25 hours too
    assert sunday.previous == 24 * 14
    assert sunday.last_year == 25 * 11
    assert wednesday.previous_incomplete
    assert not monday.previous_incomplete
    assert report.total == 169 * 17 - 10 + 8 - 8 + 90
    assert report.previous_total == 168 * 14 - 8
    assert report.last_year_total == 169 * 11
    assert sunday.change_previous == pytest.approx(100 * (425 - 336) / 336)
    assert report.expected_hours == 3 * 169
    assert report.counted_hours == 3 * 169 - 5
    assert report.estimated_hours == 1
    assert report.normal_level.mean == pytest.approx((60 * 17 - 2 + 90) / 60)
    assert report.matrix[5][15] == 107
    assert report.matrix[6][2] == 2 * 17
    assert sum(map(sum, report.matrix)) == report.total
    assert [s.site for s in report.site_rows] == ["a", "b"]
    a = report.site_rows[0]
    assert a.inbound == 169 * 10 - 10 + 8 + 90
    assert a.outbound == 169 * 5
    assert sum(s.share for s in report.locations) == pytest.approx(100)
    assert [(g.label, g.estimated) for g in report.gaps] == [("A1 in", True), ("B1 in", False)]
    assert report.gaps[1].end.hour == 4
    assert report.gaps[1].start.hour == 0


def test_holidays_are_left_out_of_the_normal_level() -> None:
    week = week_of(date(2026, 12, 25))  # Friday 25 and Saturday 26 December
    counts = fill_week(week, rows(week, {A_IN: 10}, override={(A_IN, hour_index(week, 4, 12)): 1000}), [], {A_IN})
    empty = fill_week(week.previous(), [], [], {A_IN})
    report = build(counts, empty, empty, Options("M"), calendar=load_calendar(TOWN))
    assert report.normal_level.mean == 10
    assert report.previous_total is None
    assert [n.de for n in report.days[4].notes][:2] == ["1. Weihnachtstag", "Schulferien"]


def test_change_needs_a_positive_base() -> None:
    assert change(106, 100) == pytest.approx(6)
    assert change(5, 0) is None
    assert change(5, None) is None


# --- calendar ------------------------------------------------------------------------------------------------------


def test_easter_and_the_holidays_of_hesse() -> None:
    assert easter_sunday(2026) == date(2026, 4, 5)
    assert easter_sunday(2025) == date(2025, 4, 20)
    hesse = public_holidays(2026, "HE")
    assert hesse[date(2026, 6, 4)] == ("Fronleichnam", "Corpus Christi")
    assert date(2026, 10, 31) not in hesse
    assert date(2026, 10, 31) in public_holidays(2026, "NI")
    assert public_holidays(2026, "SN")[date(2026, 11, 18)][0] == "Buß- und Bettag"


def test_the_town_file_serves_as_the_report_calendar() -> None:
    calendar = load_calendar(TOWN)
    assert [n.kind for n in calendar.notes(date(2026, 11, 18))] == ["market"]  # a Wednesday
    assert [n.de for n in calendar.notes(date(2026, 11, 28))] == ["Weihnachtsmarkt", "Wochenmarkt"]


def test_a_bad_calendar_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("state: XX\n")
    with pytest.raises(ConfigError, match=r"c\.yaml.*XX"):
        load_calendar(bad)
    bad.write_text("calendar: {markets: [{weekdays: [funday]}]}\n")
    with pytest.raises(ConfigError, match="funday"):
        load_calendar(bad)
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_calendar(tmp_path / "missing.yaml")


def test_anomaly_files_are_checked(tmp_path: Path) -> None:
    good = tmp_path / "a.json"
    good.write_text('[{"start": "2026-11-19T08:00:00Z", "end": "2026-11-19T14:00:00", "kind": "gap", "reason": "x"}]')
    [event] = load_anomalies(good)
    assert event.start == datetime(2026, 11, 19, 8, tzinfo=UTC)
    assert event.end.tzinfo is UTC
    good.write_text('[{"start": "yesterday", "end": "x", "kind": "gap"}]')
    with pytest.raises(AnomalyFileError, match="event 0"):
        load_anomalies(good)
    good.write_text("{}")
    with pytest.raises(AnomalyFileError, match="list"):
        load_anomalies(good)


# --- words ---------------------------------------------------------------------------------------------------------


def test_german_and_english_numbers_and_dates() -> None:
    assert text.number(1234.4, "de") == "1.234"
    assert text.number(1234.4, "en") == "1,234"
    assert text.day_short(date(2026, 11, 21), "de") == "Sa., 21.11.2026"
    assert text.day_short(date(2026, 11, 21), "en") == "Sat 21 Nov 2026"
    assert text.percent(6.2, "de") == "+6\u00a0%"
    assert text.percent(-3.5, "en") == "−4\u00a0%"
    assert text.percent(None, "de") == "–"
    assert text.decimal(98.54, "de") == "98,5"
    with pytest.raises(ValueError, match="fr"):
        text.number(1, "fr")


def saturday_report() -> object:
    week = parse_week("2026-W47")
    saturday = [hour_index(week, 5, h) for h in range(24)]
    year = week.year_before()
    now = rows(week, {A_IN: 100}, override={(A_IN, n): 767.5 for n in saturday})  # 18,420 on Saturday
    last = rows(year, {A_IN: 100}, override={(A_IN, hour_index(year, 5, h)): 724 for h in range(24)})
    counts = fill_week(week, now, [], {A_IN})
    return build(counts, fill_week(week.previous(), [], [], {A_IN}), fill_week(year, last, [], {A_IN}),
                 Options("Lindenbrück"), calendar=load_calendar(TOWN))


def test_the_summary_in_english() -> None:
    summary = text.summary(saturday_report(), "en")  # type: ignore[arg-type]
    assert "Saturday was the busiest day with 18,420 passers-by, 6\u00a0% more than the same Saturday last year" \
        in summary
    # 6 × 24 × 100 + 18,420
    assert summary.startswith("In week 2026-W47 (Mon 16 Nov 2026 – Sun 22 Nov 2026) Lindenbrück counted 32,820")
    assert "100.0\u00a0% of the counting hours were counted." in summary


def test_the_summary_in_german() -> None:
    summary = text.summary(saturday_report(), "de")  # type: ignore[arg-type]
    assert "Samstag war der stärkste Tag mit 18.420 Passanten, 6\u00a0% mehr als am selben Samstag des Vorjahres" \
        in summary
    assert "(Mo., 16.11.2026 – So., 22.11.2026)" in summary
    assert "100,0\u00a0% der Zählstunden" in summary


def test_an_empty_week_says_so() -> None:
    week = parse_week("2026-W47")
    empty = fill_week(week, [], [], set())
    report = build(empty, empty, empty, Options("Lindenbrück"), calendar=load_calendar(None))
    assert text.summary(report, "de") == "Für die Woche 2026-W47 liegen für Lindenbrück keine Zählwerte vor."
    assert "2026-W47" in render_html(report, "en")


# --- escaping ------------------------------------------------------------------------------------------------------

HOSTILE = '<script>alert("x")</script>\'"; } body { display: none'


def test_every_name_in_the_html_is_escaped() -> None:
    week = parse_week("2026-W47")
    line = Line(HOSTILE, "E<b>1", "", "in")
    counts = fill_week(week, rows(week, {line: 3}), [], {line})
    empty = fill_week(week.previous(), [], [], {line})
    report = build(counts, empty, empty, Options(HOSTILE, town=HOSTILE, labels={"E<b>1": HOSTILE}),
                   calendar=load_calendar(None))
    for html in (render_html(report, "de"), render_html(report, "en", for_print=True)):
        assert "<script>" not in html
        assert "E<b>1" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_css_strings_cannot_close_the_string_or_the_style() -> None:
    quoted = str(css_string(HOSTILE))
    assert quoted.startswith('"')
    assert quoted.endswith('"')
    inner = quoted[1:-1]
    assert '"' not in inner
    assert "<" not in inner
    assert "\\22 " in inner
    assert "\\3c " in inner


def test_the_query_quotes_every_name() -> None:
    query = footfall_query("Lindenbrück' OR '1'='1", ("a\"b",), 0, 10)
    assert "'Lindenbrück\\' OR \\'1\\'=\\'1'" in query
    assert '"site" = \'a"b\'' in query
    assert query.startswith('SELECT "count", "complete" FROM "r1h"."footfall" WHERE')


# --- anomalies from the events store --------------------------------------------------------------------------------


def test_the_anomalies_come_from_the_events_store_and_only_the_counters_of_the_week(tmp_path: Path) -> None:
    week = parse_week("2026-W47")
    store = EventStore(store_url(tmp_path))
    thursday = datetime(2026, 11, 19, 8, tzinfo=UTC).timestamp()
    found = [  # (dev_eui, kind, municipality, start): a counter of the report, a parking bay, another town, too early
        ("A1", "gap", "Lindenbrück", thursday), ("P1", "stuck", "Lindenbrück", thursday),
        ("A1", "spike", "Nachbarort", thursday), ("A1", "seasonal", "Lindenbrück", thursday - 14 * 86400),
    ]
    store.upsert([Detection(eui, "people_in", "", kind, at, at, at + 3600, 1.0, f"{kind} <b>", municipality=town,
                            site="a") for eui, kind, town, at in found])
    stored = stored_anomalies(store_url(tmp_path), "Lindenbrück", week)
    assert sorted((a.dev_eui, a.kind) for a in stored) == [("A1", "gap"), ("P1", "stuck")]
    counts = fill_week(week, rows(week, {A_IN: 10}), [], {A_IN})
    empty = fill_week(week.previous(), [], [], {A_IN})
    report = build(counts, empty, empty, Options("Lindenbrück", labels={"A1": "obere-marktstrasse"}),
                   calendar=load_calendar(None), anomalies=stored)
    [shown] = report.anomalies  # the parking bay's event is not the report's
    assert (shown.dev_eui, shown.kind, shown.start.hour) == ("A1", "gap", 9)  # 08:00 UTC is 09:00 in Berlin
    html = render_html(report, "de")
    assert "Do., 19.11., 09:00–10:00</b> · obere-marktstrasse (a): keine Daten" in html
    assert "gap &lt;b&gt;" in html
    assert "no data" in render_html(report, "en")


def store_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'registry.sqlite3'}"


def test_anomaly_times_and_kinds_in_plain_words() -> None:
    zone = ZoneInfo("Europe/Berlin")
    one_day = Anomaly(datetime(2026, 11, 21, 14, 44, tzinfo=zone), datetime(2026, 11, 21, 14, 44, tzinfo=zone),
                      "a", "seasonal", "")
    assert text.span(one_day, "de") == "Sa., 21.11., 14:44"
    assert text.span(one_day, "en") == "Sat 21 Nov, 14:44"
    two_days = Anomaly(one_day.start, datetime(2026, 11, 22, 2, 0, tzinfo=zone), "a", "gap", "")
    assert text.span(two_days, "de") == "21.11.2026, 14:44 – 22.11.2026, 02:00"
    assert text.kind("seasonal", "en") == "unusual for the weekday and hour"
    assert text.kind("new_kind", "de") == "new_kind"


def test_heatmap_cells_stay_short() -> None:
    assert [_short(v, "de") for v in (640, 1234, 9949, 9951, 12345)] == ["640", "1,2k", "9,9k", "10k", "12k"]
    assert _short(1234, "en") == "1.2k"


def test_a_counter_with_one_line_is_named_without_it() -> None:
    week = parse_week("2026-W47")
    one, two_a, two_b = Line("a", "A1", "1", "in"), Line("b", "B1", "1", "in"), Line("b", "B1", "2", "in")
    counts = fill_week(week, rows(week, {one: 3, two_a: 2, two_b: 1}), [], {one, two_a, two_b})
    empty = fill_week(week.previous(), [], [], set())
    report = build(counts, empty, empty, Options("M", labels={"A1": "nord", "B1": "sued"}),
                   calendar=load_calendar(None))
    assert sorted(s.label for s in report.locations) == ["nord", "sued (1)", "sued (2)"]
