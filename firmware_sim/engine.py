"""The simulation: units of devices → frames → radio-path faults → network-server envelopes, one day at a time.

A :class:`Simulation` can run all units of a town or a subset (the backfill splits units across processes);
every unit draws from its own seeded random stream per day, so the output does not depend on the split.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from devices.codecs import native_codec
from firmware_sim.faults import Fault
from firmware_sim.firmware import UNIT_CLASSES, Frame, Unit
from firmware_sim.radio import Delivery, DeviceRadio, Radio, RadioStats
from firmware_sim.town import SimDevice, Town
from firmware_sim.world import make_day

PARKING_CHUNK = 400  # bays simulated together (vectorised); fixed, so results do not depend on the split
GARBLE_TRIES = 40
RADIO_FAULTS = ("offline", "garbled_payload", "unknown_device")
_Batch = tuple[DeviceRadio, list[float], list[tuple[int, bytes, bool]]]


@dataclass(frozen=True, slots=True)
class UnitSpec:
    """Which devices form one unit, and its expected share of the work (uplinks per day)."""

    key: str
    kind: str
    devices: tuple[SimDevice, ...]
    cost: float


def unit_specs(town: Town) -> list[UnitSpec]:
    """The units of a town: parking lots in chunks of bays, every counter and air station on its own."""
    specs: list[UnitSpec] = []
    for site in town.sites:
        if site.kind == "parking":
            for n in range(0, len(site.devices), PARKING_CHUNK):
                chunk = site.devices[n : n + PARKING_CHUNK]
                specs.append(UnitSpec(f"{site.id}/{n // PARKING_CHUNK}", "parking", chunk, 15.0 * len(chunk)))
        else:
            for dev in site.devices:
                interval = dev.catalog.report_interval or 600
                specs.append(UnitSpec(dev.name, site.kind, (dev,), 86400 / interval))
    return specs


def split_units(specs: Sequence[UnitSpec], parts: int) -> list[list[str]]:
    """Unit keys split into ``parts`` groups of about equal cost (greedy, largest first)."""
    groups: list[list[str]] = [[] for _ in range(max(1, parts))]
    load = [0.0] * len(groups)
    for spec in sorted(specs, key=lambda s: -s.cost):
        i = load.index(min(load))
        groups[i].append(spec.key)
        load[i] += spec.cost
    return [g for g in groups if g]


def garble(payload: bytes, f_port: int, codec: str, rng: np.random.Generator) -> tuple[int, bytes]:
    """A corrupted frame the device's codec refuses: truncated or random bytes, else an unused fPort."""
    decode = native_codec(codec).decode
    candidates = [payload[: len(payload) // 2]] if len(payload) > 1 else []
    candidates += [rng.bytes(int(rng.integers(1, 24))) for _ in range(GARBLE_TRIES)]
    for candidate in candidates:
        if candidate and decode(f_port, candidate)["errors"]:
            return f_port, candidate
    for port in (224, 99, 200):
        candidate = rng.bytes(7)
        if decode(port, candidate)["errors"]:
            return port, candidate
    return f_port, b"\xff" * 3  # a codec that accepts everything: the payload is at least not the original


class Simulation:
    """Generates a town's uplinks day by day, for all units or for ``units`` (keys) only."""

    def __init__(self, town: Town, *, seed: int, fmt: str = "mixed", faults: Sequence[Fault] = (),
                 run_start: float, units: Iterable[str] | None = None) -> None:
        self.town = town
        self.seed = seed
        self.faults = list(faults)
        self.radio = Radio(town.network, fmt=fmt, seed=seed)
        wanted = set(units) if units is not None else None
        self.units: list[Unit] = []
        for spec in unit_specs(town):
            if wanted is not None and spec.key not in wanted:
                continue
            eui = {d.dev_eui for d in spec.devices}
            unit_faults = [f for f in self.faults if f.dev_eui in eui]
            self.units.append(UNIT_CLASSES[spec.kind](
                spec.key, spec.devices, seed=seed, faults=unit_faults, run_start=run_start,
                rejoin_per_year=town.network.radio.rejoin_per_year,
            ))
        self._radios: dict[str, DeviceRadio] = {}

    @property
    def stats(self) -> RadioStats:
        """The radio's counts so far."""
        return self.radio.stats

    def _device_radio(self, device: SimDevice, ghost: str | None = None) -> DeviceRadio:
        key = ghost or device.dev_eui
        radio = self._radios.get(key)
        if radio is None:
            radio = self._radios[key] = self.radio.device(device, dev_eui=ghost)
        return radio

    def day_steps(self, day: date) -> Iterator[list[Delivery]]:
        """The deliveries of local ``day``, one unit at a time (unsorted)."""
        the_day = make_day(self.town, self.seed, day)
        for unit in self.units:
            frames = unit.frames(the_day)
            rng = np.random.default_rng([self.seed, zlib.crc32(unit.key.encode()), day.toordinal(), 0xA1])
            yield self._transmit(unit, frames, rng, the_day.start, the_day.end)

    def day(self, day: date) -> list[Delivery]:
        """Every envelope the network server delivers for frames sent during local ``day`` (unsorted)."""
        return [d for part in self.day_steps(day) for d in part]

    def _transmit(self, unit: Unit, frames: list[Frame], rng: np.random.Generator,
                  start: float, end: float) -> list[Delivery]:
        frames.sort(key=lambda f: (f[1], f[0]))
        faults = [(i, f) for i, f in unit.faults if f.kind in RADIO_FAULTS and f.overlaps(start, end)]
        batches: list[_Batch] = []
        lo = 0
        while lo < len(frames):
            index = frames[lo][1]
            hi = lo
            while hi < len(frames) and frames[hi][1] == index:
                hi += 1
            mine = [f for i, f in faults if i == index]
            batches += self._batches(unit.devices[index], frames[lo:hi], mine, rng)
            lo = hi
        draws = self.radio.draw([(radio.link, len(times)) for radio, times, _ in batches], rng)
        out: list[Delivery] = []
        offset = 0
        for radio, times, payloads in batches:
            out += self.radio.transmit(radio, times, payloads, draws, offset)
            offset += len(times)
        return out

    def _batches(self, device: SimDevice, frames: list[Frame], faults: list[Fault],
                 rng: np.random.Generator) -> list[_Batch]:
        """The frames one device sends after the radio-path faults, plus those of an unregistered twin."""
        times = [f[0] for f in frames]
        payloads = [(f[2], f[3], f[4]) for f in frames]
        batches: list[_Batch] = []
        for fault in faults:
            keep = [not (fault.start <= t < fault.end) for t in times]
            if fault.kind == "offline":
                times = [t for t, k in zip(times, keep, strict=True) if k]
                payloads = [p for p, k in zip(payloads, keep, strict=True) if k]
            elif fault.kind == "garbled_payload":
                for i, k in enumerate(keep):
                    if not k:
                        port, raw = garble(payloads[i][1], payloads[i][0], device.catalog.codec, rng)
                        payloads[i] = (port, raw, payloads[i][2])
                        self.radio.stats.garbled += 1
            else:  # unknown_device: an unregistered twin sends the same frames
                ghost_times = [t for t, k in zip(times, keep, strict=True) if not k]
                ghost_payloads = [p for p, k in zip(payloads, keep, strict=True) if not k]
                self.radio.stats.ghost += len(ghost_times)
                batches.append((self._device_radio(device, fault.ghost_eui), ghost_times, ghost_payloads))
        return [(self._device_radio(device), times, payloads), *batches]
