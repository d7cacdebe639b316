"""``stadtpuls devices``: register and list installed sensors."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from devices.catalog import check_catalog
from devices.registry import DeviceRegistry, RegistryError
from stadtpuls.settings import get_settings


def _registry() -> DeviceRegistry:
    return DeviceRegistry(get_settings().registry_url)


@click.group("devices")
def devices_group() -> None:
    """Register and list installed sensors (the device registry)."""
    check_catalog()


@devices_group.command("add")
@click.option("--dev-eui", required=True, help="DevEUI, 16 hex digits.")
@click.option(
    "--model",
    "model",
    required=True,
    help="Device model id, e.g. cayenne-lpp (see 'stadtpuls devices models').",
)
@click.option("--name", required=True, help="A name people recognise, e.g. 'Marktplatz Nord'.")
@click.option("--site", required=True, help="Where it is installed, e.g. 'P1 Rathaus' or 'Fussgaengerzone'.")
@click.option(
    "--municipality", default=None, help="Owning municipality (default: STADTPULS_DEFAULT_MUNICIPALITY)."
)
@click.option("--lat", type=float, default=None, help="Latitude (WGS84).")
@click.option("--lon", type=float, default=None, help="Longitude (WGS84).")
def add(
    dev_eui: str,
    model: str,
    name: str,
    site: str,
    municipality: str | None,
    lat: float | None,
    lon: float | None,
) -> None:
    """Register a device (or update it if the DevEUI is known)."""
    owner = municipality or get_settings().default_municipality
    try:
        device, created = _registry().upsert(
            dev_eui, model=model, name=name, site=site, municipality=owner, lat=lat, lon=lon
        )
    except RegistryError as exc:
        raise click.UsageError(str(exc)) from exc
    verb = "registered" if created else "updated"
    click.echo(
        f"{verb} {device.dev_eui} ({device.model}) '{device.name}' at {device.site}, {device.municipality}"
    )


@devices_group.command("list")
@click.option("--municipality", default=None, help="Only this municipality.")
@click.option("--site", default=None, help="Only this site.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_devices(municipality: str | None, site: str | None, as_json: bool) -> None:
    """List registered devices."""
    devices = _registry().list(municipality=municipality, site=site)
    if as_json:
        click.echo(json.dumps([asdict(d) for d in devices], indent=2, ensure_ascii=False))
        return
    if not devices:
        click.echo("no devices registered")
        return
    header = f"{'DEV_EUI':16}  {'MODEL':28}  {'MUNICIPALITY':16}  {'SITE':24}  NAME"
    click.echo(header)
    for d in devices:
        click.echo(f"{d.dev_eui:16}  {d.model:28}  {d.municipality[:16]:16}  {d.site[:24]:24}  {d.name}")


@devices_group.command("models")
def models() -> None:
    """List the device models of the catalog."""
    for entry in check_catalog().values():
        click.echo(f"{entry.model:28}  {entry.device_class.value:12}  {entry.vendor} {entry.name}")
