"""``stadtpuls process anomalies``: run the detection job over a window and keep the events store current."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from stadtpuls.errors import StadtpulsError
from stadtpuls.settings import get_settings

_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _shard(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, int]:
    index, _, count = value.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        raise click.BadParameter(f"expected i/n such as 0/1, got {value!r}") from None
    if shard[1] < 1 or not 0 <= shard[0] < shard[1]:
        raise click.BadParameter(f"expected i/n with 0 <= i < n, got {value!r}")
    return shard


@click.command("anomalies")
@click.option("--start", type=click.DateTime(formats=_FORMATS), required=True, help="Window start (UTC).")
@click.option("--end", type=click.DateTime(formats=_FORMATS), default=None, help="Window end (UTC; default now).")
@click.option("--shard", default="0/1", callback=_shard, show_default=True,
              help="Worker i of n: only the sites this worker owns.")
@click.option("--exclude-day", "excluded", multiple=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="A public or school holiday (local date): counts and CO2 are not compared with their week. "
              "Repeatable. Default: the holidays of the town's calendar (STADTPULS_CALENDAR).")
@click.option("--event-day", "event_dates", multiple=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="A day of a known event that brings people (local date): counts above their week are "
              "excused, counts below it (a silent counter) are not; CO2 is compared as usual. Repeatable. "
              "Default: the events of the town's calendar.")
@click.option("--timezone", default=None,
              help="The town's time zone for the hour-of-week comparison of counts (default: STADTPULS_TIMEZONE, "
              "Europe/Berlin).")
def anomalies_command(
    start: datetime,
    end: datetime | None,
    shard: tuple[int, int],
    excluded: tuple[datetime, ...],
    event_dates: tuple[datetime, ...],
    timezone: str | None,
) -> None:
    """Detect anomalies in the raw data between --start and --end and store them as events (idempotent)."""
    first, last = _utc(start), _utc(end) if end is not None else datetime.now(UTC)
    if last <= first:
        raise click.BadParameter("--end must be after --start", param_hint="--end")
    from processing.anomaly_job import detect_window  # the job's database and client load only when it runs

    try:
        report = detect_window(get_settings(), start=first, end=last, shard=shard,
                               excluded_days=tuple(d.date() for d in excluded) if excluded else None,
                               timezone=timezone,
                               event_days=tuple(d.date() for d in event_dates) if event_dates else None)
    except StadtpulsError as exc:
        raise click.ClickException(str(exc)) from exc
    summary = {
        "sites": report.sites, "devices": report.devices, "series": report.series,
        "detections": report.detections, "by_kind": report.by_kind,
        "inserted": report.stored.inserted, "updated": report.stored.updated, "merged": report.stored.merged,
        "closed": report.stored.closed, "errors": report.errors,
        "seconds": {k: round(v, 2) for k, v in report.seconds.items()},
    }
    click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    if report.errors:
        raise SystemExit(1)
