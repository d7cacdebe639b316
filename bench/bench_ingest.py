"""End-to-end ingest benchmark: publish → Mosquitto → ingest → InfluxDB, against Node-RED on the same run.

One command (``make bench-ingest``) starts its own InfluxDB and, for every row, a fresh Mosquitto on free ports
under ``.bench/`` (so no persistent session of an earlier row makes the broker queue messages for it), installs
Node-RED when missing, builds the compiled publisher (``bench/cpub``), and prints a Markdown table. Every
figure counts points in InfluxDB: a run "has zero loss" when InfluxDB holds exactly the uplinks published.

Each round measures, one after another on the same InfluxDB: the publisher alone against an idle broker (its raw
rate: the machine's speed in that hour), Stadtpuls ingest, the straightforward paho + orjson + httpx peer
(``bench/peer_pipeline.py``) and Node-RED's tuned flow, each live (the compiled publisher as fast as it goes)
and queued (published while the system is stopped, then drained).

    .venv/bin/python bench/bench_ingest.py [--count 150000] [--repeat 3] [--soak-seconds 600] [--backlog-minutes 60]
        [--workers 1,2] [--publishers 1] [--broker-inflight 1000]
        [--skip throughput,qos0,peer,nodered,obvious,latency,soak,backlog] [--python LABEL=PATH ...]

``--python`` runs the ingest of other checkouts (each given by its virtualenv's Python) side by side in the same
run: every throughput round and every latency run takes the systems in turn (their order alternating from round
to round), against the same broker and InfluxDB, so that a noisy machine affects them alike.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import fastpub  # noqa: E402
from bench.nodered import runner as nodered  # noqa: E402
from devtools.loadgen import MODEL, Stream, device_eui, publish_parallel, uplink  # noqa: E402
from devtools.localstack import (  # noqa: E402
    InfluxServer,
    MosquittoServer,
    create_database,
    drop_database,
    free_port,
)
from ingest.dedup import DEDUP_WINDOW  # noqa: E402

RUN_DIR = ROOT / ".bench" / "ingest"
DEVICES = 100
DESIGN_RATE = 1700  # uplinks/s: 100k sensors at one uplink a minute
STALL = 30.0  # s without progress in InfluxDB ends a measurement
CLK = os.sysconf("SC_CLK_TCK")
BACKLOG_BASE_NS = 1_720_000_000_000_000_000  # server times of the backlog: 1 ms apart, 2 h for 7.2 million
LIVE_BASE_NS = 1_730_000_000_000_000_000  # server times of the live traffic alongside the catch-up
BACKLOG_CHUNK = 600_000  # uplinks prepared and published at a time
OBVIOUS_COUNT = 30_000  # uplinks per run for the obvious Node-RED flow (~500/s: 150,000 would take minutes)
SPOOL_MAX_MB = 16_384  # per process: a one-hour backlog at 2,000/s is ~3.3 GB of spool in all
PEER = ROOT / "bench" / "peer_pipeline.py"
BROKER_INFLIGHT = 1000  # the broker's max_inflight_messages (--broker-inflight)


@dataclass
class Row:
    name: str
    figures: dict[str, str] = field(default_factory=dict)


# --- process accounting from /proc ---------------------------------------------------------------------------
def _tree(pid: int) -> list[int]:
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                pids.extend(_tree(int(entry.name)))
    return pids


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (alive ones)."""
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK


def rss_bytes(pid: int) -> int:
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


# --- InfluxDB ------------------------------------------------------------------------------------------------
def count(influx: InfluxServer, db: str, *, before: int = 0) -> int:
    """Uplinks stored in ``db`` (those with a time before ``before`` ns only, when given)."""
    where = f" WHERE time < {before}" if before else ""
    response = httpx.get(f"{influx.url}/query", params={"db": db, "q": f'SELECT count("f_cnt") FROM "uplink"{where}'},
                         timeout=300)
    series = response.json()["results"][0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


def wait_count(influx: InfluxServer, db: str, expected: int) -> tuple[int, float]:
    """Poll until ``expected`` uplinks are stored or progress stalls; returns (count, wall time reached)."""
    last, last_change = -1, time.monotonic()
    while True:
        n = count(influx, db)
        now = time.time()
        if n >= expected:
            return n, now
        if n != last:
            last, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > STALL:
            return n, now
        time.sleep(0.1)


# --- the systems under test ----------------------------------------------------------------------------------
_REGISTER = """
import json, sys
from devices.registry import DeviceRegistry
registry = DeviceRegistry("sqlite:///" + sys.argv[1])
for i, eui in enumerate(json.loads(sys.argv[2])):
    registry.upsert(eui, model=sys.argv[3], name=f"s{i}", site="Marktplatz", municipality="Benchstadt")
"""


def _register_devices(python: str, checkout: Path | None, path: Path) -> None:
    """Register the benchmark's devices with the system's own code, so its registry has that code's schema."""
    euis = json.dumps([device_eui(i) for i in range(DEVICES)])
    subprocess.run([python, "-c", _REGISTER, str(path), euis, MODEL], check=True, cwd=checkout)


class _Child:
    """A system under test run as a child process: its pid, and a stop by SIGTERM."""

    process: subprocess.Popen[bytes] | None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=120)


class Stadtpuls(_Child):
    def __init__(self, broker: MosquittoServer, influx: InfluxServer, db: str, *, workers: int, qos: int,
                 python: str = sys.executable) -> None:
        self.python = python
        venv = Path(python).absolute().parents[1]  # -m imports from the working directory first: the checkout's
        self.checkout = venv.parent if venv.name == ".venv" else None
        self.data_dir = RUN_DIR / f"data-{db}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, STADTPULS_MQTT_URL=broker.url, STADTPULS_INFLUX_URL=influx.url,
                        STADTPULS_INFLUX_DB=db, STADTPULS_DATA_DIR=str(self.data_dir),
                        STADTPULS_SPOOL_MAX_MB=str(SPOOL_MAX_MB))
        _register_devices(python, self.checkout, self.data_dir / "stadtpuls.sqlite3")
        self.client_id = f"bench-{db}"
        # a group of its own: a persistent session of an earlier run still in a shared group keeps its share
        self.args = ["--client-id", self.client_id, "--qos", str(qos), "--workers", str(workers),
                     "--share-group", f"bench-{db}" if workers > 1 else ""]
        self.ids = [f"{self.client_id}-w{i}" for i in range(workers)] if workers > 1 else [self.client_id]
        self.broker = broker
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.data_dir / "ingest.log").open("ab") as log:
            self.process = subprocess.Popen([self.python, "-m", "stadtpuls.cli", "ingest", *self.args],
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=self.checkout)
        for cid in self.ids:
            wait_connected(self.broker, cid)


class Peer(_Child):
    """The paho + orjson + httpx pipeline of ``bench/peer_pipeline.py`` as a child process."""

    def __init__(self, broker: MosquittoServer, influx: InfluxServer, db: str) -> None:
        create_database(influx.url, db)
        self.client_id = f"peer-{db}"
        self.args = [sys.executable, str(PEER), "--port", str(broker.port), "--influx", influx.url, "--db", db,
                     "--client-id", self.client_id]
        self.log = RUN_DIR / f"peer-{db}.log"
        self.broker = broker
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        wait_connected(self.broker, self.client_id)



System = Stadtpuls | Peer | nodered.NodeRed


_CONNECTIONS: dict[tuple[int, str], int] = {}  # (broker port, client id): connections seen in the broker's log


def wait_connected(broker: MosquittoServer, client_id: str) -> None:
    """Wait until the broker logs one more connection of ``client_id`` than it had."""
    key = (broker.port, client_id)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = broker.log_path.read_text(errors="replace").count(f" as {client_id} ")
        if now > _CONNECTIONS.get(key, 0):
            _CONNECTIONS[key] = now
            time.sleep(1.0)
            return
        time.sleep(0.1)
    raise RuntimeError(f"{client_id} did not connect to the broker")


def fresh_broker(name: str) -> MosquittoServer:
    """A new Mosquitto for one row, with limits that lose nothing (MEASURED.md: the stock queue limit drops
    QoS 1 messages) and a large in-flight window; its folder must not exist yet, so it starts with no session.
    """
    run_dir = RUN_DIR / "brokers" / name
    if run_dir.exists():
        raise RuntimeError(f"{run_dir} exists: a row must start from a clean broker")
    return MosquittoServer(run_dir, max_queued_messages=20_000_000, max_queued_bytes=16 * 2**30,
                           max_inflight_messages=BROKER_INFLIGHT)


def end_row(broker: MosquittoServer, influx: InfluxServer, dbs: list[str]) -> None:
    """Stop the row's broker and throw away its sessions and persistence; drop the row's databases."""
    broker.stop()
    shutil.rmtree(broker.run_dir, ignore_errors=True)
    for db in dbs:
        drop_database(influx.url, db, timeout=120)


def publish(broker: MosquittoServer, stream: Stream, *, qos: int, publishers: int, rate: float = 0.0
            ) -> tuple[float, float]:
    """Publish ``stream`` with the compiled publisher (messages prepared first); returns (start, seconds)."""
    folder = RUN_DIR / "messages"
    folder.mkdir(exist_ok=True)
    files = []
    for k in range(publishers):
        path = folder / f"{stream.name}-{k}.bin"
        fastpub.write_messages(path, stream.messages(range(k, stream.count, publishers)))
        files.append(path)
    try:
        published = fastpub.publish_files(broker.host, broker.port, files, qos=qos, rate=rate)
    finally:
        for path in files:
            path.unlink()
    return published.started, published.seconds


def raw_publisher(n: int, *, publishers: int, round_no: int) -> dict[str, float]:
    """The compiled publisher alone, QoS 1, against a fresh broker nobody subscribes to: the machine's speed."""
    broker = fresh_broker(f"raw-r{round_no}")
    with broker:
        _, seconds = publish(broker, Stream(n, devices=DEVICES, name=f"raw-r{round_no}"), qos=1,
                             publishers=publishers)
    shutil.rmtree(broker.run_dir, ignore_errors=True)
    return {"published/s": n / seconds}


# --- measurements --------------------------------------------------------------------------------------------
def throughput(broker: MosquittoServer, influx: InfluxServer, system: System, db: str, n: int, *, qos: int,
               publishers: int) -> dict[str, float]:
    """Two runs of ``n`` uplinks each.

    live: publish with the compiled publisher as fast as it goes while the system runs; time from the first
    publish until InfluxDB holds them all (the publisher reaches at least twice what the systems sustain, so
    the system sets the pace).
    queued: publish while the system is stopped (its persistent session queues them at the broker), then
    start it and time from its first stored point until InfluxDB holds them all: what the system can sustain
    by itself, with the CPU it used over that time. Node-RED's ``mqtt in`` node unsubscribes when its flow
    stops, so before the queued run its session is set up again the way Node-RED resumes it (same client id,
    clean session off, subscribed at QoS 1).
    """
    stream = Stream(n, devices=DEVICES, name=f"tp-{db}", step_ns=1_000_000, base_ns=1_700_000_000_000_000_000)
    system.start()
    cpu0 = cpu_seconds(system.pid)
    started, publish_s = publish(broker, stream, qos=qos, publishers=publishers)
    stored, reached = wait_count(influx, db, n)
    cpu = cpu_seconds(system.pid) - cpu0
    figures = {"live: uplinks/s end to end": n / (reached - started), "live: published/s": n / publish_s,
               "live: lost": n - stored, "live: CPU s / 10k uplinks": cpu / n * 10_000}
    system.stop()
    if qos == 0:  # a QoS 0 message published while nobody is connected is not kept: no queued run
        return figures
    if isinstance(system, nodered.NodeRed):
        resume_session(broker, system.client_id, nodered.TOPIC)
    before = count(influx, db)
    second = Stream(n, devices=DEVICES, name=f"tq-{db}", step_ns=1_000_000, base_ns=1_705_000_000_000_000_000)
    publish(broker, second, qos=qos, publishers=publishers)
    system.start()
    first, deadline = before, time.monotonic() + STALL
    while first <= before and time.monotonic() < deadline:  # timed from the first stored batch on
        time.sleep(0.05)
        first = count(influx, db)
    started, cpu0 = time.time(), cpu_seconds(system.pid)
    stored, reached = wait_count(influx, db, before + n)
    cpu = cpu_seconds(system.pid) - cpu0
    # timed over what was stored after the first batch; if that is most of the run, there is nothing to time
    timed = stored - first >= n / 2
    figures["queued: uplinks/s"] = (stored - first) / (reached - started) if timed else math.nan
    figures["queued: CPU s / 10k uplinks"] = cpu / (stored - first) * 10_000 if timed else math.nan
    figures["queued: lost"] = before + n - stored
    system.stop()
    return figures


def resume_session(broker: MosquittoServer, client_id: str, topic: str) -> None:
    """Create the persistent MQTT 3.1.1 session ``client_id`` resumes: clean session off, ``topic`` at QoS 1."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                         protocol=paho.MQTTv311)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    if not subscribed.wait(30):
        raise RuntimeError(f"no SUBACK for the session of {client_id}")
    client.disconnect()
    client.loop_stop()


def latency(broker: MosquittoServer, influx: InfluxServer, db: str, *, rate: int, seconds: int) -> dict[str, str]:
    """Publish at ``rate`` with the publish time as the server time; see when each point becomes queryable."""
    total = rate * seconds
    seen: dict[int, float] = {}
    stop = threading.Event()

    def poll() -> None:
        since = 0
        while not stop.is_set():
            response = httpx.get(f"{influx.url}/query", params={
                # look back 2 s: a query may see part of a batch that is still being written
                "db": db, "epoch": "ns", "q": f'SELECT "f_cnt" FROM "uplink" WHERE time > {since - 2_000_000_000}'},
                timeout=30)
            now = time.time_ns()
            for s in response.json()["results"][0].get("series", []):
                for row in s["values"]:
                    seen.setdefault(int(row[0]), now)
                    since = max(since, int(row[0]))
            time.sleep(0.02)

    poller = threading.Thread(target=poll)
    poller.start()
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"lat-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(1000)
    client.connect(broker.host, broker.port)
    client.loop_start()
    t0 = time.monotonic()
    sent: list[int] = []
    for i in range(total):
        ahead = t0 + i / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
        now = time.time_ns()
        topic, body = uplink(i, devices=DEVICES, base_ns=now - i * 1000, stream=f"lat-{db}")  # time = now
        client.publish(topic, body, qos=1)
        sent.append(now)
    deadline = time.monotonic() + 30
    while len(seen) < total and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    poller.join()
    client.loop_stop()
    client.disconnect()
    lat = sorted((seen[t] - t) / 1e9 for t in sent if t in seen)
    lost = f"{total - count(influx, db)}"
    if not lat:
        return {"p50 s": "-", "p99 s": "-", "lost": lost}
    return {"p50 s": f"{lat[len(lat) // 2]:.3f}", "p99 s": f"{lat[int(len(lat) * 0.99)]:.3f}", "lost": lost}


def soak(broker: MosquittoServer, influx: InfluxServer, system: Stadtpuls, db: str, *, rate: int,
         seconds: int) -> dict[str, str]:
    """Publish at ``rate`` for ``seconds``; sample ingest's memory every 5 s.

    Times count from the first publish (the publishers build their messages first, which takes a while). Two
    drift figures compare the mean RSS of the first and the last fifth of the samples taken while publishing:
    "raw" over the whole run, "steady" from the moment the deduplication memory (``DEDUP_WINDOW`` ids) is
    full, because until then it grows by design. The samples go to ``RUN_DIR/soak-rss.csv``.
    """
    samples: list[tuple[float, int]] = []  # (wall-clock time, RSS bytes)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.time(), rss_bytes(system.pid)))
            stop.wait(5.0)

    sampler = threading.Thread(target=sample)
    sampler.start()
    n = rate * seconds
    stream = Stream(n, devices=DEVICES, name=f"soak-{db}", step_ns=1_000_000, base_ns=1_710_000_000_000_000_000)
    started, _ = publish_parallel(broker.host, broker.port, stream, processes=2, qos=1, rate=rate)
    stored, _ = wait_count(influx, db, n)
    stop.set()
    sampler.join()
    timeline = [(t - started, r) for t, r in samples]
    (RUN_DIR / "soak-rss.csv").write_text("s,rss_bytes\n" + "".join(f"{t:.1f},{r}\n" for t, r in timeline))
    full = DEDUP_WINDOW / rate + 5.0  # s until the deduplication memory is full, plus one sample
    during = [(t, r) for t, r in timeline if 0.0 <= t <= seconds + 5.0]  # while publishing
    steady = [(t, r) for t, r in during if t >= full]
    return {"peak RSS MiB": f"{max(r for _, r in samples) / 2**20:.0f}",
            "RSS drift first→last fifth, raw": drift(during),
            f"RSS drift after {full:.0f} s (dedup memory full)": drift(steady),
            "RSS at end MiB": f"{during[-1][1] / 2**20:.0f}", "lost": f"{n - stored}"}


def drift(samples: list[tuple[float, int]]) -> str:
    """Change of the mean RSS from the first to the last fifth of ``samples``."""
    if len(samples) < 5:
        return "-"
    fifth = len(samples) // 5
    first = statistics.mean(r for _, r in samples[:fifth])
    last = statistics.mean(r for _, r in samples[-fifth:])
    return f"{(last - first) / first:+.1%} ({first / 2**20:.0f} → {last / 2**20:.0f} MiB)"


def backlog(broker: MosquittoServer, influx: InfluxServer, system: Stadtpuls, db: str, *, rate: int,
            minutes: float) -> dict[str, str]:
    """InfluxDB down while ``minutes`` of traffic at ``rate`` arrive (ingest spools); then time the catch-up
    while live traffic continues at ``rate``.

    The backlog is published as fast as the publishers go rather than over ``minutes`` of real time: the same
    backlog, sooner. The drain time runs from InfluxDB's restart until the spool is empty and InfluxDB holds the
    whole backlog (its points are told apart from the live ones by their time).
    """
    n = int(rate * minutes * 60)
    influx.stop()
    t0 = time.monotonic()
    for start in range(0, n, BACKLOG_CHUNK):  # chunks keep the publishers' prepared messages small
        chunk = Stream(min(BACKLOG_CHUNK, n - start), devices=DEVICES, name=f"backlog-{db}-{start}",
                       step_ns=1_000_000, base_ns=BACKLOG_BASE_NS + start * 1_000_000)
        publish_parallel(broker.host, broker.port, chunk, processes=2, qos=1)
        print(f"backlog: {min(start + BACKLOG_CHUNK, n):,} of {n:,} published, {time.monotonic() - t0:.0f} s",
              flush=True)
    publish_s = time.monotonic() - t0
    spool = system.data_dir / "spool"
    time.sleep(5)
    spooled = sum(f.stat().st_size for f in spool.rglob("*.lp"))
    stop = threading.Event()
    published: list[int] = []
    publisher = threading.Thread(target=lambda: published.append(
        paced_publisher(broker, f"live-{db}", rate, stop, base_ns=LIVE_BASE_NS)))
    influx.start()
    t0 = time.monotonic()
    publisher.start()
    drained = None
    while time.monotonic() - t0 < 1800:
        if not any(spool.rglob("*.lp")) and count(influx, db, before=LIVE_BASE_NS) >= n:
            drained = time.monotonic() - t0
            break
        time.sleep(1.0)
    stop.set()
    publisher.join()
    live_n = published[0] if published else 0
    stored, _ = wait_count(influx, db, n + live_n)
    return {"backlog uplinks": f"{n:,}", "backlog published in s": f"{publish_s:.0f} ({n / publish_s:,.0f}/s)",
            "spool MiB": f"{spooled / 2**20:,.0f}",
            "drain s (live traffic on)": f"{drained:.0f}" if drained else "> 1800",
            "live uplinks during drain": f"{live_n:,}", "lost": f"{n + live_n - stored}"}


def paced_publisher(broker: MosquittoServer, name: str, rate: int, stop: threading.Event, *, base_ns: int) -> int:
    """Publish uplinks of stream ``name`` at ``rate`` (QoS 1) until ``stop`` is set; returns how many."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"live-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(1000)
    client.connect(broker.host, broker.port)
    client.loop_start()
    infos = []
    t0 = time.monotonic()
    i = 0
    while not stop.is_set():
        ahead = t0 + i / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
        topic, body = uplink(i, devices=DEVICES, base_ns=base_ns, stream=name, step_ns=1_000_000)
        infos.append(client.publish(topic, body, qos=1))
        i += 1
    for info in infos:
        info.wait_for_publish(timeout=60)
    client.loop_stop()
    client.disconnect()
    return i


# --- main ----------------------------------------------------------------------------------------------------
def measure(results: dict[str, list[dict[str, float]]], name: str, figures: dict[str, float]) -> None:
    results.setdefault(name, []).append(figures)
    print(f"{name}: " + ", ".join(f"{k} {v:,.2f}" for k, v in figures.items()), flush=True)


def summary(runs: list[dict[str, float]]) -> dict[str, str]:
    """Medians of the runs' figures; for losses the worst run."""
    out: dict[str, str] = {}
    for key in runs[0]:
        values = [r[key] for r in runs if not math.isnan(r[key])]
        if not values:
            out[key] = "–"
            continue
        if "lost" in key:
            out[key] = f"{max(values):,.0f}"
        elif "CPU" in key:
            spread = f" ({min(values):.2f}-{max(values):.2f})" if len(values) > 1 else ""
            out[key] = f"{statistics.median(values):.2f}{spread}"
        elif key.endswith(" s"):
            spread = f" ({min(values):.3f}-{max(values):.3f})" if len(values) > 1 else ""
            out[key] = f"{statistics.median(values):.3f}{spread}"
        else:
            spread = f" ({min(values):,.0f}-{max(values):,.0f})" if len(values) > 1 else ""
            out[key] = f"{statistics.median(values):,.0f}{spread}"
    return out


def table(rows: list[Row]) -> str:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row.figures if k not in keys]
    lines = ["| run | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    lines += [f"| {r.name} | " + " | ".join(r.figures.get(k, "") for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=150_000, help="uplinks per throughput run")
    parser.add_argument("--repeat", type=int, default=3, help="throughput runs per system (medians reported)")
    parser.add_argument("--soak-seconds", type=int, default=600)
    parser.add_argument("--backlog-minutes", type=float, default=60.0)
    parser.add_argument("--workers", default="1,2", help="comma-separated ingest worker counts to measure")
    parser.add_argument("--publishers", type=int, default=1, help="compiled publisher processes")
    parser.add_argument("--broker-inflight", type=int, default=1000,
                        help="the broker's max_inflight_messages: unacknowledged QoS 1 messages per client")
    parser.add_argument("--skip", default="",
                        help="comma-separated: throughput,qos0,peer,nodered,obvious,latency,soak,backlog")
    parser.add_argument("--python", action="append", default=[], metavar="LABEL=PATH",
                        help="compare: run the ingest of this virtualenv's Python too, labelled LABEL (repeatable)")
    args = parser.parse_args()
    global BROKER_INFLIGHT  # one setting for every row's broker
    BROKER_INFLIGHT = args.broker_inflight
    skip = set(filter(None, args.skip.split(",")))
    systems = dict(item.split("=", 1) for item in args.python) or {"": sys.executable}
    worker_counts = [int(w) for w in args.workers.split(",")]
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    fastpub.build()
    flows = [] if "nodered" in skip else ["tuned"] if "obvious" in skip else ["obvious", "tuned"]
    if flows:
        nodered.ensure_installed()  # before anything asks for its version
    rows: list[Row] = []
    with InfluxServer(RUN_DIR / "influxdb") as influx:
        def report(row: Row) -> None:
            rows.append(row)
            print(f"{row.name}: {row.figures}", flush=True)

        def run_row(name: str, db: str, make: Callable[[MosquittoServer], System], n: int, qos: int) -> None:
            broker = fresh_broker(db)
            with broker:
                system = make(broker)
                try:
                    measure(results, name, throughput(broker, influx, system, db, n, qos=qos,
                                                      publishers=args.publishers))
                finally:
                    system.stop()
                    end_row(broker, influx, [db])

        results: dict[str, list[dict[str, float]]] = {}
        for k in range(args.repeat):
            print(f"round {k + 1}: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
            measure(results, f"compiled publisher alone, QoS 1, {args.publishers} process(es)",
                    raw_publisher(args.count, publishers=args.publishers, round_no=k))
            entries: list[tuple[str, Callable[[], None]]] = []
            for label, python in systems.items():
                tag = f"{label}_" if label else ""
                for workers, qos in [(w, q) for q in (1, 0) for w in worker_counts]:
                    if "throughput" in skip or (qos == 0 and "qos0" in skip):
                        continue
                    db = f"sp_{tag}w{workers}_q{qos}_r{k}"
                    name = f"Stadtpuls ingest{' ' + label if label else ''}, {workers} worker(s), QoS {qos}"
                    entries.append((name, lambda name=name, db=db, workers=workers, qos=qos, python=python: run_row(
                        name, db, lambda b: Stadtpuls(b, influx, db, workers=workers, qos=qos, python=python),
                        args.count, qos)))
                if len(systems) > 1 and "latency" not in skip:
                    entries.append((label, lambda label=label, tag=tag, python=python, k=k: latency_row(
                        results, influx, label, tag, python, k)))
            if "peer" not in skip:
                db = f"peer_r{k}"
                entries.append(("peer", lambda db=db: run_row(
                    "paho + orjson + httpx peer, QoS 1", db, lambda b: Peer(b, influx, db), args.count, 1)))
            for kind in flows:
                db = f"nodered_{kind}_r{k}"
                n = args.count if kind == "tuned" else min(args.count, OBVIOUS_COUNT)

                def make(broker: MosquittoServer, kind: str = kind, db: str = db) -> System:
                    create_database(influx.url, db)
                    return nodered.NodeRed(RUN_DIR / f"nodered-{db}", nodered.flow(
                        kind, broker_port=broker.port, influx_port=influx.http_port, database=db,
                        client_id=f"nodered-{db}"), free_port(), broker)

                entries.append((kind, lambda kind=kind, db=db, n=n, make=make: run_row(
                    f"Node-RED {nodered.version()}, {kind} flow, QoS 1, {n:,} uplinks", db, make, n, 1)))
            for _, run in entries if k % 2 == 0 else reversed(entries):  # alternate the order from round to round
                run()
        for name, runs in results.items():
            rows.append(Row(f"{name} (median of {len(runs)})", summary(runs)))
        (RUN_DIR / "results.json").write_text(json.dumps(results, indent=1))

        for name in ("latency", "soak", "backlog"):
            if name in skip or len(systems) > 1:
                continue
            db = f"sp_{name}"
            broker = fresh_broker(db)
            with broker:
                system = Stadtpuls(broker, influx, db, workers=2 if name == "backlog" else 1, qos=1)
                system.start()
                try:
                    if name == "latency":
                        report(Row("Stadtpuls, 1,000 uplinks/s, publish → queryable",
                                   latency(broker, influx, db, rate=1000, seconds=30)))
                    elif name == "soak":
                        report(Row(f"Stadtpuls, {2 * DESIGN_RATE:,} uplinks/s for {args.soak_seconds} s",
                                   soak(broker, influx, system, db, rate=2 * DESIGN_RATE,
                                        seconds=args.soak_seconds)))
                    else:
                        report(Row(f"Stadtpuls 2 workers, {args.backlog_minutes:g} min backlog at 2,000/s",
                                   backlog(broker, influx, system, db, rate=2000, minutes=args.backlog_minutes)))
                finally:
                    system.stop()
                    end_row(broker, influx, [db])
    print()
    print(table([r for r in rows if "median" in r.name]))
    print()
    print("| run | result |\n|---|---|")
    for r in rows:
        if "median" not in r.name:
            print(f"| {r.name} | " + "; ".join(f"{k}: {v}" for k, v in r.figures.items()) + " |")


def latency_row(results: dict[str, list[dict[str, float]]], influx: InfluxServer, label: str, tag: str,
                python: str, k: int) -> None:
    """One latency run of one checkout's ingest (1,000 uplinks/s for 30 s), on a fresh broker."""
    db = f"sp_{tag}latency_r{k}"
    broker = fresh_broker(db)
    with broker:
        system = Stadtpuls(broker, influx, db, workers=1, qos=1, python=python)
        system.start()
        try:
            figures = latency(broker, influx, db, rate=1000, seconds=30)
        finally:
            system.stop()
            end_row(broker, influx, [db])
    measure(results, f"Stadtpuls ingest {label}, 1,000 uplinks/s, publish → queryable",
            {k2: float(v) if v != "-" else math.nan for k2, v in figures.items()})


if __name__ == "__main__":
    main()
