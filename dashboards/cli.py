"""``stadtpuls dashboards``: build the Grafana boards into deploy/grafana/, or publish them to a Grafana."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_OUT = Path("deploy/grafana")


@click.group("dashboards")
def dashboards_group() -> None:
    """Grafana dashboards as code: build the JSON and provisioning, or publish to a running Grafana."""


@dashboards_group.command("build")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUT, show_default=True,
              help="Folder for dashboards/*.json and provisioning/.")
def build_command(out: Path) -> None:
    """Write every board's JSON and Grafana's provisioning files."""
    from dashboards.provisioning import write_all

    for path in write_all(out):
        click.echo(str(path))


@dashboards_group.command("publish")
@click.option("--url", required=True, help="Grafana's base URL, e.g. https://grafana.example.org")
@click.option("--token", envvar="GRAFANA_TOKEN", required=True,
              help="Service-account token (or GRAFANA_TOKEN).")
@click.option("--influx-url", default=None,
              help="Create or update the data source: InfluxDB's URL as Grafana reaches it.")
@click.option("--influx-db", default="stadtpuls", show_default=True, help="InfluxDB database.")
@click.option("--influx-user", default="grafana", show_default=True, help="InfluxDB account with read access.")
@click.option("--influx-password", envvar="INFLUXDB_GRAFANA_PASSWORD", default=None,
              help="Its password (or INFLUXDB_GRAFANA_PASSWORD).")
def publish_command(url: str, token: str, influx_url: str | None, influx_db: str, influx_user: str,
                    influx_password: str | None) -> None:
    """Push every board to Grafana; a board is saved only when it changed."""
    from dashboards.publish import InfluxSource, publish

    if (influx_url is None) != (influx_password is None):
        raise click.UsageError("--influx-url and --influx-password go together")
    influx = InfluxSource(influx_url, influx_db, influx_user, influx_password) if influx_url else None
    report = publish(url, token, influx=influx)
    click.echo(f"data source: {report.datasource}")
    for uid in report.saved:
        click.echo(f"saved      {uid}")
    for uid in report.unchanged:
        click.echo(f"unchanged  {uid}")
