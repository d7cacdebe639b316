"""Calling the InfluxDB client from synchronous code, with and without an event loop running."""

from __future__ import annotations

import socket

import httpx
import pytest

from stadtpuls.influx import InfluxClient, InfluxRejected, InfluxUnavailable, ensure_database, run_blocking
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


def answering(error: str) -> InfluxClient:
    """A client whose InfluxDB answers every query with HTTP 200 and ``error`` for its statement."""
    client = InfluxClient("http://influx.invalid", "stadtpuls")
    body = {"results": [{"statement_id": 0, "error": error}]}
    client._http = httpx.AsyncClient(base_url=client.url,
                                     transport=httpx.MockTransport(lambda _: httpx.Response(200, json=body)))
    return client


async def test_a_query_cut_off_by_influxdb_shutting_down_is_unavailable_not_rejected() -> None:
    # InfluxDB answers a query in flight while it stops with HTTP 200 and this error: try again later
    async with answering("query engine shutdown") as client:
        with pytest.raises(InfluxUnavailable, match="query engine shutdown"):
            await client.query("SELECT * FROM x")


async def test_a_query_error_is_still_a_rejection() -> None:
    async with answering("error parsing query: found EOF, expected FROM") as client:
        with pytest.raises(InfluxRejected, match="expected FROM") as raised:
            await client.query("SELECT *")
    assert not isinstance(raised.value, InfluxUnavailable)
