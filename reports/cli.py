"""``stadtpuls report``: printed reports made from the processed data."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from reports.footfall.schedule import Request, every_week, make_report
from reports.footfall.text import LANGS
from reports.footfall.weeks import WeekError, parse_week
from stadtpuls.errors import ConfigError, DataError
from stadtpuls.settings import Settings, get_settings


@click.group("report")
def report_group() -> None:
    """Reports for the town: PDF or HTML documents made from the processed data."""


@report_group.command("footfall")
@click.option("--week", help="ISO week such as 2026-W47 (the week of a single report).")
@click.option("--site", "sites", multiple=True, help="Only this site (repeat for more); default: every site.")
@click.option("--municipality", help="The municipality; default: STADTPULS_DEFAULT_MUNICIPALITY.")
@click.option("--lang", type=click.Choice(LANGS), default="de", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["pdf", "html"]), help="Default: from --out's suffix, else pdf.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File of a single report.")
@click.option("--anomalies", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON list of anomaly events to name instead of the stored ones (as `process detect` prints them).")
@click.option("--every-week", is_flag=True, help="Run on: write each week's report to --to once the week is over.")
@click.option("--to", "directory", type=click.Path(file_okay=False, path_type=Path), help="Folder of --every-week.")
def footfall_command(week: str | None, sites: tuple[str, ...], municipality: str | None, lang: str,
                     fmt: str | None, out: Path | None, anomalies: Path | None, every_week: bool,
                     directory: Path | None) -> None:
    """The weekly footfall report: days, peak hours, hour × weekday, sites, directions, completeness.

    Mailed by --every-week when STADTPULS_REPORT_SMTP_HOST and _SMTP_TO are set.
    """
    settings = get_settings()
    town = municipality or settings.default_municipality
    labels = _labels(settings, town)
    if every_week:
        if directory is None or week or out:
            raise click.UsageError("--every-week needs --to DIR and takes neither --week nor --out")
        asyncio.run(_every_week(settings, directory, town, sites, lang, fmt or "pdf", labels))
        return
    if week is None or out is None:
        raise click.UsageError("give --week and --out (or --every-week --to DIR)")
    fmt = fmt or ("html" if out.suffix.lower() in (".html", ".htm") else "pdf")
    try:
        request = Request(parse_week(week), town, sites, lang, fmt, anomalies)
    except WeekError as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from exc
    report, content = asyncio.run(make_report(settings, request, labels=labels))
    try:
        out.write_bytes(content)
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc}") from exc
    if report.expected_hours == 0:
        click.echo(f"warning: no footfall counts for {town} in {request.week}", err=True)
    click.echo(f"{out}: {request.week}, {round(report.total)} passers-by, {report.completeness:.1f} % counted")


async def _every_week(settings: Settings, directory: Path, town: str, sites: tuple[str, ...], lang: str, fmt: str,
                      labels: dict[str, str]) -> None:
    await every_week(settings, directory, municipality=town, sites=sites, lang=lang, fmt=fmt, labels=labels)


def _labels(settings: Settings, municipality: str) -> dict[str, str]:
    """dev_eui → device name from the registry, when it can be read; the report falls back to the EUI."""
    from devices.registry import DeviceRegistry

    try:
        return {d.dev_eui: d.name for d in DeviceRegistry(settings.registry_url).list(municipality=municipality)}
    except (DataError, OSError) as exc:
        click.echo(f"warning: device names not read ({exc}); counters are shown by DevEUI", err=True)
        return {}
