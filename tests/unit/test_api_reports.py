"""The report route's own decisions, without a server: the format from the Accept header, and which weeks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.problems import Problem
from api.routes.reports import check_week, choose_format
from reports.footfall.weeks import IsoWeek


@pytest.mark.parametrize(("fmt", "accept", "chosen"), [
    ("pdf", "text/html", "pdf"),
    ("html", None, "html"),
    (None, None, "pdf"),
    (None, "*/*", "pdf"),
    (None, "text/html,application/xhtml+xml,*/*;q=0.8", "html"),
    (None, "application/pdf, text/html;q=0.5", "pdf"),
    (None, "TEXT/HTML", "html"),
])
def test_the_format_is_asked_for_or_negotiated(fmt: str | None, accept: str | None, chosen: str) -> None:
    assert choose_format(fmt, accept) == chosen


def ns(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()) * 10**9


def test_a_week_must_exist_and_be_over() -> None:
    assert check_week("2026-W47", ns(2026, 11, 22, 23, 0)) == IsoWeek(2026, 47)  # Monday 00:00 in Berlin
    with pytest.raises(Problem) as running:
        check_week("2026-W47", ns(2026, 11, 22, 22, 59))
    assert (running.value.status, running.value.param) == (422, "week")
    assert "not over" in running.value.detail
    for bad in ("2026-W54", "2025-W53", "47", "2026-W4 7"):
        with pytest.raises(Problem) as refused:
            check_week(bad, ns(2026, 11, 26))
        assert (refused.value.status, refused.value.param) == (422, "week")


def test_the_api_loads_the_plotting_libraries_only_for_a_report() -> None:
    import subprocess
    import sys

    code = "import sys, api.app; print(sorted({'matplotlib', 'weasyprint', 'babel'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
