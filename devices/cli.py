"""``stadtpuls devices``: register, change, retire, show, list and import installed sensors; ``stadtpuls db``."""

from __future__ import annotations

import getpass
import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import click

from devices.catalog import check_catalog
from devices.importer import MAX_IMPORT_BYTES, ImportResult, run_import
from devices.records import DeviceInfo, SiteType, Status
from devices.registry import DeviceRegistry, NotFoundError
from stadtpuls.errors import DataError, UnavailableError
from stadtpuls.settings import get_settings


def _registry() -> DeviceRegistry:
    return DeviceRegistry(get_settings().registry_url)


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


BY = click.option("--by", default=None, help="Who does this (kept in the history; default: your user name).")
DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.group("devices")
def devices_group() -> None:
    """Register, change, retire and list installed sensors (the device registry)."""
    check_catalog()


@devices_group.command("add")
@click.option("--dev-eui", required=True, help="DevEUI, 16 hex digits.")
@click.option("--model", required=True, help="Device model id, e.g. cayenne-lpp (see 'stadtpuls devices models').")
@click.option("--name", required=True, help="A name people recognise, e.g. 'Marktplatz Nord'.")
@click.option("--site", required=True, help="Where it is installed, e.g. 'P1 Rathaus' (created if new).")
@click.option("--municipality", default=None, help="Owning municipality (default: STADTPULS_DEFAULT_MUNICIPALITY).")
@click.option("--lat", type=float, default=None, help="Latitude (WGS84).")
@click.option("--lon", type=float, default=None, help="Longitude (WGS84).")
@click.option("--installed-on", type=DATE, default=None, help="Installation date, YYYY-MM-DD (default: today).")
@click.option("--notes", default=None, help="Free text for the next technician.")
@click.option(
    "--status", type=click.Choice([s.value for s in Status]), default=None,
    help="Lifecycle status of a new device (default: installed).",
)
@BY
def add(
    dev_eui: str, model: str, name: str, site: str, municipality: str | None, lat: float | None,
    lon: float | None, installed_on: Any, notes: str | None, status: str | None, by: str | None,
) -> None:
    """Register a device (or update it if the DevEUI is known)."""
    owner = municipality or get_settings().default_municipality
    device, created = _registry().upsert(
        dev_eui, model=model, name=name, site=site, municipality=owner, lat=lat, lon=lon,
        installed_on=_day(installed_on), notes=notes, status=status, by=by or _who(),
    )
    verb = "registered" if created else "updated"
    click.echo(
        f"{verb} {device.dev_eui} ({device.model}) '{device.name}' at {device.site}, {device.municipality} "
        f"[{device.status}]"
    )


@devices_group.command("update")
@click.argument("dev_eui")
@click.option("--name", default=None)
@click.option("--model", default=None)
@click.option("--site", default=None, help="Move to this site of the same municipality (created if new).")
@click.option("--lat", type=float, default=None)
@click.option("--lon", type=float, default=None)
@click.option("--installed-on", type=DATE, default=None, help="YYYY-MM-DD.")
@click.option("--notes", default=None)
@click.option("--status", type=click.Choice([s.value for s in Status]), default=None, help="Lifecycle step.")
@click.option("--note", default="", help="Why the status changes (kept in the history).")
@BY
def update(
    dev_eui: str, name: str | None, model: str | None, site: str | None, lat: float | None, lon: float | None,
    installed_on: Any, notes: str | None, status: str | None, note: str, by: str | None,
) -> None:
    """Change a registered device's fields and/or move it along its lifecycle."""
    registry, who = _registry(), by or _who()
    fields = (name, model, site, lat, lon, installed_on, notes)
    if all(v is None for v in fields) and status is None:
        raise click.UsageError("nothing to change: give at least one option")
    device = _must_get(registry, dev_eui)
    if any(v is not None for v in fields):
        device = registry.update(
            dev_eui, by=who, name=name, model=model, site=site, lat=lat, lon=lon,
            installed_on=_day(installed_on), notes=notes,
        )
    if status is not None:
        device = registry.set_status(dev_eui, status, by=who, note=note)
    click.echo(f"updated {device.dev_eui} '{device.name}' at {device.site}, {device.municipality} [{device.status}]")


@devices_group.command("retire")
@click.argument("dev_eui")
@click.option("--note", default="", help="Why (kept in the history).")
@BY
def retire(dev_eui: str, note: str, by: str | None) -> None:
    """Take a device out of service for good; its history and data stay."""
    device = _registry().retire(dev_eui, by=by or _who(), note=note)
    click.echo(f"retired {device.dev_eui} '{device.name}' ({device.site}, {device.municipality})")


@devices_group.command("show")
@click.argument("dev_eui")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(dev_eui: str, as_json: bool) -> None:
    """A device with its lifecycle history."""
    registry = _registry()
    device = _must_get(registry, dev_eui)
    history = registry.history(dev_eui)
    if as_json:
        record = _jsonable(asdict(device)) | {"history": [_jsonable(asdict(h)) for h in history]}
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    for label, value in _fields(device):
        click.echo(f"{label:14} {value}")
    click.echo("history:")
    for h in history:
        step = f"{h.from_status} → {h.to_status}" if h.from_status else h.to_status
        note = f"  ({h.note})" if h.note else ""
        click.echo(f"  {h.changed_at:%Y-%m-%d %H:%M} UTC  {step:24} by {h.changed_by}{note}")


@devices_group.command("list")
@click.option("--municipality", default=None, help="Only this municipality.")
@click.option("--site", default=None, help="Only this site.")
@click.option("--status", type=click.Choice([s.value for s in Status]), default=None, help="Only this status.")
@click.option("--search", default=None, help="Part of a DevEUI, name or site.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_devices(
    municipality: str | None, site: str | None, status: str | None, search: str | None, as_json: bool
) -> None:
    """List registered devices."""
    devices = _registry().list(municipality=municipality, site=site, status=status, search=search)
    if as_json:
        click.echo(json.dumps([_jsonable(asdict(d)) for d in devices], indent=2, ensure_ascii=False))
        return
    if not devices:
        click.echo("no devices registered")
        return
    click.echo(f"{'DEV_EUI':16}  {'MODEL':26}  {'STATUS':11}  {'MUNICIPALITY':16}  {'SITE':24}  NAME")
    for d in devices:
        click.echo(
            f"{d.dev_eui:16}  {d.model:26}  {d.status:11}  {d.municipality[:16]:16}  {d.site[:24]:24}  {d.name}"
        )


@devices_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--municipality", default=None, help="For rows without a municipality column (default: setting).")
@click.option("--dry-run", is_flag=True, help="Check the file and show what would change; write nothing.")
@BY
def import_devices(file: Path, municipality: str | None, dry_run: bool, by: str | None) -> None:
    """Import devices from a CSV file (dev_eui, name, model, site, lat, lon, installed_on, notes, status).

    The whole file is checked first; every bad row is listed with its line number, and nothing is written
    unless every row is valid. Importing the same file again changes nothing.
    """
    size = file.stat().st_size
    if size > MAX_IMPORT_BYTES:
        raise DataError(
            f"{file}: {size / 1e6:.1f} MB is too large; an import takes at most "
            f"{MAX_IMPORT_BYTES // (1024 * 1024)} MB: split the file"
        )
    result = run_import(
        _registry(), file.read_bytes(), municipality=municipality or get_settings().default_municipality,
        by=by or _who(), dry_run=dry_run, source=str(file),
    )
    _report(result, dry_run=dry_run)


@devices_group.command("site")
@click.argument("name")
@click.option("--municipality", default=None, help="Owning municipality (default: setting).")
@click.option("--type", "site_type", type=click.Choice([t.value for t in SiteType]), default="other")
@click.option("--lat", type=float, default=None)
@click.option("--lon", type=float, default=None)
@click.option("--capacity", type=int, default=None, help="Parking bays (parking lots only).")
def site_command(
    name: str, municipality: str | None, site_type: str, lat: float | None, lon: float | None, capacity: int | None
) -> None:
    """Create a site or change its type, location and capacity."""
    site, created = _registry().save_site(
        municipality or get_settings().default_municipality, name, type=site_type, lat=lat, lon=lon,
        capacity=capacity,
    )
    bays = f", {site.capacity} bays" if site.capacity else ""
    click.echo(f"{'created' if created else 'updated'} site '{site.name}' ({site.type}{bays}), {site.municipality}")


@devices_group.command("sites")
@click.option("--municipality", default=None, help="Only this municipality.")
def sites_command(municipality: str | None) -> None:
    """List sites."""
    for s in _registry().sites(municipality):
        where = f"{s.lat:.5f},{s.lon:.5f}" if s.lat is not None and s.lon is not None else "-"
        bays = str(s.capacity) if s.capacity else "-"
        click.echo(f"{s.municipality[:16]:16}  {s.name[:28]:28}  {s.type:17}  {bays:>5}  {where}")


@devices_group.command("models")
def models() -> None:
    """List the device models of the catalog."""
    for entry in check_catalog().values():
        click.echo(f"{entry.model:28}  {entry.device_class.value:12}  {entry.vendor} {entry.name}")


@click.group("db")
def db_group() -> None:
    """The relational store (device registry, alarms, quarantine)."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Bring the database (STADTPULS_DATABASE_URL) to the newest schema revision."""
    from sqlalchemy import inspect

    from stadtpuls.db import make_engine, upgrade

    url = get_settings().registry_url
    engine = make_engine(url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
            revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    finally:
        engine.dispose()
    click.echo(f"{engine.url.render_as_string(hide_password=True)}: revision {revision}, {len(tables)} tables")


def _report(result: ImportResult, *, dry_run: bool) -> None:
    for change in result.changes:
        if change.action == "update":
            click.echo(f"  update {change.dev_eui}: {', '.join(change.fields)}")
    counts = f"{result.count('create')} new, {result.count('update')} changed, {result.count('unchanged')} unchanged"
    click.echo(f"{result.rows} rows: {counts}")
    if result.new_sites:
        click.echo(f"new sites: {', '.join(result.new_sites)}")
    if dry_run:
        click.echo("dry run: nothing written")
    elif not result.written:
        click.echo("nothing to change")


def _must_get(registry: DeviceRegistry, dev_eui: str) -> DeviceInfo:
    device = registry.get(dev_eui)
    if device is None:
        raise NotFoundError(f"device {dev_eui} is not registered")
    return device


def _day(value: Any) -> date | None:
    return value.date() if value is not None else None


def _fields(device: DeviceInfo) -> list[tuple[str, object]]:
    where = f"{device.lat}, {device.lon}" if device.lat is not None else "-"
    return [
        ("DevEUI", device.dev_eui), ("name", device.name), ("model", f"{device.model} ({device.device_class})"),
        ("municipality", device.municipality), ("site", device.site), ("location", where),
        ("status", f"{device.status} since {device.status_changed_at:%Y-%m-%d %H:%M} UTC by "
                   f"{device.status_changed_by}" if device.status_changed_at else device.status),
        ("installed on", device.installed_on or "-"), ("notes", device.notes or "-"),
    ]


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in record.items()}


def _influx_call(action: Any) -> Any:
    """Run ``action(client)`` against the configured InfluxDB from this synchronous command."""
    from stadtpuls.influx import run_blocking

    influx = get_settings().influx
    return run_blocking(action, influx.url, influx.db, username=influx.username, password=influx.password,
                        timeout=30.0)


@devices_group.command("health")
@click.argument("dev_eui", required=False)
@click.option("--municipality", default=None, help="All devices of this municipality.")
def health_command(dev_eui: str | None, municipality: str | None) -> None:
    """Last uplink, battery, signal, packet loss and restarts of one device or of all (from InfluxDB)."""
    from devices.health import read_health

    registry = _registry()
    devices = [_must_get(registry, dev_eui)] if dev_eui else registry.list(municipality=municipality)
    devices = [d for d in devices if d.status != Status.RETIRED]
    found = _influx_call(lambda client: read_health(client, devices))
    click.echo(f"{'DEV_EUI':16}  {'STATUS':11}  {'LAST UPLINK':16}  {'BATTERY':8}  {'RSSI':>5}  {'SNR':>5}  GW  "
               f"{'LOSS 24H':>8}  RESTARTS  NAME")
    for d in devices:
        h = found[d.dev_eui]
        seen = f"{h.last_uplink:%Y-%m-%d %H:%M}" if h.last_uplink else "never"
        battery = f"{h.battery:.2f} {h.battery_unit}" if h.battery is not None else "-"
        loss = f"{h.loss_24h:.1%}" if h.loss_24h is not None else "-"
        click.echo(
            f"{d.dev_eui:16}  {d.status:11}  {seen:16}  {battery:8}  {_num(h.rssi):>5}  {_num(h.snr):>5}  "
            f"{h.gateways if h.gateways is not None else '-':>2}  {loss:>8}  {h.restarts_24h:>8}  {d.name}"
        )


def _num(value: float | None) -> str:
    return f"{value:.0f}" if value is not None else "-"


@click.group("alarms", invoke_without_command=True)
@click.option("--municipality", default=None, help="Only this municipality.")
@click.option("--all", "include_cleared", is_flag=True, help="Cleared alarms too.")
@click.pass_context
def alarms_group(ctx: click.Context, municipality: str | None, include_cleared: bool) -> None:
    """Open alarms (offline, never seen, low battery, weak signal, restarts, quarantine bursts).

    'stadtpuls alarms check' raises and clears them; run it periodically ('--watch 60').
    """
    if ctx.invoked_subcommand is not None:
        return
    from devices.alarms import AlarmStore

    alarms = AlarmStore(get_settings().registry_url).list(municipality=municipality, include_cleared=include_cleared)
    if not alarms:
        click.echo("no open alarms" if not include_cleared else "no alarms")
        return
    for a in alarms:
        state = f"cleared {a.cleared_at:%Y-%m-%d %H:%M}" if a.cleared_at else "open"
        click.echo(f"{a.raised_at:%Y-%m-%d %H:%M}  {a.severity:8}  {a.kind:16}  {a.dev_eui}  {a.municipality[:16]:16}  "
                   f"{a.site[:20]:20}  {a.device_name}: {a.message} [{state}]")


@alarms_group.command("check")
@click.option("--municipality", default=None, help="Only this municipality.")
@click.option("--watch", type=click.IntRange(5, 86400), default=None, metavar="SECONDS",
              help="Check again every SECONDS until stopped.")
@click.option("--offline-factor", type=click.FloatRange(1.0, 100.0), default=3.0, show_default=True,
              help="Offline after this many expected intervals without an uplink.")
def alarms_check(municipality: str | None, watch: int | None, offline_factor: float) -> None:
    """Read device health from InfluxDB, mark newly heard devices active, raise and clear alarms."""
    import time

    from devices.alarms import AlarmRules, AlarmStore, check

    settings = get_settings()
    registry, store = _registry(), AlarmStore(settings.registry_url)
    rules = AlarmRules(offline_factor=offline_factor)
    while True:
        try:
            result = _influx_call(lambda client: check(registry, store, client, municipality=municipality, rules=rules))
        except UnavailableError as exc:
            if watch is None:
                raise
            click.echo(f"check skipped, alarms unchanged: {exc}", err=True)  # the next round tries again
            time.sleep(watch)
            continue
        for eui in result.activated:
            click.echo(f"active: {eui} sent its first uplink")
        for finding in result.sync.raised:
            click.echo(f"raised: {finding.kind.value} {finding.dev_eui} ({finding.municipality}): {finding.message}")
        click.echo(f"{result.judged} devices checked: {len(result.sync.raised)} raised, {result.sync.cleared} "
                   f"cleared, {result.sync.still_open} still open")
        if watch is None:
            return
        time.sleep(watch)
