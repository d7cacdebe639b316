"""``stadtpuls ingest`` and ``stadtpuls quarantine``."""

from __future__ import annotations

import asyncio
import json

import click

from ingest.quarantine import QuarantineStore
from ingest.service import IngestError, IngestOptions, IngestService, default_client_id
from stadtpuls.settings import get_settings


@click.command("ingest")
@click.option("--client-id", default=None, help="MQTT client id (stable, for a persistent session).")
@click.option("--qos", type=click.IntRange(0, 1), default=None, help="Subscription QoS (default STADTPULS_MQTT_QOS=1).")
@click.option("--share-group", default=None, help="Join a shared subscription group ($share/GROUP/...).")
def ingest_command(client_id: str | None, qos: int | None, share_group: str | None) -> None:
    """Receive uplinks from MQTT, decode them and write them to InfluxDB."""
    settings = get_settings()
    options = IngestOptions(
        client_id=client_id or default_client_id(settings.mqtt_client_id),
        qos=settings.mqtt_qos if qos is None else qos,
        share_group=settings.mqtt_share_group if share_group is None else share_group,
    )

    async def run() -> None:
        service = IngestService(settings, options)
        service.install_signal_handlers()
        await service.run()

    try:
        asyncio.run(run())
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("quarantine")
def quarantine_group() -> None:
    """Inspect messages that ingest rejected."""


@quarantine_group.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--stage", default=None, help="Only this stage: envelope, device, codec, normalise, write.")
def quarantine_list(limit: int, stage: str | None) -> None:
    """The newest rejected messages with their reasons."""
    store = QuarantineStore(get_settings().registry_url)
    rows = store.list(limit=limit, stage=stage)
    if not rows:
        click.echo("quarantine is empty")
    for r in rows:
        click.echo(f"{r.id:>7}  {r.received_at:%Y-%m-%d %H:%M:%S}  {r.stage:9}  {r.dev_eui or '-':16}  {r.reason}")


@quarantine_group.command("show")
@click.argument("message_id", type=int)
def quarantine_show(message_id: int) -> None:
    """One rejected message in full: topic, reason and raw payload."""
    row = QuarantineStore(get_settings().registry_url).get(message_id)
    if row is None:
        raise click.ClickException(f"no quarantined message with id {message_id}")
    try:
        payload: object = json.loads(row.payload)
    except ValueError:
        payload = row.payload.hex()
    doc = {"id": row.id, "received_at": row.received_at.isoformat(), "stage": row.stage, "reason": row.reason,
           "topic": row.topic, "dev_eui": row.dev_eui, "payload": payload}
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
