"""The detection job on the simulated town with labelled faults, scored against the ground truth.

Backfills the default town with a fault spec through ingest into a local InfluxDB of its own (the same path
as ``stadtpuls simulate backfill --faults spec.yaml --ground-truth truth.json``), runs the detection job
(``processing.anomaly_job.detect_window``, what ``stadtpuls process anomalies`` runs) over the period and
scores the stored events per fault kind:

* a fault is found (recall) when an event of a matching kind on its device (and quantity, for air faults)
  overlaps the fault's window, extended by :data:`AFTER` (a drift's sums take a while to return to zero);
* an event of a kind that a fault kind maps to is a true detection (precision) when it overlaps a fault of
  that kind on its device; an event that overlaps a fault of another kind on its device (a drift that also
  trips the spike test) counts for neither; any other event is a false alarm;
* false alarms per 100 device-days: every event on devices without any fault, over their device-days.

Implausible values never reach InfluxDB: ingest quarantines them (stage ``normalise``). That kind is scored
from the quarantine records: found when a message of the fault's device was quarantined at stage normalise
during the fault; precision is the share of such quarantined messages that fall in a fault window.

    .venv/bin/python bench/bench_faults.py [--days 42] [--start 2025-04-28] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from devtools.localstack import InfluxServer
from firmware_sim.backfill import run_backfill
from firmware_sim.town import SimDevice, Town, load_town, town_path
from ingest.quarantine import QuarantineStore
from processing.anomaly_job import detect_window
from processing.events import EventStore, StoredEvent
from stadtpuls.settings import InfluxSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
H = 3600.0
DAY = 86400.0
# fault kind → event kinds that report it
MATCHES: dict[str, frozenset[str]] = {
    "stuck_value": frozenset({"stuck"}),
    "spike": frozenset({"spike", "seasonal"}),
    "drift": frozenset({"drift", "seasonal"}),  # CO2 is compared with its week: a drift shows as a departure
    "offline": frozenset({"gap"}),
    "flatline_counter": frozenset({"stuck", "seasonal"}),
    "counter_reset": frozenset({"counter_reset", "restart"}),
}
CLASSES = {"parking": "parking", "footfall": "footfall", "air": "air_quality"}
AFTER = {"drift": 2 * DAY}  # how long after its end an event still belongs to a fault
DEFAULT_AFTER = 2 * H
# a bay's state (or a value) may have held since before the fault began; a bay's last heartbeat before an
# outage may be a day older than the outage; drift is judged on daily medians stamped at the end of their day
BEFORE = {"stuck_value": DAY, "offline": DAY, "drift": DAY}
DEFAULT_BEFORE = 2 * H
FAULT_FREE_SITES = frozenset({"bahnhofsplatz"})


def build_spec(town: Town, first: date, days: int) -> dict[str, Any]:
    """Faults on a fixed schedule in the last part of the run (the first three weeks are history).

    Every air station gets a stuck value, a spike, a drift and an implausible value; half of them an outage.
    Counters get spikes, flatlines, resets and outages; twelve car-park bays a frozen state or an outage.
    """
    # the station square's two stations stay fault-free: the air stations' false alarms are measured on them
    air = [d for d in town.devices if d.kind == "air" and d.site not in FAULT_FREE_SITES]
    counters = [d for d in town.devices if d.kind == "footfall"]
    bays = [d for d in town.devices if d.kind == "parking" and d.site == "parkhaus-altstadt"]
    day0 = 22 if days >= 40 else max(1, days // 2)
    faults: list[dict[str, Any]] = []

    def at(device: SimDevice, kind: str, day: int, hour: float, duration: str, **extra: Any) -> None:
        moment = datetime.combine(first + timedelta(days=day), datetime.min.time()) + timedelta(hours=hour)
        faults.append({"kind": kind, "device": device.name, "start": moment.isoformat(timespec="minutes"),
                       "duration": duration, **extra})

    for i, device in enumerate(air):
        at(device, "stuck_value", day0 + i % 2, 8 + i, "12h")
        at(device, "spike", day0 + 3, 10 + i, "30m")
        # drifts of stations that measure the same quantity start on different days: independent sensors do
        # not fail together, and a drift every station of a quantity shares is what the weather looks like
        at(device, "drift", day0 + 6 + 4 * (i // 3), 6 + i, "3d")
        at(device, "implausible_value", day0 + 14, 9 + i, "1h")
        if i % 2 == 0:
            at(device, "offline", day0 + 11, 7 + i, "6h")
    for i, device in enumerate(counters):
        if i < 4:
            at(device, "spike", day0 + 1, 11 + i % 3, "1h")
        if i < 6:
            at(device, "flatline_counter", day0 + 4 + i % 2, 9, "8h")
            at(device, "counter_reset", day0 + 9, 12 + i % 3, "1m")
        else:
            at(device, "offline", day0 + 7, 8, "6h")
    for i, device in enumerate(bays[:12]):
        if i < 6:
            at(device, "stuck_value", day0 + i % 3, 7, "6d")
        else:
            at(device, "offline", day0 + 9 + i % 3, 7, "3d")
    return {"faults": faults}


@dataclass
class KindScore:
    """Counts of one fault kind."""

    faults: int = 0
    found: int = 0
    true_events: int = 0
    false_events: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.faults if self.faults else float("nan")

    @property
    def precision(self) -> float:
        total = self.true_events + self.false_events
        return self.true_events / total if total else float("nan")


def overlaps(event: StoredEvent, fault: dict[str, Any]) -> bool:
    """Whether an event began in a fault's window (widened by how long its traces last and, for a frozen
    state, by how long the state may already have held): an event that began long before the fault and merely
    runs through it is not its detection.
    """
    start = fault["start_ns"] / 1e9 - BEFORE.get(fault["kind"], DEFAULT_BEFORE)
    end = fault["end_ns"] / 1e9 + AFTER.get(fault["kind"], DEFAULT_AFTER)
    quantity_ok = not fault["quantity"] or not event.quantity or event.quantity == fault["quantity"]
    return quantity_ok and start <= event.onset.timestamp() < end


def envelope_time(payload: bytes) -> float | None:
    """The network server's receive time of a quarantined envelope (TTS ``received_at``, ChirpStack ``time``)."""
    try:
        document = json.loads(payload)
    except ValueError:
        return None
    text = document.get("received_at") or document.get("time") if isinstance(document, dict) else None
    if not isinstance(text, str):
        return None
    head, _, rest = text.rstrip("Z").partition(".")
    fraction = "".join(c for c in rest if c.isdigit())[:6]
    try:
        moment = datetime.fromisoformat(head + (f".{fraction}" if fraction else ""))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC).timestamp()


def score(
    truth: dict[str, Any], events: list[StoredEvent], town: Town, quarantined: list[tuple[str, float]], days: int
) -> dict[str, Any]:
    """Precision and recall per fault kind, false alarms on fault-free devices."""
    by_device: dict[str, list[dict[str, Any]]] = {}
    for fault in truth["faults"]:
        by_device.setdefault(fault["dev_eui"], []).append(fault)
    kinds: dict[str, KindScore] = {}
    for fault in truth["faults"]:
        if fault["kind"] not in MATCHES and fault["kind"] != "implausible_value":
            continue
        entry = kinds.setdefault(fault["kind"], KindScore())
        entry.faults += 1
        if fault["kind"] == "implausible_value":
            window = (fault["start_ns"] / 1e9, fault["end_ns"] / 1e9 + 60)
            entry.found += any(eui == fault["dev_eui"] and window[0] <= t <= window[1] for eui, t in quarantined)
            continue
        entry.found += any(e.kind in MATCHES[fault["kind"]] and overlaps(e, fault)
                           for e in events if e.dev_eui == fault["dev_eui"])
    device_class = {d.dev_eui: d.kind for d in town.devices}
    applies = {kind: {CLASSES.get(c, c) for c in classes} for kind, (classes, _) in _fault_kinds().items()}
    unexplained: Counter[str] = Counter()
    for event in events:
        faults = by_device.get(event.dev_eui, [])
        cls = CLASSES.get(device_class.get(event.dev_eui, ""), "")
        hit = [f for f in faults if overlaps(event, f)]
        for kind, matching in MATCHES.items():
            if event.kind not in matching or cls not in applies[kind] or kind not in kinds:
                continue
            if any(f["kind"] == kind for f in hit):
                kinds[kind].true_events += 1
            elif not hit:
                kinds[kind].false_events += 1
        if not hit:
            unexplained[event.kind] += 1
    if "implausible_value" in kinds:
        windows = [(f["dev_eui"], f["start_ns"] / 1e9, f["end_ns"] / 1e9 + 60)
                   for f in truth["faults"] if f["kind"] == "implausible_value"]
        others = [(f["dev_eui"], f["start_ns"] / 1e9, f["end_ns"] / 1e9 + 60)
                  for f in truth["faults"] if f["kind"] != "implausible_value"]
        for eui, moment in quarantined:
            inside = any(eui == w[0] and w[1] <= moment <= w[2] for w in windows)
            kinds["implausible_value"].true_events += inside
            # a spike × 8 can leave the plausible range too: quarantined, but not a false alarm
            other = any(eui == w[0] and w[1] <= moment <= w[2] for w in others)
            kinds["implausible_value"].false_events += not inside and not other
    healthy = [d.dev_eui for d in town.devices if d.dev_eui not in by_device]
    healthy_set = set(healthy)
    false_alarms = Counter(e.kind for e in events if e.dev_eui in healthy_set)
    device_days = len(healthy) * days
    return {
        "kinds": kinds,
        "false_alarms": false_alarms,
        "device_days": device_days,
        "per_100": 100 * sum(false_alarms.values()) / device_days if device_days else float("nan"),
        "unexplained": unexplained,
    }


def _fault_kinds() -> dict[str, tuple[frozenset[str], str]]:
    from firmware_sim.faults import FAULT_KINDS

    return FAULT_KINDS


def machine() -> str:
    """CPU model and count, OS and Python, for the results table."""
    cpu = platform.processor() or platform.machine()
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def table(result: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    order = ("stuck_value", "spike", "drift", "offline", "flatline_counter", "counter_reset", "implausible_value")
    rows = ["| fault kind | faults | found | recall | events matching | false events | precision |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for kind in order:
        entry = result["kinds"].get(kind)
        if entry is None:
            continue
        rows.append(f"| {kind} | {entry.faults} | {entry.found} | {entry.recall:.2f} | {entry.true_events} | "
                    f"{entry.false_events} | {entry.precision:.2f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=42)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 4, 28))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="Detect again on the data kept in --keep.")
    parser.add_argument("--keep", type=Path, default=None, help="Keep the run folder here (spec, truth, events).")
    args = parser.parse_args()
    town = load_town("default")
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-faults-"))
    workdir.mkdir(parents=True, exist_ok=True)
    spec_path, truth_path = workdir / "faults.yaml", workdir / "truth.json"
    if args.reuse and args.keep is None:
        parser.error("--reuse needs --keep DIR of an earlier run")
    if not args.reuse:
        spec = build_spec(town, args.start, args.days)
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    with InfluxServer(workdir / "influxdb") as influx:
        # the town's file is its calendar: public and school holidays, Christmas Eve, the Christmas market
        settings = Settings(influx=InfluxSettings(url=influx.url, db="stadtpuls"), data_dir=workdir,
                            calendar=town_path("default"), timezone=town.timezone.key)
        began = time.perf_counter()
        if args.reuse:  # the data of an earlier run with the same arguments: detect again from scratch
            with sqlite3.connect(workdir / "stadtpuls.sqlite3") as connection:
                connection.execute("DELETE FROM anomaly_events")
            summary = "reused"
        else:
            backfill = run_backfill(settings, town="default", days=args.days, start=args.start, seed=args.seed,
                                    faults=spec_path, ground_truth_path=truth_path, workers=args.workers)
            summary = f"{backfill.uplinks} uplinks, {backfill.lines} lines, rejected {backfill.rejected}"
        backfilled = time.perf_counter() - began
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        first = datetime.fromisoformat(truth["start"].replace("Z", "+00:00"))
        last = datetime.fromisoformat(truth["end"].replace("Z", "+00:00"))
        began = time.perf_counter()
        report = detect_window(settings, start=first, end=last)
        detected = time.perf_counter() - began
        events = EventStore(settings.registry_url).list(limit=10_000)
        quarantined = [
            (message.dev_eui or "", moment)
            for message in QuarantineStore(settings.registry_url).select(stage="normalise")
            if (moment := envelope_time(message.payload)) is not None
        ]
    result = score(truth, events, town, quarantined, args.days)
    (workdir / "events.json").write_text(json.dumps(
        [{"dev_eui": e.dev_eui, "quantity": e.quantity, "channel": e.channel, "kind": e.kind,
          "onset": e.onset.isoformat(), "end": e.end.isoformat(), "score": e.score, "reason": e.reason}
         for e in events], indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"backfill: {summary}, {backfilled:.0f} s")
    print(f"detection: {report.devices} devices, {report.series} series, {report.detections} detections, "
          f"{detected:.1f} s ({', '.join(f'{k} {v:.1f} s' for k, v in report.seconds.items())}); errors "
          f"{report.errors[:5]}")
    print(table(result))
    print(f"false alarms on {result['device_days'] // args.days} fault-free devices over {args.days} days: "
          f"{sum(result['false_alarms'].values())} ({dict(result['false_alarms'])}) = {result['per_100']:.2f} "
          f"per 100 device-days")
    faulted = len({f["dev_eui"] for f in truth["faults"]})
    unexplained = sum(result["unexplained"].values())
    print(f"events explained by no fault (all devices): {dict(result['unexplained'])}; on the {faulted} devices "
          f"with faults, outside their faults: {100 * unexplained / (faulted * args.days):.2f} per 100 device-days")
    print(f"run folder: {workdir}")
    print(f"{datetime.now(UTC):%Y-%m-%d} · {machine()}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
