"""Where one uplink's CPU goes in ingest: py-spy samples a live queued drain, stacks are sorted into stages.

Starts InfluxDB and Mosquitto under ``.bench/profile``, lets ingest make its persistent session, queues
``--count`` uplinks for it with the compiled publisher, then starts ingest again and samples it with py-spy
(``--native`` also samples C frames) while it drains them. Each sample is put into the first stage whose
pattern matches, looking from the innermost frame outwards; the table gives each stage's share of the samples
and, from the CPU the process used while sampled, its µs per uplink.

    .venv/bin/python bench/profile_ingest.py [--count 150000] [--rate 200] [--native] [--python PATH]
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import bench_ingest as bench  # noqa: E402
from devtools.loadgen import Stream  # noqa: E402
from devtools.localstack import InfluxServer  # noqa: E402

# (stage, substrings of "function (file)" frames). A sample goes to the first stage with a matching frame, looking
# from the innermost frame outwards, in three passes: the specific stages first, then the MQTT receive path (its
# frames sit below the pipeline, the acknowledgements and the socket writes), then the event loop.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("envelope", ("ingest/envelopes.py",)),
    ("dedup", ("ingest/dedup.py",)),
    ("device lookup", ("_context (ingest/pipeline.py", "ingest/directory.py")),
    ("decode", ("devices/codecs/",)),
    ("normalise", ("ingest/normalise.py",)),
    ("line building", ("stadtpuls/lineprotocol.py", "_uplink_line (ingest/pipeline.py", "devices/startup.py")),
    ("pipeline (rest)", ("ingest/pipeline.py", "ingest/guard.py")),
    ("batching", ("ingest/batcher.py",)),
    ("ack", ("ack (ingest/receiver.py", "_on_stored (ingest/service.py", "_flush_counts (ingest/service.py")),
    ("HTTP write", ("ingest/store.py", "stadtpuls/influx.py", "httpx/", "httpcore/", "h11/", "anyio/",
                    "ingest/spool.py")),
    ("metrics", ("prometheus_client/", "ingest/metrics.py")),
]
RECEIVE = ("receive", ("gmqtt/", "ingest/receiver.py", "asyncio/streams.py", "asyncio/selector_events.py",
                       "_on_message (ingest/service.py"))
EVENT_LOOP = ("event loop", ("asyncio/",))


def stage_of(stack: str) -> str:
    """The stage of one collapsed stack (``frame;frame;...`` outermost first)."""
    frames = stack.split(";")[::-1]
    for stages in (STAGES, [RECEIVE], [EVENT_LOOP]):
        for frame in frames:
            for stage, patterns in stages:
                if any(p in frame for p in patterns):
                    return stage
    return "other"


def breakdown(raw: Path) -> collections.Counter[str]:
    """Samples per stage from py-spy's ``--format raw`` output (collapsed stacks with counts)."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if stack:
            counts[stage_of(stack)] += int(n)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=150_000)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--native", action="store_true", help="sample C frames too (py-spy --native)")
    parser.add_argument("--python", default=sys.executable, help="the virtualenv Python of the ingest to profile")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("py-spy not found: pip install py-spy")
    bench.RUN_DIR = ROOT / ".bench" / "profile"
    shutil.rmtree(bench.RUN_DIR, ignore_errors=True)
    bench.RUN_DIR.mkdir(parents=True)
    raw = bench.RUN_DIR / "ingest.stacks"
    with InfluxServer(bench.RUN_DIR / "influxdb") as influx:
        broker = bench.fresh_broker("profile")
        with broker:
            system = bench.Stadtpuls(broker, influx, "profile", workers=1, qos=1, python=args.python)
            system.start()  # makes the persistent session
            system.stop()
            stream = Stream(args.count, devices=bench.DEVICES, name="profile", step_ns=1_000_000)
            bench.publish(broker, stream, qos=1, publishers=1)
            system.start()
            spy = subprocess.Popen([py_spy, "record", "--pid", str(system.pid), "--rate", str(args.rate),
                                    "--format", "raw", "--output", str(raw), "--nonblocking",
                                    *(["--native"] if args.native else [])],
                                   stdout=subprocess.DEVNULL)
            cpu0, t0, stored0 = bench.cpu_seconds(system.pid), time.time(), bench.count(influx, "profile")
            stored, reached = bench.wait_count(influx, "profile", args.count)
            cpu = bench.cpu_seconds(system.pid) - cpu0
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
            system.stop()
    report(raw, cpu, stored - stored0, reached - t0)


def report(raw: Path, cpu: float, drained: int, seconds: float) -> None:
    """Print the stages' shares of the samples in ``raw`` and their µs per uplink."""
    counts = breakdown(raw)
    total = sum(counts.values())
    per_uplink = cpu / max(drained, 1) * 1e6
    print(f"{drained:,} uplinks drained in {seconds:.1f} s ({drained / seconds:,.0f}/s),"
          f" {per_uplink:.1f} µs CPU per uplink (ingest process), {total:,} samples")
    print("| stage | share of samples | µs per uplink |\n|---|---:|---:|")
    for stage, n in counts.most_common():
        print(f"| {stage} | {n / total:.1%} | {n / total * per_uplink:.1f} |")


if __name__ == "__main__":
    main()
