"""Labelled faults: a spec (YAML) → concrete faults with device and window → a ground-truth file.

A spec lists faults and/or asks for random ones::

    faults:
      - {kind: stuck_value, device: ring-ost, quantity: pm2_5, start: "2025-03-01T08:00", duration: 6h}
      - {kind: offline, device: parkhaus-altstadt-017, after: 2h, duration: 30m}
    random: {count: 20, kinds: [spike, drift, offline], duration: [30m, 12h]}

``start`` is a local time of the town (or carries its own offset); ``after`` counts from the start of the run.
The ground-truth file is the answer key for anomaly detectors and quarantine tests: one entry per fault with
device, kind, quantity, start and end, and what the platform is expected to see.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from firmware_sim.town import SimDevice, Town, TownError

# kind → device kinds it applies to, and what the platform is expected to notice
FAULT_KINDS: dict[str, tuple[frozenset[str], str]] = {
    "stuck_value": (frozenset({"parking", "air"}), "detector:stuck"),
    "spike": (frozenset({"air", "footfall"}), "detector:spike"),
    "drift": (frozenset({"air"}), "detector:drift"),
    "offline": (frozenset({"parking", "footfall", "air"}), "detector:offline"),
    "flatline_counter": (frozenset({"footfall"}), "detector:flatline"),
    "counter_reset": (frozenset({"footfall"}), "detector:counter_reset"),
    "implausible_value": (frozenset({"air"}), "quarantine:normalise"),
    "garbled_payload": (frozenset({"parking", "footfall", "air"}), "quarantine:codec"),
    "unknown_device": (frozenset({"parking", "footfall", "air"}), "quarantine:device"),
}
# quantities each air model can carry a value fault on; the first is the default
AIR_QUANTITIES: dict[str, tuple[str, ...]] = {
    "decentlab-dl-pm": ("pm2_5", "pm10", "pm1_0", "temperature", "humidity", "pressure"),
    "decentlab-dl-ac": ("no2", "no", "o3", "temperature", "humidity"),  # not co: its cell saturates below 100 mg/m³
    "elsys-ers-co2": ("co2", "temperature", "humidity"),
}
IMPLAUSIBLE: dict[str, float] = {  # a value the sensor can encode but no real sensor reports
    "pm2_5": 1500.0, "pm10": 1800.0, "pm1_0": 1200.0, "temperature": 110.0, "humidity": 110.0,
    "pressure": 1250.0, "co2": 12000.0, "no2": 2500.0, "no": 2500.0,
    "o3": 2500.0,
}
DRIFT_PER_DAY: dict[str, float] = {  # default drift slope, units per day
    "pm2_5": 8.0, "pm10": 10.0, "pm1_0": 6.0, "temperature": 1.5, "humidity": 4.0, "pressure": 3.0, "co2": 150.0,
    "no2": 6.0, "no": 6.0, "o3": 6.0,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
DEFAULT_DURATION = {"spike": 600.0, "garbled_payload": 3600.0, "counter_reset": 60.0}  # s


class FaultSpecError(ValueError):
    """A fault spec names an unknown kind or device, or has a malformed time."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault on one device over [start, end) (epoch seconds)."""

    id: str
    kind: str
    dev_eui: str
    device: str
    start: float
    end: float
    quantity: str = ""
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def overlaps(self, start: float, end: float) -> bool:
        """Whether the fault is active somewhere in [start, end)."""
        return self.start < end and self.end > start

    @property
    def ghost_eui(self) -> str:
        """The unregistered DevEUI an ``unknown_device`` fault sends from."""
        return "DEADBEEF" + self.dev_eui[8:]


def parse_duration(value: Any, what: str) -> float:
    """``90`` / ``"90s"`` / ``"30m"`` / ``"2h"`` / ``"1d"`` → seconds.

    Raises:
        FaultSpecError: not a duration.
    """
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise FaultSpecError(f"{what} must be a duration like 90s, 30m, 2h or 1d, got {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _parse_time(value: Any, town: Town, what: str) -> float:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise FaultSpecError(f"{what} must be an ISO date-time, got {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=town.timezone)
    return moment.timestamp()


def load_spec(path: Path) -> dict[str, Any]:
    """Read a fault spec file.

    Raises:
        FaultSpecError: missing or malformed file.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FaultSpecError(f"cannot read fault spec {path}: {exc}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise FaultSpecError(f"{path}: a fault spec is a mapping with 'faults' and/or 'random'")
    return raw


def _check_kind(kind: Any, device: SimDevice, where: str) -> str:
    if kind not in FAULT_KINDS:
        raise FaultSpecError(f"{where}: unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
    if device.kind not in FAULT_KINDS[kind][0]:
        allowed = ", ".join(sorted(FAULT_KINDS[kind][0]))
        raise FaultSpecError(f"{where}: {kind} applies to {allowed} devices, not to {device.name} ({device.kind})")
    return str(kind)


def _quantity(kind: str, device: SimDevice, raw: Any, where: str) -> str:
    if device.kind != "air" or kind not in ("stuck_value", "spike", "drift", "implausible_value"):
        return ""
    allowed = AIR_QUANTITIES.get(device.model, ("pm2_5",))
    quantity = str(raw) if raw else allowed[0]
    if quantity not in allowed:
        raise FaultSpecError(f"{where}: {device.model} has no fault quantity {quantity!r}; use one of {allowed}")
    return quantity


def _params(kind: str, quantity: str, raw: dict[str, Any]) -> dict[str, Any]:
    params = dict(raw.get("params") or {})
    if kind == "spike":
        params.setdefault("factor", 8.0)
    elif kind == "drift":
        params.setdefault("per_day", DRIFT_PER_DAY.get(quantity, 1.0))
    elif kind == "implausible_value":
        params.setdefault("value", IMPLAUSIBLE.get(quantity, 1e6))
    return params


def _one(raw: Any, index: int, town: Town, run_start: float) -> Fault:
    where = f"faults[{index}]"
    if not isinstance(raw, dict):
        raise FaultSpecError(f"{where}: a fault is a mapping with kind, device and start/after")
    try:
        device = town.device(str(raw.get("device", "")))
    except TownError as exc:
        raise FaultSpecError(f"{where}: {exc}") from exc
    kind = _check_kind(raw.get("kind"), device, where)
    if "start" in raw:
        start = _parse_time(raw["start"], town, f"{where}.start")
    else:
        start = run_start + parse_duration(raw.get("after", 0), f"{where}.after")
    if "end" in raw:
        end = _parse_time(raw["end"], town, f"{where}.end")
    else:
        end = start + parse_duration(raw.get("duration", DEFAULT_DURATION.get(kind, 3600)), f"{where}.duration")
    if end <= start:
        raise FaultSpecError(f"{where}: the fault ends before it starts")
    quantity = _quantity(kind, device, raw.get("quantity"), where)
    return Fault(f"F{index + 1:04d}", kind, device.dev_eui, device.name, start, end, quantity,
                 _params(kind, quantity, raw))


def _random(spec: dict[str, Any], town: Town, start: float, end: float, seed: int, first: int) -> list[Fault]:
    count = int(spec.get("count", 0))
    kinds = list(spec.get("kinds") or FAULT_KINDS)
    for kind in kinds:
        if kind not in FAULT_KINDS:
            raise FaultSpecError(f"random.kinds: unknown fault kind {kind!r}")
    low, high = (parse_duration(v, "random.duration") for v in spec.get("duration", ["30m", "6h"]))
    rng = np.random.default_rng([seed, 0xFA17])
    out: list[Fault] = []
    for n in range(count):
        kind = kinds[n % len(kinds)]
        candidates = [d for d in town.devices if d.kind in FAULT_KINDS[kind][0]]
        device = candidates[int(rng.integers(len(candidates)))]
        length = DEFAULT_DURATION.get(kind) or float(rng.uniform(low, high))
        length = min(length, max(60.0, (end - start) / 4))
        begin = float(rng.uniform(start, max(start, end - length)))
        quantity = _quantity(kind, device, None, "random")
        out.append(Fault(f"F{first + n + 1:04d}", kind, device.dev_eui, device.name, round(begin, 3),
                         round(begin + length, 3), quantity, _params(kind, quantity, {})))
    return out


def resolve_faults(spec: dict[str, Any], town: Town, *, start: float, end: float, seed: int) -> list[Fault]:
    """Turn a spec into concrete faults for a run over [start, end) (epoch seconds).

    Raises:
        FaultSpecError: the spec is malformed; the message names the entry.
    """
    listed = spec.get("faults") or []
    if not isinstance(listed, list):
        raise FaultSpecError("'faults' must be a list")
    faults = [_one(raw, i, town, start) for i, raw in enumerate(listed)]
    random_spec = spec.get("random")
    if random_spec:
        if not isinstance(random_spec, dict):
            raise FaultSpecError("'random' must be a mapping with count, kinds and duration")
        faults += _random(random_spec, town, start, end, seed, len(faults))
    return faults


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def ground_truth(faults: list[Fault], town: Town, *, start: float, end: float, seed: int) -> dict[str, Any]:
    """The answer key as a JSON-ready document."""
    by_eui = {d.dev_eui: d for d in town.devices}
    entries = []
    for f in faults:
        dev = by_eui[f.dev_eui]
        entries.append({
            "id": f.id,
            "kind": f.kind,
            "dev_eui": f.ghost_eui if f.kind == "unknown_device" else f.dev_eui,
            "device": f.device,
            "model": dev.model,
            "class": dev.catalog.device_class.value,
            "site": dev.site,
            "municipality": dev.municipality,
            "quantity": f.quantity,
            "start": _iso(f.start),
            "end": _iso(f.end),
            "start_ns": round(f.start * 1e9),
            "end_ns": round(f.end * 1e9),
            "expect": FAULT_KINDS[f.kind][1],
            "params": f.params,
        })
    return {"town": town.name, "seed": seed, "start": _iso(start), "end": _iso(end), "faults": entries}


def write_ground_truth(path: Path, document: dict[str, Any]) -> None:
    """Write the answer key (JSON, UTF-8)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
