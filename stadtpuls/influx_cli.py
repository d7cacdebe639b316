"""``stadtpuls influx``: the services' own InfluxDB accounts, made with the admin account of the settings."""

from __future__ import annotations

import asyncio
import os

import click

from stadtpuls.errors import ConfigError
from stadtpuls.influx import ACCOUNT_PRIVILEGES, InfluxClient
from stadtpuls.settings import load_settings


@click.group("influx")
def influx_group() -> None:
    """InfluxDB accounts for the services (run with the admin account in STADTPULS_INFLUX_*)."""


@influx_group.command("grant")
@click.argument("user")
@click.argument("privilege", type=click.Choice([p.lower() for p in ACCOUNT_PRIVILEGES], case_sensitive=False))
@click.option("--password-env", "password_env", required=True, metavar="VAR",
              help="The environment variable that holds the account's password (never on the command line).")
def grant_command(user: str, privilege: str, password_env: str) -> None:
    """Create or update account USER with PRIVILEGE (read, write or all) on STADTPULS_INFLUX_DB only.

    Safe to run at every start: the account gets the password and privilege given, and any other grant on the
    database is revoked. In the compose stack, ingest writes with its own account; the API and the alarms check
    read with theirs.
    """
    password = os.environ.get(password_env, "")
    if not password:
        raise ConfigError(f"{password_env} is empty or not set: it must hold the password of InfluxDB account {user!r}")
    settings = load_settings().influx

    async def run() -> str:
        async with InfluxClient.from_settings(settings) as client:
            return await client.ensure_account(user, password, privilege.upper())

    done = asyncio.run(run())
    click.echo(f"InfluxDB account {user!r} {done}: {privilege.upper()} on database {settings.db!r} only")
