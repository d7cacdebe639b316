"""``stadtpuls process``: the processing commands."""

from __future__ import annotations

import click

from processing.anomaly_cli import anomalies_command
from processing.detect_cli import detect_command

process_group = click.Group("process", help="Processing: derived values and anomalies.")
process_group.add_command(detect_command)
process_group.add_command(anomalies_command)
