"""What a JavaScript uplink costs ingest's event loop: decoded in-process, or sent to a codec worker process.

    .venv/bin/python bench/bench_jsworker.py

Process CPU time of this process per call (the worker's own CPU is not counted: it runs on another core), and
the wall time of one call awaited after another, over 2,000 calls of the fast sample codec; medians of 5 rounds.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path

from devices.jscodec import JsCodec
from devices.jsworker import JsWorker

CODEC = Path(__file__).resolve().parents[1] / "tests/fixtures/js/sample-counter.js"
FRAME = bytes([1, 0, 42, 1, 0, 36])
CALLS = 2000
ROUNDS = 5


async def main() -> None:
    codec = JsCodec(CODEC)
    worker = JsWorker(CODEC, time_limit_ms=100)
    await worker.decode(1, FRAME)
    results: dict[str, list[float]] = {"in-process CPU": [], "worker CPU": [], "worker wall": []}
    try:
        for r in range(ROUNDS):
            started = time.process_time()
            for _ in range(CALLS):
                codec.decode(1, FRAME)
            results["in-process CPU"].append((time.process_time() - started) / CALLS * 1e6)
            started, wall = time.process_time(), time.perf_counter()
            for _ in range(CALLS):
                await worker.decode(1, FRAME)
            results["worker CPU"].append((time.process_time() - started) / CALLS * 1e6)
            results["worker wall"].append((time.perf_counter() - wall) / CALLS * 1e6)
            line = ", ".join(f"{name} {values[-1]:.1f} µs" for name, values in results.items())
            print(f"round {r + 1}: {line}; load {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        await worker.close()
    print("medians: " + ", ".join(f"{n} {statistics.median(v):.1f} µs" for n, v in results.items()))


if __name__ == "__main__":
    asyncio.run(main())
