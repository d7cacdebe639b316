"""Calling the InfluxDB client from synchronous code, with and without an event loop running."""

from __future__ import annotations

import socket

import pytest

from stadtpuls.influx import InfluxClient, InfluxUnavailable, ensure_database, run_blocking
from stadtpuls.settings import InfluxSettings


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_blocking_call_raises_the_clients_own_error() -> None:
    url = closed_url()
    with pytest.raises(InfluxUnavailable, match=f"InfluxDB at {url} is unreachable"):
        run_blocking(InfluxClient.ping, url, "stadtpuls", timeout=1.0)


async def test_a_blocking_call_works_inside_a_running_event_loop() -> None:
    # asyncio.run() would refuse here; the call runs in a helper thread instead
    url = closed_url()
    with pytest.raises(InfluxUnavailable, match=f"InfluxDB at {url} is unreachable"):
        run_blocking(InfluxClient.ping, url, "stadtpuls", timeout=1.0)


def test_ensure_database_reads_the_settings() -> None:
    url = closed_url()
    with pytest.raises(InfluxUnavailable, match=f"InfluxDB at {url} is unreachable"):
        ensure_database(InfluxSettings(url=url, db="anything"), timeout=1.0)
