"""``stadtpuls demo`` writes and processes history, runs the whole town live from now and stops cleanly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.localstack import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_writes_processed_history_then_runs_live(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STADTPULS_")}
    # live at x20, so that twelve seconds hold four simulated minutes of uplinks (at the default x1 a quiet
    # town may send none in twelve seconds); the demo then says that its points lie ahead of now
    args = ["--run-dir", str(tmp_path / "demo"), "--history-days", "1", "--duration", "12", "--report-every", "4",
            "--speed", "20"]
    done = subprocess.run(
        [sys.executable, "-m", "stadtpuls.cli", "demo", *args, "--api-port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Stadtpuls demo is running." in out
    processed = re.search(r"processed: ([\d,]+) points", out)
    assert processed is not None, out
    assert int(processed.group(1).replace(",", "")) > 1000  # a day of the default town's rollups and more
    assert '"r15m"."lot_occupancy"' in out
    assert '"r1h"."eaqi"' in out
    assert "latest values via http://127.0.0.1:" in out
    occupancy = re.search(r"lot occupancy \(processed, last 15 minutes\): (.*)", out)
    assert occupancy is not None, out
    assert re.search(r"\d+%", occupancy.group(1)), occupancy.group(1)  # the service beside ingest wrote some
    assert "points lie in the future" in out  # said because of --speed 20; the default is real time
    received = re.search(r"stopped; (\d+) uplinks received", out)
    assert received is not None, out
    assert int(received.group(1)) > 0
