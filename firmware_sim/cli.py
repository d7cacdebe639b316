"""``stadtpuls simulate``: the simulated town, live to MQTT or backfilled into InfluxDB."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, datetime
from pathlib import Path

import click

from devices.catalog import check_catalog
from firmware_sim.faults import FaultSpecError
from firmware_sim.radio import FORMATS
from firmware_sim.town import TownError
from stadtpuls.settings import get_settings

_FAULTS = click.Path(exists=True, dir_okay=False, path_type=Path)
_TRUTH = click.Path(dir_okay=False, path_type=Path)


@click.group("simulate", invoke_without_command=True)
@click.option("--town", default="default", show_default=True, help="Town name or YAML file.")
@click.option("--speed", type=float, default=60.0, show_default=True, help="Simulated seconds per real second.")
@click.option("--faults", type=_FAULTS, default=None, help="Fault spec (YAML); writes a ground-truth file.")
@click.option("--ground-truth", "truth", type=_TRUTH, default=None,
              help="Where the ground truth goes (default: next to the spec, .truth.json).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="mixed", show_default=True,
              help="Network-server envelopes.")
@click.option("--duration", type=float, default=None, help="Stop after this many real seconds.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.option("--register/--no-register", default=True, show_default=True,
              help="Register the town's devices in the registry first.")
@click.option("--qos", type=click.IntRange(0, 1), default=0, show_default=True, help="MQTT QoS.")
@click.option("--start", type=click.DateTime(), default=None, help="Simulated start, town local time (default: now).")
@click.pass_context
def simulate_group(ctx: click.Context, town: str, speed: float, faults: Path | None, truth: Path | None, fmt: str,
                   duration: float | None, seed: int, register: bool, qos: int, start: datetime | None) -> None:
    """Publish the simulated town to MQTT (live mode), or see 'backfill'."""
    check_catalog()
    if ctx.invoked_subcommand is not None:
        return
    from firmware_sim.live import run_live
    from firmware_sim.mqtt import PublishError

    if speed <= 0:
        raise click.BadParameter("must be positive", param_hint="--speed")
    settings = get_settings()
    click.echo(f"simulating town {town!r} at ×{speed:g} to {settings.mqtt.url} (Ctrl-C stops)", err=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            result = asyncio.run(run_live(
                settings, town=town, speed=speed, duration=duration, fmt=fmt, seed=seed, faults=faults,
                ground_truth_path=truth, register=register, qos=qos,
                start=start,
            ))
            click.echo(
                f"published {result.published:,} uplinks in {result.wall_seconds:.1f} s ({result.rate:,.0f}/s), "
                f"{result.radio.lost:,} lost on the air, {result.radio.duplicates:,} duplicates; "
                f"worst lag behind schedule {result.max_lag:.3f} s", err=True)
    except (TownError, FaultSpecError, PublishError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


@simulate_group.command("backfill")
@click.option("--days", type=click.IntRange(1, 3660), default=365, show_default=True, help="Days to write.")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="First local day (default: DAYS days before today).")
@click.option("--town", default=None, help="Town name or YAML file (default: the group's --town).")
@click.option("--faults", type=_FAULTS, default=None, help="Fault spec (YAML).")
@click.option("--ground-truth", "truth", type=_TRUTH, default=None, help="Where the ground truth goes.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="Network-server envelopes.")
@click.option("--seed", type=int, default=None, help="Random seed.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Worker processes (default: CPUs).")
@click.pass_context
def backfill_command(ctx: click.Context, days: int, start: datetime | None, town: str | None, faults: Path | None,
                     truth: Path | None, fmt: str | None, seed: int | None, workers: int | None) -> None:
    """Write a period of the town through the ingest pipeline into InfluxDB, as fast as possible."""
    from firmware_sim.backfill import BackfillError, ProgressBar, run_backfill

    parent = ctx.parent.params if ctx.parent else {}
    settings = get_settings()
    first: date | None = start.date() if start else None
    bar = ProgressBar("backfill")
    try:
        result = run_backfill(
            settings, town=town or parent.get("town", "default"), days=days, start=first,
            fmt=fmt or parent.get("fmt", "mixed"), seed=seed if seed is not None else parent.get("seed", 1),
            faults=faults or parent.get("faults"), ground_truth_path=truth or parent.get("truth"),
            workers=workers, on_progress=bar,
        )
    except (TownError, FaultSpecError, BackfillError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        bar.close()
    rejected = ", ".join(f"{n:,} {stage}" for stage, n in sorted(result.rejected.items())) or "none"
    rate = result.uplinks / result.wall_seconds if result.wall_seconds else 0.0
    click.echo(
        f"backfilled {days} days: {result.uplinks:,} uplinks, {result.lines:,} lines into "
        f"{settings.influx.url} db {settings.influx.db!r} in {result.wall_seconds:.0f} s ({rate:,.0f} uplinks/s); "
        f"rejected: {rejected}", err=True)
