"""How the broker's in-flight window, batch writes in flight and the linger set ingest's drain rate.

In-process and without servers, so that a loaded machine barely changes the figures: the real
:class:`ingest.batcher.Batcher` between a simulated broker and a simulated InfluxDB.

- The broker sends a queued message whenever fewer than ``--window`` are unacknowledged (Mosquitto's
  ``max_inflight_messages``), in reads of up to 64 messages.
- Handling a message blocks the event loop for ``--handle-us`` µs (ingest's CPU per uplink; a blocking sleep, so
  the figure does not depend on the machine's load).
- A batch write takes ``--write-ms`` plus ``--line-us`` µs per line (InfluxDB, on the other core), 3 lines per
  uplink; overlapping writes do not slow each other (InfluxDB uses both cores).

    .venv/bin/python bench/bench_window.py [--messages 100000] [--window 1000,10000] [--writes 1,2]
        [--linger 0.02,0.005]

Prints uplinks/s per combination.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.batcher import Batcher
from ingest.records import AckToken, Message, Outcome, Rejection
from ingest.store import Span

READ = 64  # messages per socket read
LINES = 3  # lines per uplink (radio record and two measurements)


class Slow:
    """A simulated InfluxDB: a write takes a fixed time plus a time per line."""

    def __init__(self, write_s: float, line_s: float) -> None:
        self.write_s = write_s
        self.line_s = line_s

    async def store(self, lines: list[str], spans: list[Span], rejections: list[Rejection], *,
                    after: asyncio.Future[None] | None = None) -> None:
        await asyncio.sleep(self.write_s + self.line_s * len(lines))
        if after is not None:
            await asyncio.shield(after)


async def drain(n: int, *, window: int, writes: int, linger: float, handle_s: float, store: Slow) -> float:
    """Drain ``n`` queued messages; returns messages per second."""
    unacked = 0
    acked = 0
    more = asyncio.Event()
    done = asyncio.Event()

    def on_stored(acks: list[AckToken]) -> None:
        nonlocal unacked, acked
        unacked -= len(acks)
        acked += len(acks)
        more.set()
        if acked >= n:
            done.set()

    batcher = Batcher(store, on_stored=on_stored, batch_size=5000, batch_interval=0.2, linger=linger,  # type: ignore[arg-type]
                      max_batch_messages=10_000, max_writes=writes)
    lines = ["m v=1 1"] * LINES
    task = asyncio.create_task(batcher.run())
    started = time.perf_counter()
    sent = 0
    while sent < n:
        k = min(READ, window - unacked, n - sent)
        if k <= 0:
            more.clear()
            await more.wait()
            continue
        time.sleep(handle_s * k)  # noqa: ASYNC251  # handling blocks the event loop, as ingest's CPU does
        for _ in range(k):
            sent += 1
            batcher.add(Outcome(Message("t", b"", sent, AckToken()), lines=lines))
        unacked += k
        await asyncio.sleep(0)
    await done.wait()
    seconds = time.perf_counter() - started
    await batcher.close()
    await task
    return n / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--window", default="1000,10000")
    parser.add_argument("--writes", default="1,2")
    parser.add_argument("--linger", default="0.02")
    parser.add_argument("--handle-us", type=float, default=30.0)
    parser.add_argument("--write-ms", type=float, default=5.0)
    parser.add_argument("--line-us", type=float, default=12.0)
    args = parser.parse_args()
    store = Slow(args.write_ms / 1000, args.line_us / 1e6)
    print("| window | writes in flight | linger s | uplinks/s |\n|---:|---:|---:|---:|")
    for window in map(int, args.window.split(",")):
        for linger in map(float, args.linger.split(",")):
            for writes in map(int, args.writes.split(",")):
                rate = asyncio.run(drain(args.messages, window=window, writes=writes, linger=linger,
                                         handle_s=args.handle_us / 1e6, store=store))
                print(f"| {window:,} | {writes} | {linger:g} | {rate:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
