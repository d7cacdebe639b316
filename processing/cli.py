"""``stadtpuls process``: the processing service, its backfill, and the kernels on CSV files."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from processing.airquality import PmMean, band_names, load_bands
from processing.csvio import (
    CsvError,
    eaqi_records,
    footfall_records,
    iter_json_lines,
    occupancy_records,
    parse_duration,
    parse_time,
    read_table,
)
from processing.shard import Shard
from processing.timeseries import SeriesError

if TYPE_CHECKING:
    from processing.engine import Options

CSV_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _duration(option: str) -> Callable[[click.Context, click.Parameter, str | None], int | None]:
    def convert(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
        if value is None:
            return None
        try:
            return parse_duration(value)
        except CsvError as exc:
            raise click.BadParameter(str(exc), param_hint=option) from exc

    return convert


def _emit(compute: Callable[[], list[dict[str, Any]]]) -> None:
    try:
        records = compute()
    except (CsvError, SeriesError) as exc:
        raise click.ClickException(str(exc)) from exc
    for text in iter_json_lines(records):
        sys.stdout.write(text + "\n")


def _shard(_ctx: click.Context, _param: click.Parameter, value: str) -> Shard:
    try:
        return Shard.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from exc


def _options(bands: str, pm_mean: str, *, live: bool = True) -> Options:
    from processing.engine import Options

    return Options(load_bands(bands), PmMean(pm_mean), live=live)


SHARD = click.option("--shard", default="0/1", show_default=True, callback=_shard,
                     help="Worker i of n: this worker owns the sites whose stable hash modulo n is i.")
BANDS = click.option("--bands", type=click.Choice(band_names()), default="2024", show_default=True,
                     help="EAQI band table: the revised 2024 bands or the 2017-2023 ones.")
PM_MEAN = click.option("--pm-mean", type=click.Choice([m.value for m in PmMean]), default="1h", show_default=True,
                       help="PM averaging of the EAQI: hourly means or trailing 24-hour running means.")


class _ProcessGroup(click.Group):
    """The ``process`` group; ``detect`` (and its anomaly kernels) is imported only when it is called, so the
    service starts without loading kernels it does not use.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), "anomalies", "detect"])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "detect":
            from processing.detect_cli import detect_command

            return detect_command
        if cmd_name == "anomalies":
            from processing.anomaly_cli import anomalies_command

            return anomalies_command
        return super().get_command(ctx, cmd_name)


@click.group("process", cls=_ProcessGroup, invoke_without_command=True)
@SHARD
@BANDS
@PM_MEAN
@click.option("--interval", type=click.FloatRange(1, 3600), default=30.0, show_default=True,
              help="Seconds between passes.")
@click.option("--late", default="2h", show_default=True, callback=_duration("--late"),
              help="Each pass recomputes from the start of the UTC day that holds the watermark minus this.")
@click.option("--once", is_flag=True, help="Run one pass and exit.")
@click.option("--anomalies-every", type=click.FloatRange(0, 86400), default=600.0, show_default=True,
              help="Seconds between anomaly detection runs (events in the registry database); 0 = none.")
@click.option("--fleet-every", type=click.FloatRange(0, 86400), default=60.0, show_default=True,
              help="Seconds between the fleet summaries for the dashboards (open alarms, anomalies, quarantine, "
                   "lag, lot positions); 0 = none.")
@click.pass_context
def process_group(ctx: click.Context, shard: Shard, bands: str, pm_mean: str, interval: float, late: int,
                  once: bool, anomalies_every: float, fleet_every: float) -> None:
    """Rollups, parking occupancy, footfall and the air-quality index, written back to InfluxDB.

    Without a subcommand, runs the processing service: every --interval seconds it brings the outputs of its
    sites up to date, every --anomalies-every seconds it looks for anomalies and keeps their events
    current, and every --fleet-every seconds it writes the fleet summaries the dashboards read. The
    subcommands occupancy, eaqi and footfall run the same computations on a CSV file and print JSON; detect
    runs the anomaly detectors on one.
    """
    if ctx.invoked_subcommand is not None:
        return
    from processing.service import ProcessingService
    from stadtpuls.influx import InfluxError
    from stadtpuls.settings import get_settings

    service = ProcessingService(get_settings(), _options(bands, pm_mean), shard=shard, late=late,
                                anomaly_every=anomalies_every, fleet_every=fleet_every)

    async def run() -> None:
        if once:
            report = await service.run_pass()
            click.echo(f"{report.sites} sites, {report.points} points")
            for error in report.errors:
                click.echo(f"error: {error}", err=True)
            if anomalies_every:
                found = await service.detect_anomalies()
                click.echo(f"anomalies: {found.detections} detections, {found.stored.inserted} new events")
                for error in found.errors:
                    click.echo(f"error: {error}", err=True)
            if fleet_every:
                fleet = await service.summarise_fleet()
                click.echo(f"fleet: {fleet.open_alarms} open alarms, {fleet.open_anomalies} open anomalies, "
                           f"{fleet.quarantined} quarantined, {fleet.points} points")
            return
        service.install_signal_handlers()
        await service.run(interval=interval)

    try:
        asyncio.run(run())
    except InfluxError as exc:
        raise click.ClickException(str(exc)) from exc


@process_group.command("backfill")
@click.option("--start", required=True, help="First day (ISO-8601 date or time, UTC without a zone).")
@click.option("--end", required=True, help="End (exclusive), ISO-8601.")
@SHARD
@BANDS
@PM_MEAN
def backfill_command(start: str, end: str, shard: Shard, bands: str, pm_mean: str) -> None:
    """Recompute the processed outputs of whole UTC days from --start to --end, with a progress bar."""
    from processing.service import ProcessingService, day_floor, load_sites
    from processing.store import DAY
    from stadtpuls.influx import InfluxError
    from stadtpuls.settings import get_settings

    try:
        first, stop = parse_time(start), parse_time(end)
    except CsvError as exc:
        raise click.BadParameter(str(exc)) from exc
    if stop <= first:
        raise click.BadParameter("--end must be after --start")
    settings = get_settings()
    service = ProcessingService(settings, _options(bands, pm_mean, live=False), shard=shard)
    days = len(range(day_floor(first), stop, DAY))
    total = days * len(load_sites(settings, shard))
    began = time.monotonic()
    with click.progressbar(length=total, label="site-days", file=sys.stderr) as bar:
        try:
            report = asyncio.run(service.backfill(first, stop, progress=bar.update))
        except InfluxError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"{days} days, {report.sites} sites, {report.points} points in {time.monotonic() - began:.1f} s")


@process_group.command("occupancy")
@click.argument("csv_file", type=CSV_FILE)
@click.option("--every", default="1h", show_default=True, callback=_duration("--every"), help="Interval length.")
@click.option("--stale", default=None, callback=_duration("--stale"),
              help="Silence after which the bay is unknown (default: its state holds until the next row).")
def occupancy_command(csv_file: Path, every: int, stale: int | None) -> None:
    """Time-weighted occupancy of one bay from CSV rows timestamp,value (1 occupied, 0 free)."""
    _emit(lambda: occupancy_records(read_table(csv_file, ("value",)), every=every, stale=stale or 0))


@process_group.command("footfall")
@click.argument("csv_file", type=CSV_FILE)
@click.option("--every", default="1h", show_default=True, callback=_duration("--every"), help="Interval length.")
@click.option("--max-gap", default="2h", show_default=True, callback=_duration("--max-gap"),
              help="Readings further apart leave the intervals they span without a count (null).")
@click.option("--bits", type=click.IntRange(1, 63), default=None,
              help="Width of the counter, e.g. 16, so that a wrap past its top is not taken for a reset.")
def footfall_command(csv_file: Path, every: int, max_gap: int, bits: int | None) -> None:
    """People per interval from CSV rows timestamp,total of one cumulative counter."""
    _emit(lambda: footfall_records(read_table(csv_file, ("total",)), every=every, max_gap=max_gap,
                                   width_bits=bits))


@process_group.command("eaqi")
@click.argument("csv_file", type=CSV_FILE)
@click.option("--bands", type=click.Choice(band_names()), default="2024", show_default=True,
              help="EAQI band table: the revised 2024 bands or the 2017-2023 ones.")
@click.option("--pm-mean", type=click.Choice([m.value for m in PmMean]), default="1h", show_default=True,
              help="PM averaging: hourly means or trailing 24-hour running means.")
@click.option("--interval", default=None, callback=_duration("--interval"),
              help="Expected time between readings (default: the file's median spacing).")
def eaqi_command(csv_file: Path, bands: str, pm_mean: str, interval: int | None) -> None:
    """European Air Quality Index per hour from CSV rows timestamp,pm2_5,pm10,no2,o3 (µg/m³)."""
    columns = ("pm2_5", "pm10", "no2", "o3")
    _emit(lambda: eaqi_records(read_table(csv_file, columns, header_required=True), bands=bands,
                               pm_mean=PmMean(pm_mean), interval=None if interval is None else interval / 1e9))


