"""Labelled faults: a spec (YAML) → concrete faults with device and window → a ground-truth file.

A spec lists faults and/or asks for random ones::

    faults:
      - {kind: stuck_value, device: ring-ost, quantity: pm2_5, start: "2025-03-01T08:00", duration: 6h}
      - {kind: offline, device: parkhaus-altstadt-017, after: 2h, duration: 30m}
    random: {count: 20, kinds: [spike, drift, offline], duration: [30m, 12h]}

The file's form is checked by pydantic models; what depends on the town (the device, whether the kind applies
to it, the quantity) when the spec is resolved against it. Every error names the file, the place and the field.
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
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, TypeAdapter, model_validator

from devices.specfile import location, read_yaml, validate
from firmware_sim.town import SimDevice, Town, TownError
from stadtpuls.errors import ConfigError

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


class FaultSpecError(ConfigError, ValueError):
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


# --- the file's form -------------------------------------------------------------------------------------------


def _duration(value: Any) -> float:
    try:
        return parse_duration(value, "duration")
    except FaultSpecError:
        raise ValueError(f"must be a duration like 90s, 30m, 2h or 1d, got {value!r}") from None


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"must be an ISO date-time like 2025-03-01T08:00, got {value!r}") from exc


def _kind(value: Any) -> str:
    if value not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {value!r}; known: {', '.join(FAULT_KINDS)}")
    return str(value)


Duration = Annotated[float, BeforeValidator(_duration)]  # s
Moment = Annotated[datetime, BeforeValidator(_moment)]
Kind = Annotated[str, BeforeValidator(_kind)]


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _FaultEntry(_Form):
    kind: Kind
    device: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    quantity: str | None = None
    start: Moment | None = None  # local time of the town unless it carries an offset
    after: Duration | None = None  # s after the start of the run
    end: Moment | None = None
    duration: Duration | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_way(self) -> _FaultEntry:
        if self.start is not None and self.after is not None:
            raise ValueError("give start or after, not both")
        if self.end is not None and self.duration is not None:
            raise ValueError("give end or duration, not both")
        return self


class _RandomFaults(_Form):
    count: int = Field(default=0, ge=0, le=100_000)
    kinds: list[Kind] | None = Field(default=None, min_length=1)
    duration: tuple[Duration, Duration] = (1800.0, 21600.0)  # s, shortest and longest

    @model_validator(mode="after")
    def _ordered(self) -> _RandomFaults:
        if self.duration[0] > self.duration[1]:
            raise ValueError("duration must be [shortest, longest]")
        return self


class _SpecForm(_Form):
    faults: list[_FaultEntry] = Field(default_factory=list)
    random: _RandomFaults | None = None


_SPEC_FORM = TypeAdapter(_SpecForm)
_IN_CODE = Path("<fault spec>")  # the name of a spec given as a mapping rather than a file


@dataclass(frozen=True)
class FaultSpec:
    """A checked fault spec: listed faults and the random ones asked for; ``path`` and ``document`` name the
    places in messages about faults that do not fit the town.
    """

    form: _SpecForm
    path: Path
    document: Any

    @classmethod
    def of(cls, document: Any, path: Path = _IN_CODE) -> FaultSpec:
        """Validate a parsed spec.

        Raises:
            FaultSpecError: each line names the file, the place and the field.
        """
        form = validate(_SPEC_FORM, {} if document is None else document, path=path, error=FaultSpecError,
                        labels=("device",))
        return cls(form, path, document)

    def where(self, *loc: str | int) -> str:
        """``<file>: faults[2] (ring-ost).device`` for a message about the value at ``loc``."""
        return f"{self.path}: {location(loc, self.document, ('device',))}"


def load_spec(path: Path) -> FaultSpec:
    """Read and check a fault spec file.

    Raises:
        FaultSpecError: missing or malformed file; the message names the file, the place and the field.
    """
    return FaultSpec.of(read_yaml(Path(path), FaultSpecError), Path(path))


# --- resolving against a town ----------------------------------------------------------------------------------


def _check_kind(kind: str, device: SimDevice, where: str) -> str:
    if device.kind not in FAULT_KINDS[kind][0]:
        allowed = ", ".join(sorted(FAULT_KINDS[kind][0]))
        raise FaultSpecError(f"{where}: {kind} applies to {allowed} devices, not to {device.name} ({device.kind})")
    return kind


def _quantity(kind: str, device: SimDevice, raw: str | None, where: str) -> str:
    if device.kind != "air" or kind not in ("stuck_value", "spike", "drift", "implausible_value"):
        return ""
    allowed = AIR_QUANTITIES.get(device.model, ("pm2_5",))
    quantity = raw or allowed[0]
    if quantity not in allowed:
        raise FaultSpecError(f"{where}: {device.model} has no fault quantity {quantity!r}; use one of {allowed}")
    return quantity


def _params(kind: str, quantity: str, given: dict[str, Any]) -> dict[str, Any]:
    params = dict(given)
    if kind == "spike":
        params.setdefault("factor", 8.0)
    elif kind == "drift":
        params.setdefault("per_day", DRIFT_PER_DAY.get(quantity, 1.0))
    elif kind == "implausible_value":
        params.setdefault("value", IMPLAUSIBLE.get(quantity, 1e6))
    return params


def _seconds(moment: datetime, town: Town) -> float:
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=town.timezone)).timestamp()


def _one(entry: _FaultEntry, index: int, spec: FaultSpec, town: Town, run_start: float) -> Fault:
    try:
        device = town.device(entry.device)
    except TownError as exc:
        raise FaultSpecError(f"{spec.where('faults', index, 'device')}: {exc}") from exc
    kind = _check_kind(entry.kind, device, spec.where("faults", index, "kind"))
    start = _seconds(entry.start, town) if entry.start is not None else run_start + (entry.after or 0.0)
    if entry.end is not None:
        end = _seconds(entry.end, town)
    else:
        end = start + (entry.duration if entry.duration is not None else DEFAULT_DURATION.get(kind, 3600.0))
    if end <= start:
        raise FaultSpecError(f"{spec.where('faults', index)}: the fault ends before it starts")
    quantity = _quantity(kind, device, entry.quantity, spec.where("faults", index, "quantity"))
    return Fault(f"F{index + 1:04d}", kind, device.dev_eui, device.name, start, end, quantity,
                 _params(kind, quantity, entry.params))


def _random(spec: _RandomFaults, town: Town, start: float, end: float, seed: int, first: int) -> list[Fault]:
    kinds = spec.kinds or list(FAULT_KINDS)
    low, high = spec.duration
    rng = np.random.default_rng([seed, 0xFA17])
    out: list[Fault] = []
    for n in range(spec.count):
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


def resolve_faults(spec: FaultSpec | dict[str, Any], town: Town, *, start: float, end: float,
                   seed: int) -> list[Fault]:
    """Turn a spec (from :func:`load_spec`, or a mapping of the same form) into concrete faults for a run over
    [start, end) (epoch seconds).

    Raises:
        FaultSpecError: the spec is malformed or names what the town does not have; the message names the entry.
    """
    checked = spec if isinstance(spec, FaultSpec) else FaultSpec.of(spec)
    faults = [_one(entry, i, checked, town, start) for i, entry in enumerate(checked.form.faults)]
    if checked.form.random is not None:
        faults += _random(checked.form.random, town, start, end, seed, len(faults))
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
