"""The cost of keeping raw payloads (``STADTPULS_KEEP_RAW_PAYLOAD``): ``Pipeline.handle`` per message, on and off.

Run: ``.venv/bin/python bench/bench_raw_payload.py [--compare OTHER_CHECKOUT]``. Each round times ``handle()``
over the same 20,000 synthetic ChirpStack uplinks (Cayenne LPP, 200 devices, deduplication on) once with raw
payloads off and once on, in one process, alternating which goes first, after a warm-up round; the figure is
the median over the rounds, in CPU µs per message (CPU time of the process: less at the mercy of a shared
machine than wall time). With ``--compare`` a child process runs the same rounds in the other checkout (e.g.
the code before the change, from ``git worktree add``), taking turns with this one, raw payloads off (the other
checkout may not know the setting).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(rounds: int, messages: int) -> dict[str, list[float]]:
    """µs per message of ``handle()`` per round, raw payloads off and on (on only if the code knows it)."""
    sys.path.insert(0, os.getcwd())
    from devices.records import DeviceInfo
    from devtools.loadgen import MODEL, device_eui, uplink
    from ingest.dedup import RecentKeys
    from ingest.pipeline import Pipeline
    from ingest.records import Message

    devices = 200
    known = {device_eui(i): DeviceInfo(dev_eui=device_eui(i), name=f"s{i}", model=MODEL, device_class="generic",
                                      site="Markt", municipality="Musterstadt", lat=None, lon=None)
             for i in range(devices)}
    base = 1_764_000_000_000_000_000
    batch = [Message(*uplink(i, devices=devices, base_ns=base, stream="bench"), base) for i in range(messages)]
    modes = {"off": {}, "on": {"keep_raw_payload": True}}
    if "keep_raw_payload" not in inspect.signature(Pipeline).parameters:
        modes = {"off": {}}
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    order = list(modes)
    for n in range(rounds + 1):  # the first round warms up and is not counted
        for mode in order[n % 2 :] + order[: n % 2]:  # alternate which mode goes first
            pipeline = Pipeline(known.get, dedup=RecentKeys(2 * messages), **modes[mode])  # type: ignore[arg-type]
            handle = pipeline.handle
            started = time.process_time()  # CPU time of this process: less at the mercy of a loaded machine
            for message in batch:
                handle(message)
            if n:
                times[mode].append((time.process_time() - started) / messages * 1e6)
    return times


def part_cost(rounds: int) -> tuple[list[float], list[float]]:
    """Nanoseconds per call of what raw payloads add to one radio record, and of the branch the hot path pays when off
    (each the best of 5 repeats of 200,000 calls, per round; the function call around both is included).
    """
    import timeit

    from devtools.loadgen import lpp_payload
    from ingest.pipeline import _with_payload

    line = ("uplink,class=generic,dev_eui=A8000000000003,model=cayenne-lpp,municipality=Musterstadt,site=Markt "
            "f_cnt=0.0,f_port=1.0,gateways=1.0,rssi=-63.0,snr=7.5 1764000000000003000")
    payload = lpp_payload(3)
    keep = False

    def off() -> str:
        radio = line
        if keep:
            radio = _with_payload(radio, payload)
        return radio

    def on() -> str:
        return _with_payload(line, payload)

    calls = 200_000
    on_ns = [min(timeit.repeat(on, number=calls, repeat=5)) / calls * 1e9 for _ in range(rounds)]
    off_ns = [min(timeit.repeat(off, number=calls, repeat=5)) / calls * 1e9 for _ in range(rounds)]
    return on_ns, off_ns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--compare", type=Path, default=None, help="another checkout, measured in turns")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.rounds, args.messages)))
        return
    checkouts = {"this": ROOT} | ({"other": args.compare.resolve()} if args.compare else {})
    results: dict[str, dict[str, list[float]]] = {name: {} for name in checkouts}
    for _ in range(args.rounds):
        for name, where in checkouts.items():
            done = subprocess.run(
                [sys.executable, str(ROOT / "bench" / "bench_raw_payload.py"), "--child", "--rounds", "1",
                 "--messages", str(args.messages)],
                cwd=where, capture_output=True, text=True, check=True,
                env={**os.environ, "PYTHONPATH": str(where)},
            )
            for mode, values in json.loads(done.stdout).items():
                results[name].setdefault(mode, []).extend(values)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {args.rounds} rounds of {args.messages} messages")
    for name, modes in results.items():
        for mode, values in modes.items():
            print(f"{name:6} raw payload {mode:3}: {statistics.median(values):6.2f} µs per message "
                  f"(rounds: {', '.join(f'{v:.2f}' for v in values)})")
    on_ns, off_ns = part_cost(3)
    print(f"adding the payload to a radio record: {statistics.median(on_ns):.0f} ns per message; the branch when "
          f"off: {statistics.median(off_ns):.0f} ns (both with a function call; rounds {on_ns} / {off_ns})")


if __name__ == "__main__":
    main()
