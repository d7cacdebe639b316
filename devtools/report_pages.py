"""Render a sample footfall report to PDF and its pages to PNG (``pdftoppm``), for the README and for looking at.

The week is made up in memory from the default town's counters (their peak hourly counts), a weekday and hour
profile with a busy Saturday, shops closed on Sunday, a market on Wednesday and Saturday mornings and a counter
outage, so the picture shows every part of the report; it is not measured data::

    python -m devtools.report_pages --week 2026-W47 --lang de --out run/report
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from firmware_sim.town import load_town, town_path
from reports.footfall.calendar import load_calendar
from reports.footfall.data import Anomaly, Options, build, fill_week, week_hours
from reports.footfall.query import HourCount, Line
from reports.footfall.render import render
from reports.footfall.weeks import HOUR_NS, IsoWeek, local_hour, parse_week

# share of the peak hour per local hour, on a workday and a Saturday (shops 10-20 h)
WORKDAY = [0.01, 0, 0, 0, 0, 0.01, 0.03, 0.08, 0.15, 0.3, 0.5, 0.7, 0.85, 0.8, 0.7, 0.65, 0.7, 0.75, 0.6, 0.4,
           0.2, 0.1, 0.05, 0.02]
SATURDAY = [0.02, 0.01, 0, 0, 0, 0, 0.01, 0.04, 0.12, 0.35, 0.65, 0.85, 0.95, 1.0, 1.0, 1.0, 0.9, 0.75, 0.55, 0.3,
            0.15, 0.08, 0.05, 0.03]
SUNDAY_FACTOR = 0.18
WEEKDAY_FACTOR = [0.55, 0.5, 0.58, 0.56, 0.68, 1.0, 1.0]


def sample_rows(week: IsoWeek, *, scale: float = 1.0, seed: int = 7, outage: bool = False) -> list[HourCount]:
    """Hourly counts of the default town's footfall counters for ``week`` (made up, see the module docstring)."""
    town = load_town("default")
    noise = random.Random(seed)  # noqa: S311 - made-up counts, not secrets
    rows = []
    for site in town.sites:
        if site.kind != "footfall":  # the counters only
            continue
        for device in site.devices:
            peak = float(device.params.get("peak_per_hour", 500)) * scale
            for direction, share in (("in", 0.52), ("out", 0.48)):
                line = Line(site.id, device.dev_eui, "", direction)
                for ns in week_hours(week):
                    day, hour = local_hour(ns)
                    profile = SATURDAY if day.weekday() >= 5 else WORKDAY
                    factor = WEEKDAY_FACTOR[day.weekday()] * (SUNDAY_FACTOR if day.weekday() == 6 else 1)
                    if day.weekday() in (2, 5) and 7 <= hour < 13 and site.id == "marktplatz":
                        factor *= 1.5
                    count = peak * share * profile[hour] * factor * noise.uniform(0.85, 1.15)
                    gap = outage and device.name == "bahnhofstrasse" and day.weekday() == 3 and 9 <= hour < 15
                    rows.append(HourCount(line, ns, None if gap else float(round(count))))
    return rows


def main() -> None:
    """Write the PDF and PNG pages."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--week", default="2026-W47")
    parser.add_argument("--lang", default="de", choices=["de", "en"])
    parser.add_argument("--out", type=Path, default=Path("run/report"))
    parser.add_argument("--dpi", type=int, default=80)
    args = parser.parse_args()
    week = parse_week(args.week)
    town = load_town("default")
    names = {d.dev_eui: d.name for d in town.devices}
    now = sample_rows(week, outage=True)
    before = sample_rows(week.previous(), scale=0.96, seed=8)
    counts = fill_week(week, now, before, {r.line for r in before})
    previous = fill_week(week.previous(), before, sample_rows(week.previous().previous(), seed=9),
                         {r.line for r in before})
    year = week.year_before()
    last_rows = sample_rows(year, scale=0.93, seed=10)
    last_year = fill_week(year, last_rows, sample_rows(year.previous(), seed=11), {r.line for r in last_rows})
    start = datetime.fromtimestamp((week.bounds()[0] + 3 * 24 * HOUR_NS + 9 * HOUR_NS) / 1e9, tz=UTC)
    anomaly = Anomaly(start, start.replace(hour=start.hour + 6), "fussgaengerzone", "gap",
                      "bahnhofstrasse: no uplinks for 6 h")
    report = build(counts, previous, last_year, Options(town.municipality, town="Stadt Lindenbrück", labels=names),
                   calendar=load_calendar(town_path("default")), anomalies=[anomaly])
    args.out.mkdir(parents=True, exist_ok=True)
    pdf = args.out / f"footfall-{week}-{args.lang}.pdf"
    pdf.write_bytes(render(report, args.lang, "pdf"))
    (args.out / f"footfall-{week}-{args.lang}.html").write_bytes(render(report, args.lang, "html"))
    if shutil.which("pdftoppm") is None:
        raise SystemExit(f"wrote {pdf}; pdftoppm (poppler-utils) is missing, so no PNG pages")
    pdftoppm = shutil.which("pdftoppm") or "pdftoppm"
    subprocess.run([pdftoppm, "-png", "-r", str(args.dpi), str(pdf), str(args.out / f"page-{args.lang}")],  # noqa: S603
                   check=True)
    print(f"wrote {pdf} and {sorted(p.name for p in args.out.glob(f'page-{args.lang}*.png'))}")


if __name__ == "__main__":
    main()
