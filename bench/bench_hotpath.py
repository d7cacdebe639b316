"""Per-message CPU cost of ingest's hot path in-process, for native-codec uplinks.

``IngestService._on_message`` (pipeline and batcher), no broker and no InfluxDB. Compares two source trees side
by side, alternating rounds:

    .venv/bin/python bench/bench_hotpath.py --tree before=/path/to/old/checkout --tree after=. [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MEASURE = r"""
import asyncio, json, sys, tempfile, time
from pathlib import Path
from devices.registry import DeviceRegistry
from devtools.loadgen import MODEL, Stream, device_eui
from ingest.batcher import Batcher
from ingest.records import Message
from ingest.service import IngestOptions, IngestService
from stadtpuls.settings import Settings

count, devices = int(sys.argv[1]), int(sys.argv[2])
data = Path(tempfile.mkdtemp())
settings = Settings(data_dir=data)
registry = DeviceRegistry(settings.registry_url)
for i in range(devices):
    registry.upsert(device_eui(i), model=MODEL, name=f"s{i}", site="Markt", municipality="Musterstadt")
service = IngestService(settings, IngestOptions(client_id="bench"))
service.directory.load()
messages = [Message(t, p, time.time_ns()) for t, p in Stream(count, devices=devices, name="hot").messages()]

async def main() -> float:
    service._batcher = Batcher(None, batch_size=5000)  # never stored: only the hot path is timed
    warm = [Message(t, p, time.time_ns()) for t, p in Stream(2000, devices=devices, name="warm").messages()]
    for m in warm:
        service._on_message(m)
    started = time.process_time()
    for m in messages:
        service._on_message(m)
    return (time.process_time() - started) / count * 1e6

print(json.dumps(asyncio.run(main())))
"""


def one(tree: Path, count: int, devices: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree))
    with tempfile.TemporaryDirectory() as cwd:
        out = subprocess.run([sys.executable, "-c", MEASURE, str(count), str(devices)], env=env, cwd=cwd,
                             capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", required=True, help="name=path of a source tree")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--devices", type=int, default=1000)
    args = parser.parse_args()
    trees = {name: Path(path).resolve() for name, path in (t.split("=", 1) for t in args.tree)}
    results: dict[str, list[float]] = {name: [] for name in trees}
    for r in range(args.rounds):
        for name, tree in trees.items():
            cost = one(tree, args.messages, args.devices)
            results[name].append(cost)
            print(f"round {r + 1} {name}: {cost:.2f} µs/message; load {os.getloadavg()[0]:.2f}", flush=True)
    for name, costs in results.items():
        print(f"{name}: median {statistics.median(costs):.2f} µs/message over {len(costs)} rounds")


if __name__ == "__main__":
    main()
