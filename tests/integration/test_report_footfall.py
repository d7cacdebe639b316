"""The footfall report from a real InfluxDB: a known week of hourly footfall points in the processing schema
(``"r1h"."footfall"``, one series per counter, line and direction, stamped with the hour's start, a gap stored as
``complete`` 0 without ``count``) is read back, checked against hand-computed totals, rendered to PDF and HTML in
both languages, and written and mailed by the weekly run.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from devtools.localstack import InfluxServer
from reports.footfall.data import Options, gather, week_hours
from reports.footfall.render import render
from reports.footfall.schedule import run_once
from reports.footfall.weeks import IsoWeek, local_hour, week_of
from stadtpuls.influx import InfluxClient
from stadtpuls.lineprotocol import line, quote_identifier
from stadtpuls.settings import InfluxSettings, ReportSettings, Settings
from tests.unit.test_report_mail import Inbox, free_port

pytestmark = pytest.mark.integration

TOWN = "Musterstadt"
WEEK = week_of(date(2026, 10, 25))  # 2026-W43: its Sunday has 25 hours; so has the Sunday of 2025-W43
COUNTERS = {  # (site, dev_eui, direction) → people per hour in this week, the week before, last year
    ("altstadt", "24E124FA00000001", "in"): (10, 8, 5),
    ("altstadt", "24E124FA00000001", "out"): (5, 4, 5),
    ("markt", "24E124FB00000001", "in"): (2, 2, 1),
}
OTHER_TOWN = ("altstadt", "24E124FA00000009", "in")  # the same site name in another municipality: not counted


def points(week: IsoWeek, which: int) -> list[str]:
    """This week (0), the week before (1) or last year (2) as line protocol, with the planted gaps."""
    out = []
    for ns in week_hours(week):
        day, hour = local_hour(ns)
        for (site, dev_eui, direction), values in COUNTERS.items():
            tags = {"municipality": TOWN, "site": site, "class": "footfall", "model": "milesight-vs133",
                    "dev_eui": dev_eui, "direction": direction}
            count = float(values[which])
            if which == 0 and direction == "in" and site == "altstadt" and day.weekday() == 1 and hour == 10:
                out.append(line("footfall", tags, {"complete": 0.0}, ns))  # a gap: estimated from the week before
                continue
            if which < 2 and site == "markt" and day.weekday() == 2 and hour < 4:
                continue  # no point at all: missing, and nothing in the week before to estimate from
            if which == 0 and direction == "in" and site == "altstadt" and day.weekday() == 5 and hour == 15:
                count = 100.0
            out.append(line("footfall", tags, {"count": count, "complete": 1.0}, ns))
            site_tags = {"municipality": TOWN, "site": site, "class": "footfall", "direction": direction}
            out.append(line("footfall_site", site_tags, {"count": count, "complete": 1.0, "counters": 1.0}, ns))
        other = {"municipality": "Nachbarort", "site": OTHER_TOWN[0], "class": "footfall", "model": "milesight-vs133",
                 "dev_eui": OTHER_TOWN[1], "direction": OTHER_TOWN[2]}
        out.append(line("footfall", other, {"count": 9999.0, "complete": 1.0}, ns))
    return out


@pytest.fixture
async def loaded(influxdb: InfluxServer, influx_db_name: str) -> InfluxSettings:
    settings = InfluxSettings(url=influxdb.url, db=influx_db_name)
    async with InfluxClient.from_settings(settings) as client:
        policy = f"{quote_identifier('r1h')} ON {quote_identifier(influx_db_name)} DURATION INF REPLICATION 1"
        await client._request("POST", "/query", data={"q": f"CREATE RETENTION POLICY {policy}"})
        for which, week in enumerate((WEEK, WEEK.previous(), WEEK.year_before())):
            body = "\n".join(points(week, which)).encode()
            await client._request("POST", "/write", params={"db": influx_db_name, "rp": "r1h", "precision": "ns"},
                                  content=body)
    return settings


def pdf_text(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


TOTAL = 169 * 17 - 10 + 8 - 4 * 2 + 90  # 169 hours × 17 people, the gap (10 → 8 estimated), 4 missing, Saturday's 100
DAYS = [24 * 17, 24 * 17 - 2, 24 * 17 - 8, 24 * 17, 24 * 17, 24 * 17 + 90, 25 * 17]


async def test_the_week_read_back_agrees_with_hand_computed_totals(loaded: InfluxSettings) -> None:
    async with InfluxClient.from_settings(loaded) as client:
        report = await gather(client, WEEK, Options(TOWN, labels={"24E124FA00000001": "Hauptstraße"}))
    assert [d.total for d in report.days] == DAYS
    assert report.total == TOTAL == sum(DAYS)
    assert report.previous_total == 168 * 14 - 4 * 2
    assert report.last_year_total == 169 * 11
    assert [d.previous for d in report.days][:3] == [24 * 14, 24 * 14, 24 * 14 - 8]
    assert report.days[2].previous_incomplete
    assert report.days[2].missing_hours == 4
    assert report.days[1].estimated == 8
    assert (report.days[5].peak_hour, report.days[5].peak_count) == (15, 107)
    assert report.counted_hours == 3 * 169 - 5
    assert report.estimated_hours == 1
    assert report.expected_hours == 3 * 169
    assert report.normal_level.mean == pytest.approx((60 * 17 - 2 + 90) / 60)
    assert {s.site: (s.total, s.inbound, s.outbound) for s in report.site_rows} == {
        "altstadt": (169 * 15 - 2 + 90, 169 * 10 - 2 + 90, 169 * 5), "markt": (169 * 2 - 8, 169 * 2 - 8, 0)}
    assert report.locations[0].label == "Hauptstraße"

    async with InfluxClient.from_settings(loaded) as client:
        only_markt = await gather(client, WEEK, Options(TOWN, sites=("markt",)))
    assert only_markt.total == 169 * 2 - 8
    assert only_markt.sites == ("markt",)

    html = {lang: render(report, lang, "html").decode() for lang in ("de", "en")}
    assert "2.953" in html["de"]
    assert "2,953" in html["en"]
    assert TOTAL == 2953
    assert "Sa., 24.10.2026" in html["de"]
    assert "Sat 24 Oct 2026" in html["en"]
    assert "498" in html["de"]
    assert "15–16\u00a0Uhr (107)" in html["de"]
    for lang, words in (("de", ["2.953", "Seite 1 von 4", "Quelle und Methode"]),
                        ("en", ["2,953", "Page 1 of 4", "Source and method"])):
        pdf = render(report, lang, "pdf")
        assert pdf.startswith(b"%PDF-")
        assert pdf.rstrip().endswith(b"%%EOF")
        text = pdf_text(pdf)  # pdftotext: poppler-utils, installed by make test-deps
        assert all(word in text for word in words), text[:2000]


async def test_counted_days_agree_with_the_daily_sums_of_the_site_rollup(loaded: InfluxSettings) -> None:
    """What the query API sums per local day from ``footfall_site`` is the report's day minus its estimates."""
    start, end = WEEK.bounds()
    daily = (f'SELECT sum("count") FROM "r1h"."footfall_site" WHERE "municipality" = \'{TOWN}\' '
             f"AND time >= {start} AND time < {end} GROUP BY time(1d) tz('Europe/Berlin')")
    async with InfluxClient.from_settings(loaded) as client:
        [series] = await client.query(daily)
        report = await gather(client, WEEK, Options(TOWN))
    sums = [row[1] for row in series["values"]]
    assert sums == [d.total - d.estimated for d in report.days]
    assert sums[6] == 25 * 17  # the local Sunday of the autumn change, 25 hours, in both


async def test_the_weekly_run_writes_once_and_mails(loaded: InfluxSettings, smtp: tuple[Inbox, int],
                                                    tmp_path: Path) -> None:
    inbox, port = smtp
    settings = Settings(influx=loaded, data_dir=tmp_path, report=ReportSettings(
        town="Stadt Musterstadt", smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none", smtp_to="city@example.org"))
    monday = datetime(2026, 10, 26, 12, tzinfo=UTC)  # the week of 19-25 October is complete
    written = await run_once(settings, tmp_path / "out", municipality=TOWN, lang="en", fmt="html", now=monday)
    assert written == tmp_path / "out" / "footfall-musterstadt-2026-W43-en.html"
    assert "2,953" in written.read_text(encoding="utf-8")
    assert await run_once(settings, tmp_path / "out", municipality=TOWN, lang="en", fmt="html", now=monday) is None
    [(recipients, message)] = inbox.messages
    assert recipients == ["city@example.org"]
    assert message["Subject"] == "Footfall Stadt Musterstadt 2026-W43"
    sunday_evening = datetime(2026, 10, 25, 22, tzinfo=UTC)  # the week has ended, but late data may still come
    assert await run_once(settings, tmp_path / "early", municipality=TOWN, now=sunday_evening, fmt="html") is not None
    assert (tmp_path / "early" / "footfall-musterstadt-2026-W42-de.html").exists()


def test_the_command_writes_the_report(loaded: InfluxSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from stadtpuls.cli import main
    from stadtpuls.settings import get_settings

    monkeypatch.setenv("STADTPULS_INFLUX_URL", loaded.url)
    monkeypatch.setenv("STADTPULS_INFLUX_DB", loaded.db)
    monkeypatch.setenv("STADTPULS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STADTPULS_REPORT_TOWN", "Stadt <Muster>")
    get_settings.cache_clear()
    try:
        out = tmp_path / "w43.html"
        result = CliRunner().invoke(main, ["report", "footfall", "--week", str(WEEK), "--municipality", TOWN,
                                           "--lang", "de", "--out", str(out)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"{out}: 2026-W43, 2953 passers-by, 99.0 % counted" in result.output
    html = out.read_text(encoding="utf-8")
    assert "Stadt &lt;Muster&gt;" in html
    assert "2.953" in html
