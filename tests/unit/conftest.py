"""Unit tests run without servers (``make check``): the server fixtures of the suite are refused here."""

from __future__ import annotations

from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent
SERVER_FIXTURES = ("mosquitto", "influxdb", "fresh_mosquitto", "fresh_influxdb", "influx_db_name")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not item.path.is_relative_to(UNIT):
            continue  # the hook sees the whole session's tests
        wanted = set(getattr(item, "fixturenames", ())) & set(SERVER_FIXTURES)
        if wanted:
            raise pytest.UsageError(
                f"{item.nodeid} uses {', '.join(sorted(wanted))}: a test that needs a server belongs in "
                "tests/integration"
            )
