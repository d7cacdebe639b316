"""``stadtpuls demo`` runs the whole town from the development tools and stops cleanly."""

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


def test_the_demo_receives_uplinks_and_reports_latest_values(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STADTPULS_")}
    args = ["--run-dir", str(tmp_path / "demo"), "--duration", "8", "--speed", "3000", "--report-every", "3"]
    done = subprocess.run(
        [sys.executable, "-m", "stadtpuls.cli", "demo", *args, "--api-port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "Stadtpuls demo is running." in done.stdout
    assert "latest values via http://127.0.0.1:" in done.stdout
    received = re.search(r"stopped; (\d+) uplinks received", done.stdout)
    assert received is not None, done.stdout
    assert int(received.group(1)) > 0
