"""The straightforward Python peer: paho-mqtt thread → orjson → Cayenne LPP → httpx batches of 5000 / 200 ms.

What a competent engineer writes in an afternoon for MQTT (QoS 1) → InfluxDB, used by ``bench/bench_ingest.py``
as the peer to beat. It does the same work per uplink as Stadtpuls ingest and the Node-RED flows (parse the
ChirpStack v4 JSON, base64, Cayenne LPP, device tags, server time in ns; three points per uplink) and writes
the same line protocol. It has none of ingest's guarantees: paho acknowledges a message as soon as the
callback returns (before it is stored), there is no deduplication, no quarantine and no spool.

    python bench/peer_pipeline.py --port PORT --influx URL --db DB --client-id ID
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import signal
import threading
import time

import httpx
import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

TOPIC = "application/+/device/+/event/up"
BATCH = 5000  # lines
INTERVAL = 0.2  # s
TAGS = ",class=environment,dev_eui={eui},model=cayenne-lpp,municipality=Benchstadt,site=Marktplatz"


def rfc3339_ns(text: str) -> int:
    """``2024-05-04T10:15:02.123456789Z`` → ns since the epoch."""
    head, _, frac = text.rstrip("Z").partition(".")
    seconds = dt.datetime.fromisoformat(head).replace(tzinfo=dt.UTC).timestamp()
    return int(seconds) * 1_000_000_000 + int(frac.ljust(9, "0")[:9] or 0)


def to_lines(payload: bytes) -> list[str]:
    """One ChirpStack v4 uplink with a Cayenne LPP payload → its line-protocol lines."""
    env = orjson.loads(payload)
    ts = rfc3339_ns(env["time"])
    tags = TAGS.format(eui=env["deviceInfo"]["devEui"].upper())
    rx = env.get("rxInfo") or [{}]
    fields = [f"f_cnt={float(env.get('fCnt', 0))}", f"f_port={float(env.get('fPort', 0))}",
              f"gateways={float(len(env.get('rxInfo') or []))}"]
    if rx[0].get("rssi") is not None:
        fields.append(f"rssi={float(rx[0]['rssi'])}")
    if rx[0].get("snr") is not None:
        fields.append(f"snr={float(rx[0]['snr'])}")
    lines = [f"uplink{tags} {','.join(fields)} {ts}"]
    data = base64.b64decode(env.get("data") or "")
    i = 0
    while i + 1 < len(data):
        channel, kind = data[i], data[i + 1]
        i += 2
        if kind == 0x67:
            value = int.from_bytes(data[i:i + 2], "big", signed=True) / 10
            lines.append(f"temperature,channel={channel}{tags} value={value} {ts}")
            i += 2
        elif kind == 0x68:
            lines.append(f"humidity,channel={channel}{tags} value={data[i] / 2} {ts}")
            i += 1
        else:
            break
    return lines


class Pipeline:
    """Collects lines from paho's thread; a writer thread posts them in batches."""

    def __init__(self, influx: str, db: str) -> None:
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.full = threading.Event()
        self.stopping = threading.Event()
        self.http = httpx.Client(base_url=influx, timeout=60)
        self.db = db

    def on_message(self, client: object, userdata: object, message: paho.MQTTMessage) -> None:
        lines = to_lines(message.payload)
        with self.lock:
            self.lines.extend(lines)
            if len(self.lines) >= BATCH:
                self.full.set()

    def writer(self) -> None:
        while True:
            self.full.wait(INTERVAL)
            self.full.clear()
            with self.lock:
                batch, self.lines = self.lines, []
            if batch:
                self.write(batch)
            elif self.stopping.is_set():
                return

    def write(self, batch: list[str]) -> None:
        for attempt in range(10):
            response = self.http.post("/write", params={"db": self.db, "precision": "ns"},
                                      content="\n".join(batch).encode())
            if response.status_code == 204:
                return
            time.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"InfluxDB refused a batch: {response.status_code} {response.text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--influx", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--client-id", required=True)
    args = parser.parse_args()
    pipeline = Pipeline(args.influx, args.db)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=args.client_id, clean_session=False,
                         protocol=paho.MQTTv311)
    client.on_message = pipeline.on_message
    client.on_connect = lambda c, *_: c.subscribe(TOPIC, qos=1)
    client.connect(args.host, args.port)
    writer = threading.Thread(target=pipeline.writer)
    writer.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    client.loop_start()
    done.wait()
    client.disconnect()
    client.loop_stop()
    pipeline.stopping.set()
    pipeline.full.set()
    writer.join()


if __name__ == "__main__":
    main()
