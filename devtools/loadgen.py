"""Synthetic ChirpStack v4 uplinks and a publisher that reaches benchmark rates, for failure tests and bench/.

Every uplink is a realistic envelope (~700 bytes) whose Cayenne LPP payload carries a temperature and a
humidity, so it becomes three points: the radio record and two measurements. Uplink ``i`` of a stream is
unique (its own deduplicationId and frame counter) and its server time is ``base_ns + i * step_ns``, so a
stream's points can be counted in InfluxDB exactly.

The publisher uses paho-mqtt (QoS 1 waits for every PUBACK, so "published" means "the broker has it"); for
high rates :func:`publish_parallel` runs several publisher processes.
"""

from __future__ import annotations

import base64
import multiprocessing
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

APPLICATION_ID = "5c8a1f2e-0b7d-4f43-9a8e-2d1c7e9b4a10"
MODEL = "cayenne-lpp"
LINES_PER_UPLINK = 3


def device_eui(index: int) -> str:
    """The DevEUI of synthetic device ``index``."""
    return f"A8{index:014X}"


def lpp_payload(i: int) -> bytes:
    """Cayenne LPP: temperature (channel 1, 0.1 °C) and relative humidity (channel 2, 0.5 %)."""
    temperature = 150 + i % 100  # 15.0 .. 24.9 °C
    humidity = 80 + i % 40  # 40 .. 59.5 %
    return bytes([1, 0x67]) + temperature.to_bytes(2, "big", signed=True) + bytes([2, 0x68, humidity])


def _rfc3339(ns: int) -> str:
    seconds, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{frac:09d}Z"


def uplink(i: int, *, devices: int, base_ns: int, stream: str, step_ns: int = 1000) -> tuple[str, bytes]:
    """Uplink ``i`` of ``stream``: (topic, JSON payload), received by the server at ``base_ns + i * step_ns``."""
    eui = device_eui(i % devices)
    f_cnt = i // devices
    doc = {
        "deduplicationId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{stream}/{i}")),
        "time": _rfc3339(base_ns + i * step_ns),
        "deviceInfo": {
            "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
            "tenantName": "Stadtwerke",
            "applicationId": APPLICATION_ID,
            "applicationName": "Stadtpuls",
            "deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad",
            "deviceProfileName": "Cayenne LPP",
            "deviceName": f"sensor-{i % devices}",
            "devEui": eui.lower(),
            "tags": {"site": "Marktplatz"},
        },
        "devAddr": "00189440",
        "dr": 5,
        "fPort": 1,
        "fCnt": f_cnt,
        "data": base64.b64encode(lpp_payload(i)).decode(),
        "rxInfo": [
            {
                "gatewayId": "0016c001f153a14c",
                "uplinkId": 4217106255,
                "rssi": -60 - i % 50,
                "snr": 7.5,
                "context": "E3OWOQ==",
                "metadata": {"region_name": "eu868", "region_common_name": "EU868"},
            }
        ],
        "txInfo": {
            "frequency": 867100000,
            "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 7, "codeRate": "CR_4_5"}},
        },
    }
    return f"application/{APPLICATION_ID}/device/{eui.lower()}/event/up", orjson.dumps(doc)


@dataclass(frozen=True, slots=True)
class Stream:
    """``count`` uplinks from ``devices`` devices, server times from ``base_ns`` on."""

    count: int
    devices: int = 100
    base_ns: int = 1_700_000_000_000_000_000
    name: str = "stream"
    step_ns: int = 1000  # server time between consecutive uplinks

    def messages(self, indices: Sequence[int] | None = None) -> Iterator[tuple[str, bytes]]:
        """The messages, in index order or in the order of ``indices``."""
        for i in indices if indices is not None else range(self.count):
            yield uplink(i, devices=self.devices, base_ns=self.base_ns, stream=self.name, step_ns=self.step_ns)


def publish(host: str, port: int, messages: Sequence[tuple[str, bytes]], *, qos: int = 1, rate: float = 0.0,
            window: int = 1000) -> float:
    """Publish and wait until the broker has every QoS 1 message; returns the seconds it took.

    Args:
        host: the broker's host.
        port: the broker's port.
        messages: (topic, payload) pairs, published in order.
        qos: MQTT QoS of every message.
        rate: messages/s to pace at (0 = as fast as possible).
        window: QoS 1 messages in flight at most.
    """
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"loadgen-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(window)
    client.max_queued_messages_set(0)
    client.connect(host, port, keepalive=60)
    client.loop_start()
    started = time.monotonic()
    infos = []
    try:
        for n, (topic, body) in enumerate(messages):
            if rate:
                ahead = started + n / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            infos.append(client.publish(topic, body, qos=qos))
            if len(infos) >= window:
                infos.pop(0).wait_for_publish(timeout=60)
        for info in infos:
            info.wait_for_publish(timeout=60)
        elapsed = time.monotonic() - started
    finally:
        client.loop_stop()
        client.disconnect()
    return elapsed


def _publish_part(args: tuple[str, int, Stream, list[int], int, float, Any, Any]) -> None:
    host, port, stream, indices, qos, rate, barrier, out = args
    messages = list(stream.messages(indices))
    barrier.wait()
    started = time.time()
    elapsed = publish(host, port, messages, qos=qos, rate=rate)
    out.put((started, elapsed))


def publish_parallel(host: str, port: int, stream: Stream, *, processes: int = 2, qos: int = 1,
                     rate: float = 0.0) -> tuple[float, float]:
    """Publish a whole stream from ``processes`` processes (each a slice, messages built beforehand).

    Returns the wall-clock time publishing started and the seconds until the slowest publisher was done.
    """
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    barrier = ctx.Barrier(processes)
    parts = [list(range(k, stream.count, processes)) for k in range(processes)]
    procs = [
        ctx.Process(target=_publish_part, args=((host, port, stream, part, qos, rate / processes, barrier, out),))
        for part in parts
    ]
    for proc in procs:
        proc.start()
    results = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    started = min(r[0] for r in results)
    return started, max(r[0] + r[1] for r in results) - started
