"""``stadtpuls api`` (serve the query API) and ``stadtpuls keys`` (its API keys)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from api.keys import KeyRecord, KeyStore, Role
from stadtpuls.errors import DataError
from stadtpuls.settings import get_settings


@click.command("api")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="Log every request (a proxy in front may log them instead; logging costs time per request).")
def api_command(host: str, port: int, access_log: bool) -> None:
    """Serve the query API (FastAPI) with uvicorn (uvloop and httptools where installed)."""
    import uvicorn

    from api.app import create_app
    from devices.catalog import check_catalog

    check_catalog()

    uvicorn.run(create_app(), host=host, port=port, log_level="info", access_log=access_log)


def parse_expiry(text: str, *, now: datetime | None = None) -> datetime:
    """``30d``, ``12h`` or ``2w`` from now, or an RFC 3339 time with zone.

    Raises:
        DataError: neither.
    """
    now = now or datetime.now(UTC)
    units = {"h": "hours", "d": "days", "w": "weeks"}
    if text[:-1].isdigit() and text[-1:] in units and 0 < int(text[:-1]) <= 100_000:
        return now + timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise DataError(f"--expires must be like 30d, 12h, 2w or an RFC 3339 time, got {text!r}") from exc
    if moment.tzinfo is None:
        raise DataError(f"--expires {text!r} needs a time zone, e.g. 2027-01-01T00:00:00+01:00")
    return moment


def _store() -> KeyStore:
    return KeyStore(get_settings().registry_url)


def _line(record: KeyRecord) -> str:
    def when(moment: datetime | None) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ") if moment else "-"

    state = "revoked" if record.revoked_at else "expired" if not record.usable(datetime.now(UTC)) else "active"
    return (
        f"{record.id:>4}  {record.prefix}…  {record.role.value:<10}  {record.municipality or '*':<16}  "
        f"{state:<7}  expires {when(record.expires_at):<17}  last used {when(record.last_used_at):<17}  {record.name}"
    )


@click.group("keys")
def keys_group() -> None:
    """API keys: create, list, revoke. Only a hash of each key is stored."""


@keys_group.command("create")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="What the key may do.")
@click.option("--municipality", default=None, help="The municipality it sees (reader and technician keys).")
@click.option("--name", default="", help="Who holds it, or what it is for.")
@click.option("--expires", default=None, help="Expiry: 30d, 12h, 2w from now, or an RFC 3339 time.")
def create_key(role: str, municipality: str | None, name: str, expires: str | None) -> None:
    """Create a key; it is shown once, alone on the last line."""
    expires_at = parse_expiry(expires) if expires else None
    record, secret = _store().create(role, municipality=municipality, name=name, expires_at=expires_at)
    click.echo(f"created API key {record.id} ({record.role.value}, {record.municipality or 'every municipality'})")
    click.echo("store it now: it is not shown again")
    click.echo(secret)


@keys_group.command("list")
def list_keys() -> None:
    """Every key (without its secret), revoked ones included."""
    for record in _store().list():
        click.echo(_line(record))


@keys_group.command("revoke")
@click.argument("key_id", type=click.IntRange(1))
def revoke_key(key_id: int) -> None:
    """Revoke a key for good. Running API servers refuse it within their key cache time (10 s by default)."""
    record = _store().revoke(key_id)
    click.echo(_line(record))
