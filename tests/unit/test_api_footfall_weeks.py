"""``/v1/footfall`` compares with the same ISO week a year earlier, as the footfall report does."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.routes.footfall import _shifts
from reports.footfall.weeks import IsoWeek

BERLIN = ZoneInfo("Europe/Berlin")


def _ns(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 10, tzinfo=BERLIN).timestamp()) * 10**9


@pytest.mark.parametrize(("week", "weeks_back"), [
    (IsoWeek(2026, 11), 52),  # 2025 has 52 weeks
    (IsoWeek(2027, 10), 53),  # after 2026, a year with a week 53: 2026-W10, not 2026-W11
    (IsoWeek(2026, 53), 53),  # no 2025-W53: week 52 of 2025
    (IsoWeek(2021, 1), 53),  # 2020 had a week 53: 2020-W01
])
def test_last_year_is_the_same_iso_week_a_year_earlier(week: IsoWeek, weeks_back: int) -> None:
    for day in week.days:
        shifts = _shifts(_ns(day), BERLIN)
        assert shifts["previous_week"] == timedelta(weeks=1)
        assert shifts["last_year"] == timedelta(weeks=weeks_back)
        assert week.monday - shifts["last_year"] == week.year_before().monday
