"""``stadtpuls ingest`` and ``stadtpuls quarantine``."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from devices.catalog import check_catalog
from ingest.quarantine import QuarantineFilter, QuarantineStore
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


def _moment(text: str | None, option: str) -> datetime | None:
    """``--since``/``--until``: an ISO date or time (UTC unless it names a zone), or an age such as ``2h``."""
    if text is None:
        return None
    if _AGE.fullmatch(text.strip()):
        return datetime.now(UTC) - _age(text, option)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a date/time (2026-11-20, 2026-11-20T08:00) nor an age (90m, 12h, 7d)",
            param_hint=option,
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _age(text: str, option: str) -> timedelta:
    """``90m``, ``12h``, ``30d``, ``2w`` as a time span."""
    match = _AGE.fullmatch(text.strip())
    if match is None:
        raise click.BadParameter(f"{text!r} is not an age such as 90m, 12h, 30d or 2w", param_hint=option)
    return timedelta(seconds=float(match.group(1)) * _AGE_UNITS[match.group(2).lower()])


def _filter_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options that select quarantined rows, shared by ``list`` and ``purge``."""
    for option in reversed((
        click.option("--stage", default=None,
                     help="Only this stage: size, envelope, time, device, codec, normalise, write, internal."),
        click.option("--device", "dev_eui", default=None, help="Only this DevEUI."),
        click.option("--since", default=None, help="Seen at or after: a date/time (UTC) or an age (12h, 7d)."),
        click.option("--until", default=None, help="First seen at or before: a date/time (UTC) or an age."),
    )):
        command = option(command)
    return command


def _where(stage: str | None, dev_eui: str | None, since: str | None, until: str | None, **extra: Any) -> (
    QuarantineFilter
):
    return QuarantineFilter(stage=stage, dev_eui=dev_eui, since=_moment(since, "--since"),
                            until=_moment(until, "--until"), **extra)


@quarantine_group.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@_filter_options
def quarantine_list(limit: int, stage: str | None, dev_eui: str | None, since: str | None, until: str | None) -> None:
    """Rejected messages waiting for a replay, seen most recently first, with their reasons.

    A row stands for identical rejections (same device, stage, reason and payload): COUNT says how many.
    """
    store = QuarantineStore(get_settings().registry_url)
    rows = store.list(limit=limit, where=_where(stage, dev_eui, since, until))
    if not rows:
        click.echo("nothing in quarantine matches" if (stage or dev_eui or since or until) else "quarantine is empty")
        return
    click.echo(f"{'ID':>7}  {'LAST SEEN (UTC)':19}  {'COUNT':>6}  {'STAGE':9}  {'DEVICE':16}  REASON")
    for r in rows:
        click.echo(f"{r.id:>7}  {r.last_seen:%Y-%m-%d %H:%M:%S}  {r.count:>6}  {r.stage:9}  {r.dev_eui or '-':16}  "
                   f"{r.reason}")


@quarantine_group.command("purge")
@_filter_options
@click.option("--older-than", default=None, help="Only rows not seen for this long: 90m, 12h, 30d, 2w.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def quarantine_purge(
    stage: str | None, dev_eui: str | None, since: str | None, until: str | None, older_than: str | None, yes: bool
) -> None:
    """Delete quarantined rows (replayed ones too) selected by the filters; without filters, every row."""
    cutoff = datetime.now(UTC) - _age(older_than, "--older-than") if older_than else None
    where = _where(stage, dev_eui, since, until, older_than=cutoff)
    store = QuarantineStore(get_settings().registry_url)
    found = store.matching(where)
    if not found.rows:
        click.echo("nothing to purge")
        return
    what = f"{found.rows} rows ({found.messages} messages)"
    if not yes:
        click.confirm(f"delete {what} from quarantine?", abort=True)
    removed = store.purge(where)
    click.echo(f"purged {removed.rows} rows ({removed.messages} messages)")


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
    doc = {"id": row.id, "received_at": row.received_at.isoformat(), "last_seen": row.last_seen.isoformat(),
           "count": row.count, "stage": row.stage, "reason": row.reason, "topic": row.topic, "dev_eui": row.dev_eui,
           "payload": payload}
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
