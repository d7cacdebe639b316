"""``stadtpuls ingest`` and ``stadtpuls quarantine`` report our errors through the error root's exit codes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from stadtpuls.errors import EX_UNAVAILABLE

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def stadtpuls(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the ``stadtpuls`` command in a fresh interpreter with only these STADTPULS_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STADTPULS_")}
    return subprocess.run(
        [sys.executable, "-m", "stadtpuls.cli", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ingest_without_influxdb_exits_unavailable_with_one_line(tmp_path: Path) -> None:
    influx = f"http://127.0.0.1:{closed_port()}"
    done = stadtpuls(
        "ingest",
        env={
            "STADTPULS_DATA_DIR": str(tmp_path),
            "STADTPULS_INFLUX_URL": influx,
            "STADTPULS_MQTT_URL": f"mqtt://127.0.0.1:{closed_port()}",
        },
    )
    assert done.returncode == EX_UNAVAILABLE, done.stderr
    assert f"Error: InfluxDB is unreachable at {influx}" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_setting_names_the_variable(tmp_path: Path) -> None:
    done = stadtpuls("ingest", env={"STADTPULS_DATA_DIR": str(tmp_path), "STADTPULS_BATCH_SIZE": "0"})
    assert done.returncode == 78, done.stderr
    assert "STADTPULS_BATCH_SIZE" in done.stderr
    assert "Traceback" not in done.stderr


def test_showing_an_unknown_quarantined_message_is_a_usage_error(tmp_path: Path) -> None:
    done = stadtpuls("quarantine", "show", "999", env={"STADTPULS_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2, done.stderr
    assert "no quarantined message with id 999" in done.stderr
