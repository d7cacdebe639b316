"""Parking sensors (Nwave NPS405, Bosch TPS110): a status frame on fPort 1 at every change, a heartbeat on
fPort 2 every ``heartbeat_interval``, a startup frame on fPort 3 after power-on and every reset.

Each bay is a two-state Markov chain whose rates follow the lot's demand curve; a stuck-value fault holds a
bay's state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from devices.codecs import bosch_tps110, nwave_nps405
from firmware_sim.firmware.base import DEFAULT_HEARTBEAT, Frame, Unit, local_minutes
from firmware_sim.town import SimDevice
from firmware_sim.world import MINUTES, Day, FloatArray, parking_demand


class ParkingUnit(Unit):
    """Bays of one lot: a two-state Markov chain per bay whose rates follow the lot's demand curve."""

    NWAVE_FIRMWARE = "2.4.9"
    BOSCH_FIRMWARE = "0.29.2"

    def __init__(self, key: str, devices: Sequence[SimDevice], **kwargs: Any) -> None:
        super().__init__(key, devices, **kwargs)
        entry = self.devices[0].catalog
        self.nwave = entry.model.startswith("nwave")
        self.profile = str(self.devices[0].params.get("profile", "centre"))
        self.dwell = float(self.devices[0].params.get("dwell_minutes", 120))
        self.heartbeat = float(entry.heartbeat_interval or DEFAULT_HEARTBEAT)
        self.state = np.zeros(len(self.devices), dtype=bool)
        self.last_change = np.zeros(len(self.devices))

    def _rates(self, day: Day) -> tuple[FloatArray, FloatArray]:
        """Per-minute probabilities of an arrival at a free bay and a departure from an occupied one."""
        demand = parking_demand(self.profile, day)
        minutes = np.arange(MINUTES)
        dwell = np.where((minutes < 6 * 60) | (minutes >= 22 * 60), self.dwell * 3.0, self.dwell)
        mu = day.minute_seconds / 60.0 / dwell
        lam = mu * demand / (1.0 - demand)
        return -np.expm1(-lam), -np.expm1(-mu)

    def _simulate(self, day: Day, rng: np.random.Generator) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Flip and state matrices, shape (MINUTES, bays)."""
        p_arrive, p_depart = self._rates(day)
        if not self.started:
            self.state = rng.random(len(self.devices)) < parking_demand(self.profile, day)[0]
            self.last_change[:] = day.start - rng.uniform(0, 4 * 3600, len(self.devices))
        draws = rng.random((MINUTES, len(self.devices)))
        arrive = draws < p_arrive[:, None]
        depart = draws < p_depart[:, None]
        states = np.empty_like(arrive)
        previous = self.state
        for m in range(MINUTES):  # a bay's next state depends on its state: sequential in time, vector over bays
            np.logical_xor(previous, np.where(previous, depart[m], arrive[m]), out=states[m])
            previous = states[m]
        flips = np.empty_like(states)
        flips[0] = states[0] != self.state
        flips[1:] = states[1:] != states[:-1]
        return flips, states

    def _apply_stuck(self, day: Day, flips: npt.NDArray[np.bool_], states: npt.NDArray[np.bool_],
                     initial: npt.NDArray[np.bool_]) -> None:
        for bay, fault in self.day_faults(day, "stuck_value"):
            lo = max(0, int((fault.start - day.start) // day.minute_seconds))
            hi = min(MINUTES, math.ceil((fault.end - day.start) / day.minute_seconds))
            held = states[lo - 1, bay] if lo > 0 else initial[bay]
            states[lo:hi, bay] = held
            column = np.concatenate([[initial[bay]], states[:, bay]])
            flips[:, bay] = column[1:] != column[:-1]

    def generate(self, day: Day, rng: np.random.Generator) -> list[Frame]:
        """The frames the parking sensor sends on ``day``."""
        initial = self.state.copy() if self.started else None
        flips, states = self._simulate(day, rng)
        if initial is None:
            initial = self.state.copy()
        self._apply_stuck(day, flips, states, initial)
        out: list[Frame] = []
        if not self.started:
            out += self._startups(day, rng, {i: self.first_time(day) for i in range(len(self.devices))}, initial,
                                  cause="power_on")
        out += self._status_frames(day, rng, flips, states)
        out += self._heartbeats(day, rng, states)
        out += self._startups(day, rng, self.rejoins(day, rng), states, cause="watchdog")
        self.state = states[-1].copy()
        return out

    def _status_frames(self, day: Day, rng: np.random.Generator, flips: npt.NDArray[np.bool_],
                       states: npt.NDArray[np.bool_]) -> list[Frame]:
        minutes, bays = np.nonzero(flips)
        times = day.start + (minutes + rng.random(minutes.size)) * day.minute_seconds
        out: list[Frame] = []
        last = self.last_change
        for t, m, b in zip(times.tolist(), minutes.tolist(), bays.tolist(), strict=True):
            occupied = bool(states[m, b])
            if self.nwave:
                frame = nwave_nps405.encode_status(occupied, max(0, int((t - last[b]) // 60)))
            else:
                frame = bosch_tps110.encode_status(occupied)
            last[b] = t
            if t >= self.run_start:
                out.append((t, b, 1, frame, False))
        return out

    def _heartbeats(self, day: Day, rng: np.random.Generator, states: npt.NDArray[np.bool_]) -> list[Frame]:
        """Every bay's heartbeats of the day (all bays at once: phase + k·interval)."""
        low = max(day.start, self.run_start + 30)
        interval = self.heartbeat
        offsets = self.phase * interval
        first = np.ceil((low - offsets) / interval) * interval + offsets
        per_bay = math.ceil((day.end - day.start) / interval) + 1
        times = first[:, None] + interval * np.arange(per_bay)[None, :]
        bays, slots = np.nonzero(times < day.end)
        times = times[bays, slots]
        if times.size == 0:
            return []
        minute = local_minutes(day, times)
        w = day.weather
        ground = w.temp_mean + 0.5 * w.temp_amplitude * np.sin((minute / 60.0 - 10.0) * math.pi / 12.0)
        ground += rng.normal(0, 0.4, times.size)
        occupied = states[minute.astype(np.int64), bays]
        return [
            (t, b, 2, self._heartbeat_frame(b, t, occ, temp), False)
            for t, b, occ, temp in zip(times.tolist(), bays.tolist(), occupied.tolist(), ground.tolist(), strict=True)
        ]

    def _heartbeat_frame(self, bay: int, t: float, occupied: bool, temperature: float) -> bytes:
        if not self.nwave:
            return bosch_tps110.encode_heartbeat(occupied, temperature)
        volts = 3.46 + 0.02 * float(self.battery0[bay]) - 0.07 * self.age_years(t, bay)
        volts -= 0.004 * max(0.0, 5.0 - temperature)  # a cold lithium cell sags
        return nwave_nps405.encode_heartbeat(occupied, volts, temperature)

    def _startups(self, day: Day, rng: np.random.Generator, when: dict[int, float],
                  states: npt.NDArray[np.bool_], *, cause: str) -> list[Frame]:
        out: list[Frame] = []
        for b, t in when.items():
            if t < self.run_start:
                continue
            occupied = bool(states[b] if states.ndim == 1 else states[int(local_minutes(day, np.array([t]))[0]), b])
            if self.nwave:
                frame = nwave_nps405.encode_startup(self.NWAVE_FIRMWARE, cause, occupied)
            else:
                bosch_cause = {"power_on": "power on", "watchdog": "watchdog"}.get(cause, "other")
                frame = bosch_tps110.encode_startup(self.BOSCH_FIRMWARE, bosch_cause, occupied)
            out.append((t + float(rng.uniform(0, 20)), b, 3, frame, True))
        return out
