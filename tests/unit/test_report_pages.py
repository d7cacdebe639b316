"""The README pages' town: the default town's footfall counters only, the same devices, one planted outage."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from devtools.report_pages import footfall_town, outage_spec, span
from firmware_sim.faults import load_spec, resolve_faults
from firmware_sim.town import load_town
from reports.footfall.weeks import parse_week


def test_the_footfall_town_keeps_the_counters_and_nothing_else(tmp_path: Path) -> None:
    town, default = load_town(footfall_town(tmp_path)), load_town("default")
    counters = {(d.dev_eui, d.name, d.site, d.model) for d in default.devices if d.site in
                {s.id for s in default.sites if s.kind == "footfall"}}
    assert {(d.dev_eui, d.name, d.site, d.model) for d in town.devices} == counters
    assert len(counters) == 8
    assert town.municipality == default.municipality


def test_the_outage_falls_on_the_weeks_thursday_and_the_span_covers_a_year(tmp_path: Path) -> None:
    week = parse_week("2026-W47")
    town = load_town(footfall_town(tmp_path))
    first, days = span(week)
    assert first < week.year_before().previous().monday
    assert date.fromordinal(first.toordinal() + days - 1) == date(2026, 11, 23)  # the Monday after the week
    start = datetime(2026, 11, 1, tzinfo=town.timezone).timestamp()
    [fault] = resolve_faults(load_spec(outage_spec(week, tmp_path)), town, start=start, end=start + 30 * 86400,
                             seed=1)
    assert (fault.kind, fault.device) == ("offline", "bahnhofstrasse")
    assert datetime.fromtimestamp(fault.start, town.timezone) == datetime(2026, 11, 19, 9, tzinfo=town.timezone)
    assert fault.end - fault.start == 6 * 3600
