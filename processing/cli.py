"""``stadtpuls process``: the processing service, its backfill, and the kernels on CSV files."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from processing.airquality import PmMean, band_names
from processing.csvio import (
    CsvError,
    eaqi_records,
    footfall_records,
    iter_json_lines,
    occupancy_records,
    parse_duration,
    read_table,
)
from processing.timeseries import SeriesError

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


@click.group("process", invoke_without_command=True)
@click.pass_context
def process_group(ctx: click.Context) -> None:
    """Rollups, parking occupancy, footfall and the air-quality index, written back to InfluxDB.

    Without a subcommand, runs the processing service. The subcommands occupancy, eaqi and footfall run the
    same computations on a CSV file and print JSON.
    """
    if ctx.invoked_subcommand is None:
        from processing.service import service_command

        ctx.invoke(service_command)


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
