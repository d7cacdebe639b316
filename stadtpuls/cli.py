"""The ``stadtpuls`` command: one subcommand per service, each loaded only when it is used."""

from __future__ import annotations

import importlib
import logging
import sys

import click

from stadtpuls import __version__
from stadtpuls.errors import ConfigError, StadtpulsError
from stadtpuls.logs import configure_logging
from stadtpuls.settings import load_log_settings

# name → "module:attribute" of a click command; tiny explicit registry, imported on first use
COMMANDS = {
    "ingest": "ingest.cli:ingest_command",
    "quarantine": "ingest.cli:quarantine_group",
    "api": "api.cli:api_command",
    "keys": "api.cli:keys_group",
    "devices": "devices.cli:devices_group",
    "db": "devices.cli:db_group",
    "alarms": "devices.cli:alarms_group",
    "codec": "devices.codec_cli:codec_group",
    "simulate": "firmware_sim.cli:simulate_group",
    "demo": "devtools.demo:demo_command",
    "process": "processing.cli:process_group",
    "dashboards": "dashboards.cli:dashboards_group",
    "report": "reports.cli:report_group",
    "influx": "stadtpuls.influx_cli:influx_group",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when called, so ``stadtpuls devices list`` starts fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The names of all subcommands, sorted."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the subcommand ``cmd_name``, None when there is none."""
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a Stadtpuls error becomes a message and its exit code."""
        try:
            return super().invoke(ctx)
        except StadtpulsError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="stadtpuls")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Stadtpuls: LoRaWAN sensor data for a town and its partner municipalities.

    Settings come from STADTPULS_* environment variables (see the README).
    """
    level = logging.WARNING - 10 * min(verbose, 2) if verbose else logging.INFO
    try:
        log_format = load_log_settings().format
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    configure_logging(level, log_format=log_format)


if __name__ == "__main__":
    main()
