"""``stadtpuls ingest`` and ``stadtpuls quarantine``."""

from __future__ import annotations

import asyncio
import json

import click

from devices.catalog import check_catalog
from ingest.quarantine import QuarantineStore
from ingest.replay import replay
from ingest.run import run_ingest
from ingest.service import IngestOptions, default_client_id
from ingest.workers import supervise
from stadtpuls.errors import UnavailableError
from stadtpuls.influx import InfluxError
from stadtpuls.settings import get_settings


@click.command("ingest")
@click.option("--client-id", default=None, help="MQTT client id (stable, for a persistent session).")
@click.option("--qos", type=click.IntRange(0, 1), default=None, help="Subscription QoS (default STADTPULS_MQTT_QOS=1).")
@click.option("--share-group", default=None, help="Join a shared subscription group ($share/GROUP/...).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes in one shared-subscription group (client ids CLIENT_ID-w0, -w1, ...).")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus /metrics here (worker N on port + N); 0 = off (default STADTPULS_METRICS_PORT).")
@click.option("--spool-max-mb", type=click.IntRange(1), default=None,
              help="Cap of the on-disk spool per process, in MiB (default STADTPULS_SPOOL_MAX_MB=2048).")
def ingest_command(
    client_id: str | None, qos: int | None, share_group: str | None, workers: int, metrics_port: int | None,
    spool_max_mb: int | None,
) -> None:
    """Receive uplinks from MQTT, decode them and write them to InfluxDB.

    With --workers N a crashing worker is restarted after 1 s, 2 s, 4 s ... (at most 60 s); after five
    crashes of one worker within five minutes the command stops every worker and exits with an error.
    """
    check_catalog()
    settings = get_settings()
    if metrics_port is None:
        metrics_port = settings.ingest.metrics_port
    if spool_max_mb is None:
        spool_max_mb = settings.ingest.spool_max_mb
    group = settings.mqtt.share_group if share_group is None else share_group
    if workers > 1 and not group:
        group = "stadtpuls-ingest"
    options = IngestOptions(
        client_id=client_id or default_client_id(settings.mqtt.client_id),
        qos=settings.mqtt.qos if qos is None else qos,
        share_group=group,
        spool_max_bytes=spool_max_mb * 2**20,
    )
    if workers == 1:
        run_ingest(settings, options, metrics_port)
        return
    code = supervise(settings, options, workers, metrics_port)
    if code:
        raise SystemExit(code)


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
        raise click.BadParameter(f"no quarantined message with id {message_id}", param_hint="MESSAGE_ID")
    try:
        payload: object = json.loads(row.payload)
    except ValueError:
        payload = row.payload.hex()
    doc = {"id": row.id, "received_at": row.received_at.isoformat(), "stage": row.stage, "reason": row.reason,
           "topic": row.topic, "dev_eui": row.dev_eui, "payload": payload}
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False))


@quarantine_group.command("replay")
@click.option("--id", "ids", type=int, multiple=True, help="Replay this message (repeatable).")
@click.option("--stage", default=None, help="Replay every pending message of this stage.")
@click.option("--all", "replay_all", is_flag=True, help="Replay every pending message.")
@click.option("--limit", default=100_000, show_default=True, type=click.IntRange(1))
def quarantine_replay(ids: tuple[int, ...], stage: str | None, replay_all: bool, limit: int) -> None:
    """Run quarantined messages through ingest again after a fix; failures stay with the new reason."""
    if not (ids or stage or replay_all):
        raise click.UsageError("say what to replay: --id N, --stage STAGE or --all")
    settings = get_settings()
    store = QuarantineStore(settings.registry_url)
    rows = store.select(ids=list(ids) or None, stage=stage, limit=limit)
    if not rows:
        click.echo("nothing to replay")
        return
    try:
        report = asyncio.run(replay(settings, rows, store=store))
    except InfluxError as exc:
        raise UnavailableError(f"replay wrote nothing: {exc}") from exc
    click.echo(f"replayed {len(report.replayed)} of {len(rows)} messages ({report.points} points written)")
    for message_id, reason in report.failed.items():
        click.echo(f"{message_id:>7}  still quarantined: {reason}")
