"""Helpers for integration tests: publish with a real MQTT client, poll InfluxDB."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from stadtpuls.influx import InfluxClient


def publish(url_port: int, messages: list[tuple[str, bytes]]) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:6]}")
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    infos = [client.publish(topic, body, qos=1) for topic, body in messages]
    for info in infos:
        info.wait_for_publish(timeout=10)
    client.loop_stop()
    client.disconnect()


async def wait_for_rows(influx: InfluxClient, query: str, count: int, timeout: float = 20.0) -> list[list[Any]]:
    deadline = time.monotonic() + timeout
    rows: list[list[Any]] = []
    while time.monotonic() < deadline:
        series = await influx.query(query)
        rows = [row for s in series for row in s["values"]]
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.2)
    return rows
