"""What Mosquitto's persistence settings cost and what a broker crash loses (docs/ingest.md, "The broker").

For each setting, alternated over rounds: a fresh broker with the deploy configuration's queue limits; ingest's
persistent session (clean session off, QoS 1) subscribes and goes away, so the broker queues what arrives (the
case persistence is for); a publisher sends N uplink-sized QoS 1 messages and waits for every PUBACK (what the
network server sees acknowledged); right after the last PUBACK the broker is killed with SIGKILL and started
again; the session then takes what survived. Also measured: the publish rate while the session is connected and
acknowledging (ingest keeping up, the broker's queue near empty).

    .venv/bin/python bench/bench_broker_persistence.py [--messages 3000] [--rounds 3] [--settings "every 300 s,..."]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from devtools.localstack import MosquittoServer

SETTINGS = {  # name: the lines added to the broker's configuration
    "every 300 s": "autosave_interval 300",
    "every 10 s": "autosave_interval 10",
    "every 1 s": "autosave_interval 1",
    "every 10000 changes": "autosave_on_changes true\nautosave_interval 10000",
    "every 1000 changes": "autosave_on_changes true\nautosave_interval 1000",
    "every 100 changes": "autosave_on_changes true\nautosave_interval 100",
    "every change": "autosave_on_changes true\nautosave_interval 1",
}
PAYLOAD = b"x" * 700  # bytes, a typical uplink envelope
TOPIC = "v3/town@ttn/devices/bench/up"
SESSION = "bench-ingest"
PUBLISH_TIMEOUT = 300.0  # s


def _client(port: int, client_id: str, *, clean: bool) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _subscribe_session(port: int, received: list[int] | None, acked: bool = True) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=SESSION, clean_session=False)
    subscribed = threading.Event()
    if received is not None:
        client.on_message = lambda _c, _u, _m: received.append(1)
    client.on_subscribe = lambda *_a: subscribed.set()
    client.on_connect = lambda c, *_a: c.subscribe(TOPIC, qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not subscribed.wait(10):
        raise RuntimeError("session did not subscribe")
    return client


def _publish(port: int, n: int) -> float:
    """Publish n QoS 1 messages; seconds until the last PUBACK."""
    done = threading.Event()
    acked = [0]

    def on_publish(*_a: object) -> None:
        acked[0] += 1
        if acked[0] == n:
            done.set()

    client = _client(port, f"ns-{uuid.uuid4().hex[:6]}", clean=True)
    client.on_publish = on_publish
    started = time.perf_counter()
    for _ in range(n):
        client.publish(TOPIC, PAYLOAD, qos=1)
    if not done.wait(PUBLISH_TIMEOUT):
        raise RuntimeError(f"only {acked[0]} of {n} PUBACKs within {PUBLISH_TIMEOUT} s")
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return elapsed


def _drain(port: int) -> int:
    received: list[int] = []
    client = _subscribe_session(port, received)
    last, seen = time.monotonic(), 0
    while time.monotonic() - last < 2.0:
        time.sleep(0.2)
        if len(received) != seen:
            seen, last = len(received), time.monotonic()
    client.disconnect()
    client.loop_stop()
    return len(received)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


Outcome = tuple[float, float, int, float, int]


def one_round(extra: str, n: int) -> Outcome:
    """(msg/s queued for an absent session, msg/s with the session connected, messages lost to SIGKILL,
    broker CPU seconds while the n messages queued, snapshots written meanwhile).
    """
    folder = Path(tempfile.mkdtemp(prefix="bench-broker-"))
    try:
        server = MosquittoServer(folder, max_inflight_messages=1000, extra_config=extra).start()
        try:
            live = _subscribe_session(server.port, [])
            live_rate = n / _publish(server.port, n)
            live.disconnect()
            live.loop_stop()
            _drain(server.port)  # empty the session's queue
            away = _subscribe_session(server.port, None)
            away.disconnect()
            away.loop_stop()
            assert server.pid is not None
            cpu, saves = _cpu_seconds(server.pid), server.log_path.read_text().count("Saving in-memory database")
            queued_rate = n / _publish(server.port, n)
            cpu = _cpu_seconds(server.pid) - cpu
            saves = server.log_path.read_text().count("Saving in-memory database") - saves
            os.kill(server.pid, signal.SIGKILL)
            server.stop()
            server.start()
            survived = _drain(server.port)
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return queued_rate, live_rate, n - survived, cpu, saves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated names of SETTINGS to run")
    args = parser.parse_args()
    chosen = {name: SETTINGS[name] for name in args.settings.split(",")}
    results: dict[str, list[Outcome]] = {name: [] for name in chosen}
    for r in range(args.rounds):
        for name, extra in chosen.items():
            outcome = one_round(extra, args.messages)
            results[name].append(outcome)
            print(f"round {r + 1} {name}: {outcome[0]:.0f} msg/s queued, {outcome[1]:.0f} msg/s live, "
                  f"{outcome[2]} of {args.messages} lost, broker {outcome[3]:.2f} CPU s and {outcome[4]} snapshots "
              f"while queueing; load {os.getloadavg()[0]:.2f}", flush=True)
    print(f"\nmedians of {args.rounds} rounds, {args.messages} messages of {len(PAYLOAD)} bytes each:")
    for name, rows in results.items():
        queued = statistics.median(r[0] for r in rows)
        live = statistics.median(r[1] for r in rows)
        lost = statistics.median(r[2] for r in rows)
        cpu = statistics.median(r[3] for r in rows)
        saves = statistics.median(r[4] for r in rows)
        print(f"  {name:22s} {queued:8.0f} msg/s queued  {live:8.0f} msg/s live  lost {lost:6.0f}  "
              f"broker {cpu:6.2f} CPU s, {saves:5.0f} snapshots while queueing")


if __name__ == "__main__":
    main()
