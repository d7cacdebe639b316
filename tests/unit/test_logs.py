"""STADTPULS_LOG_FORMAT=json: one JSON object per log line; an unknown format stops every command, named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import logging
from stadtpuls.logs import configure_logging
configure_logging(logging.INFO, log_format="json", tag="stadtpuls-ingest-w1")
log = logging.getLogger("ingest.service")
log.info("connected to %s", 'a "quoted" host\\nand a second line')
try:
    1 / 0
except ZeroDivisionError:
    log.exception("it broke")
logging.getLogger("httpx").info("not shown: chatty libraries log warnings only")
"""


def test_json_lines_carry_time_level_logger_message_and_traceback() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "INFO"
    assert first["logger"] == "ingest.service"
    assert first["message"] == 'connected to a "quoted" host\nand a second line'
    assert first["time"].endswith("+00:00")
    assert first["process_name"] == "stadtpuls-ingest-w1"
    assert second["level"] == "ERROR"
    assert "ZeroDivisionError: division by zero" in second["exc_info"]


def test_an_unknown_log_format_is_refused_by_name(tmp_path: Path) -> None:
    env = dict(os.environ, STADTPULS_LOG_FORMAT="xml", STADTPULS_DATA_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "stadtpuls.cli", "quarantine", "list"], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 78
    assert "STADTPULS_LOG_FORMAT" in done.stderr
    assert "Traceback" not in done.stderr
