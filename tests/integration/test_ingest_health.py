"""Ingest's liveness and readiness on its metrics port, against the real broker and InfluxDB: ready when it
stores, not ready (with the reason) while InfluxDB refuses its writes, ready again once that is fixed; and the
``stadtpuls ingest`` command serves them next to /metrics for compose's health check.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.loadgen import uplink
from devtools.localstack import InfluxServer, MosquittoServer, create_database, free_port
from ingest import metrics
from ingest.service import IngestService
from tests.integration.support import publish
from tests.integration.test_ingest_delivery import (
    ingest_process,
    make_settings,
    processes,  # noqa: F401 - a fixture
    service_factory,  # noqa: F401 - a fixture
    wait_for_count,
)

pytestmark = pytest.mark.integration
WAIT = 60.0


async def answer(port: int, path: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}{path}", timeout=5)
    return response.status_code, response.json()


async def until(port: int, path: str, check: Callable[[int, dict[str, Any]], bool]) -> tuple[int, dict[str, Any]]:
    deadline = time.monotonic() + WAIT
    status, body = await answer(port, path)
    while not check(status, body) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        status, body = await answer(port, path)
    return status, body


async def test_readiness_shows_influxdb_refusing_and_recovers(
    mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path,
    service_factory: object,  # noqa: F811
) -> None:
    settings = make_settings(mosquitto, influxdb, influx_db_name, tmp_path)
    service: IngestService = await service_factory(settings, f"health-{uuid.uuid4().hex[:6]}")  # type: ignore[operator]
    port = free_port()
    stop = metrics.serve(port, "127.0.0.1", live=service.liveness, ready=service.readiness)
    try:
        status, body = await answer(port, "/readyz")
        assert status == 200, body
        assert body["status"] == "ready"
        assert {name: check["ok"] for name, check in body["checks"].items()} == {
            "broker": True, "tasks": True, "spool": True, "influxdb": True
        }
        assert (await answer(port, "/livez"))[0] == 200
        base = time.time_ns() - 600 * 10**9
        await asyncio.to_thread(publish, mosquitto.port, [uplink(0, devices=1, base_ns=base, stream="h")])
        assert await asyncio.to_thread(wait_for_count, influxdb.url, influx_db_name, 1) == 1
        status, body = await until(port, "/readyz", lambda s, b: b["last_write"] is not None)
        assert body["last_write"] is not None

        await asyncio.to_thread(httpx.post, f"{influxdb.url}/query", data={"q": f'DROP DATABASE "{influx_db_name}"'})
        messages = [uplink(i, devices=5, base_ns=base, stream="refused") for i in range(1, 6)]
        await asyncio.to_thread(publish, mosquitto.port, messages)
        status, body = await until(port, "/readyz", lambda s, b: s == 503)
        assert status == 503
        assert body["status"] == "not ready"
        assert not body["checks"]["influxdb"]["ok"]
        assert "HTTP 404" in body["checks"]["influxdb"]["detail"]
        assert "database not found" in body["checks"]["influxdb"]["detail"]
        assert (await answer(port, "/livez"))[0] == 200  # alive: a restart would not help

        create_database(influxdb.url, influx_db_name)  # the operator fixes it; the spool drains
        status, body = await until(port, "/readyz", lambda s, b: s == 200)
        assert status == 200, body
        assert await asyncio.to_thread(wait_for_count, influxdb.url, influx_db_name, 5) == 5
    finally:
        stop()


async def test_the_ingest_command_serves_readiness_next_to_the_metrics(
    mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path,
    processes: list[Any],  # noqa: F811
) -> None:
    settings = make_settings(mosquitto, influxdb, influx_db_name, tmp_path)
    port = free_port()
    proc = ingest_process(settings, "--client-id", f"health-cli-{uuid.uuid4().hex[:6]}", "--metrics-port", str(port))
    processes.append(proc)
    deadline = time.monotonic() + WAIT
    status = 0
    while time.monotonic() < deadline:
        try:
            status, _ = await answer(port, "/readyz")
        except httpx.TransportError:
            await asyncio.sleep(0.2)
            continue
        if status == 200:
            break
        await asyncio.sleep(0.2)
    assert status == 200
    async with httpx.AsyncClient() as client:
        scraped = await client.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert "stadtpuls_ingest_last_write_timestamp_seconds" in scraped.text
