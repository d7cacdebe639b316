"""The footfall report of a simulated week, made the way a town makes it, and its pages as PNG for the README.

    python -m devtools.report_pages --week 2026-W47 --out run/report --pages-to docs/images

(``make report-pages``) starts its own InfluxDB on a free loopback port (as the tests do) and then:

1. writes the default town's footfall counters (the eight people counters of Lindenbrück: the report reads
   nothing else, so the parking bays and air stations are left out to keep the run short) through the simulator's
   backfill and the ingest pipeline, from a few days before the week before the same week a year earlier up to
   the end of the week: 54 weeks without a break, each counter sending what its firmware sends. One fault is
   planted: the counter ``bahnhofstrasse`` is offline on the week's Thursday from 09:00 for six hours;
2. runs the processing backfill over those days (hourly footfall per counter and per site);
3. runs the anomaly detection over the week and the week before (``stadtpuls process anomalies``), which keeps
   its events in the registry database, where the report reads them;
4. renders the report in German and English as PDF and HTML (``stadtpuls report footfall``'s own code), and
   converts the PDFs' pages to PNG with ``pdftoppm`` (poppler-utils).

``--work DIR`` keeps the database, the registry and the town file in DIR; a second run with the same DIR skips the
backfill, processing and detection and only renders again. ``--pages-to`` copies the first two German pages
(``report-footfall-1.png``, ``report-footfall-2.png``) there.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
import yaml

from firmware_sim.town import load_town, town_path
from reports.footfall.schedule import Request, make_report
from reports.footfall.weeks import BERLIN, IsoWeek, parse_week
from stadtpuls.calendar import load_calendar
from stadtpuls.settings import InfluxSettings, ReportSettings, Settings

DATABASE = "stadtpuls"
DONE = "backfilled"  # marker file in --work: the week whose data is in the database
OUTAGE = ("bahnhofstrasse", 3, "09:00", "6h")  # counter, weekday (0 = Monday), local start, duration
LEAD_DAYS = 3  # days before the first week read, so every counter has a reading to count from
TOWN_TITLE = "Stadt Lindenbrück"


def footfall_town(folder: Path) -> Path:
    """The default town with its footfall sites only, as a town file in ``folder``."""
    document = yaml.safe_load(town_path("default").read_text(encoding="utf-8"))
    document["sites"] = [site for site in document["sites"] if site.get("kind") == "footfall"]
    kept = {site["id"] for site in document["sites"]}
    for market in document.get("calendar", {}).get("markets", []):  # a market names the sites it lifts
        market["sites"] = [s for s in market.get("sites", []) if s in kept]
    document["name"] = "default-footfall"
    path = folder / "town-footfall.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def outage_spec(week: IsoWeek, folder: Path) -> Path:
    """A fault spec with one counter outage in ``week`` (see :data:`OUTAGE`)."""
    device, weekday, start, duration = OUTAGE
    spec = {"faults": [{"kind": "offline", "device": device, "start": f"{week.days[weekday]}T{start}",
                        "duration": duration}]}
    path = folder / "faults.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def span(week: IsoWeek) -> tuple[date, int]:
    """The first local day to write and how many days, up to the Monday after the week (a counter's last hour
    is counted from its first reading after the hour).
    """
    first = week.year_before().previous().monday - timedelta(days=LEAD_DAYS)
    return first, (week.days[-1] - first).days + 2


def fill(settings: Settings, week: IsoWeek, work: Path, workers: int) -> None:
    """Backfill, process and look for anomalies (steps 1-3 of the module docstring)."""
    from devtools.localstack import create_database
    from firmware_sim.backfill import run_backfill

    create_database(settings.influx.url, DATABASE)
    first, days = span(week)
    result = run_backfill(settings, town=footfall_town(work), days=days, start=first, workers=workers,
                          faults=outage_spec(week, work), ground_truth_path=work / "faults.truth.json")
    click.echo(f"backfilled {days} days from {first}: {result.uplinks:,} uplinks, {result.lines:,} lines "
               f"in {result.wall_seconds:.0f} s", err=True)
    start = datetime.combine(first, datetime.min.time(), BERLIN)
    end = datetime.combine(week.days[-1] + timedelta(days=1), datetime.min.time(), BERLIN)
    processed = asyncio.run(_process(settings, start, end + timedelta(days=1)))
    click.echo(f"processed {first} to {week.days[-1] + timedelta(days=1)}: {processed:,} points", err=True)
    found = _detect(settings, week, start=end - timedelta(days=14), end=end)
    click.echo(f"anomalies: {found}", err=True)
    (work / DONE).write_text(str(week), encoding="utf-8")


async def _process(settings: Settings, start: datetime, end: datetime) -> int:
    from processing.airquality import load_bands
    from processing.engine import Options
    from processing.service import ProcessingService

    service = ProcessingService(settings, Options(load_bands()))
    report = await service.backfill(int(start.timestamp()) * 10**9, int(end.timestamp()) * 10**9)
    return int(report.points)


def _detect(settings: Settings, week: IsoWeek, *, start: datetime, end: datetime) -> dict[str, int]:
    from processing.anomaly_job import detect_window

    calendar = load_calendar(town_path("default"))
    days = [start.date() + timedelta(days=n) for n in range((end - start).days + 1)]
    excluded = tuple(d for d in days if calendar.is_holiday(d))
    report = detect_window(settings, start=start.astimezone(UTC), end=end.astimezone(UTC),
                           excluded_days=excluded, timezone=str(BERLIN))
    return dict(report.by_kind)


def render_all(settings: Settings, week: IsoWeek, out: Path, dpi: int) -> list[Path]:
    """The report in both languages as PDF and HTML in ``out``, and every PDF page as PNG; the PDFs."""
    town = load_town("default")
    labels = {d.dev_eui: d.name for d in town.devices}
    made = datetime.combine(week.days[-1] + timedelta(days=1), datetime.min.time(), BERLIN).replace(hour=7)
    pdfs = []
    for lang in ("de", "en"):
        for fmt in ("pdf", "html"):
            request = Request(week, town.municipality, (), lang, fmt)
            report, content = asyncio.run(make_report(settings, request, labels=labels, now=made))
            path = out / f"footfall-{week}-{lang}.{fmt}"
            path.write_bytes(content)
            click.echo(f"{path}: {round(report.total):,} passers-by, {report.completeness:.1f} % counted, "
                       f"{len(report.anomalies)} anomalies", err=True)
            if fmt == "pdf":
                pdfs.append(path)
                pdf_pages(path, out / f"page-{lang}", dpi)
    return pdfs


def pdf_pages(pdf: Path, prefix: Path, dpi: int) -> list[Path]:
    """``pdftoppm -png``: one PNG per page, ``<prefix>-1.png`` on."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise click.ClickException("pdftoppm (poppler-utils) is missing: no PNG pages")
    for old in prefix.parent.glob(f"{prefix.name}-*.png"):
        old.unlink()
    subprocess.run([pdftoppm, "-png", "-r", str(dpi), str(pdf), str(prefix)], check=True)  # noqa: S603
    pages = sorted(prefix.parent.glob(f"{prefix.name}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    for n, page in enumerate(pages, start=1):  # pdftoppm pads the number to the page count's width
        page.rename(prefix.parent / f"{prefix.name}-{n}.png")
    return [prefix.parent / f"{prefix.name}-{n}.png" for n in range(1, len(pages) + 1)]


def settings_for(influx_url: str, work: Path) -> Settings:
    """Settings of the run: its InfluxDB and a registry in ``work``, the town's name and calendar."""
    return Settings(influx=InfluxSettings(url=influx_url, db=DATABASE), data_dir=work,
                    report=ReportSettings(town=TOWN_TITLE, calendar=town_path("default")))


@click.command()
@click.option("--week", default=None, help="ISO week, e.g. 2026-W47 (default: the last complete week).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("run/report"),
              show_default=True, help="Where the PDFs, HTML files and PNG pages go.")
@click.option("--pages-to", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Copy the first two German pages here (report-footfall-1.png, -2.png), e.g. docs/images.")
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the database here; a second run renders again without a new backfill.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--dpi", type=click.IntRange(20, 300), default=70, show_default=True)
def main(week: str | None, out: Path, pages_to: Path | None, work: Path | None, workers: int, dpi: int) -> None:
    """Backfill the default town's footfall counters, process them and render the report of --week."""
    from devtools.localstack import InfluxServer
    from reports.footfall.weeks import last_complete_week

    chosen = parse_week(week) if week else last_complete_week(datetime.now(UTC))
    out.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        folder = work or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder = folder.resolve()
        folder.mkdir(parents=True, exist_ok=True)
        influx = stack.enter_context(InfluxServer(folder / "influxdb"))
        settings = settings_for(influx.url, folder)
        marker = folder / DONE
        if not marker.exists() or marker.read_text(encoding="utf-8") != str(chosen):
            fill(settings, chosen, folder, workers)
        render_all(settings, chosen, out, dpi)
    if pages_to is not None:
        pages_to.mkdir(parents=True, exist_ok=True)
        for n in (1, 2):
            shutil.copyfile(out / f"page-de-{n}.png", pages_to / f"report-footfall-{n}.png")
            click.echo(str(pages_to / f"report-footfall-{n}.png"))


if __name__ == "__main__":
    main()
