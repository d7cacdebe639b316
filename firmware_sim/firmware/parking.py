"""Parking sensors (Nwave NPS405, Bosch TPS110): a status frame on fPort 1 at every change, a heartbeat on
fPort 2 every ``heartbeat_interval``, a startup frame on fPort 3 after power-on and every reset.

Visitors: each bay is a two-state Markov chain whose rates make its occupancy follow the lot's demand curve
(departures speed up when demand falls, so a commuter lot empties in the evening). Bays fill in their numbered
order (``fill_spread``): bay 1 by the entrance is taken first, the top deck last. Residents (``overnight_share``
of the bays) are their own population: they park in the evening and leave in the morning, one stay a night.
A stuck-value fault holds a bay's state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from devices.codecs import bosch_tps110, nwave_nps405
from firmware_sim.firmware.base import DEFAULT_HEARTBEAT, Frame, Unit, key_hash, local_minutes
from firmware_sim.town import SimDevice
from firmware_sim.world import MINUTES, Day, FloatArray, parking_demand

BoolArray = npt.NDArray[np.bool_]
RESIDENT_NIGHTS = 0.9  # share of nights a resident's car is there
RESIDENT_HOME = (18.3 * 60, 90.0)  # minutes: mean and sd of the evening arrival
RESIDENT_LEAVES = {"workday": (7.3 * 60, 50.0), "weekend": (9.5 * 60, 75.0)}  # minutes: the morning departure
_MINUTES = np.arange(MINUTES, dtype=np.float64)


def fill_levels(places: FloatArray, spread: float) -> tuple[FloatArray, FloatArray]:
    """(lot demand grid, logistic centre) such that bays at ``places`` (0 entrance .. 1 top) whose demand is
    ``1 / (1 + exp(-(centre - place) / spread))`` are occupied ``demand`` on average.
    """
    grid = np.linspace(0.005, 0.995, 199)
    low, high = np.full(grid.size, -6.0), np.full(grid.size, 7.0)
    for _ in range(40):
        mid = (low + high) / 2
        mean = (1.0 / (1.0 + np.exp(-(mid[:, None] - places[None, :]) / spread))).mean(axis=1)
        low = np.where(mean < grid, mid, low)
        high = np.where(mean < grid, high, mid)
    return grid, (low + high) / 2


class ParkingUnit(Unit):
    """Bays of one lot: a two-state Markov chain per bay whose rates follow the lot's demand curve."""

    NWAVE_FIRMWARE = "2.4.9"
    BOSCH_FIRMWARE = "0.29.2"

    def __init__(self, key: str, devices: Sequence[SimDevice], **kwargs: Any) -> None:
        super().__init__(key, devices, **kwargs)
        entry = self.devices[0].catalog
        self.nwave = entry.model.startswith("nwave")
        params = self.devices[0].params
        n = len(self.devices)
        self.site = self.devices[0].site
        self.profile = str(params.get("profile", "centre"))
        self.dwell = float(params.get("dwell_minutes", 120))
        self.heartbeat = float(entry.heartbeat_interval or DEFAULT_HEARTBEAT)
        self.state = np.zeros(n, dtype=bool)
        self.visitors = np.zeros(n, dtype=bool)
        self.last_change = np.zeros(n)
        people = np.random.default_rng([self.seed, key_hash(key), 0x8E51])
        self.resident = people.random(n) < float(params.get("overnight_share", 0.0))
        self.resident_home = np.zeros(n, dtype=bool)  # a resident's car is there now (carried over midnight)
        self.spread = float(params.get("fill_spread", 0.0))
        count = int(params.get("count", n))
        self.place = (np.array([float(d.params.get("bay", i)) for i, d in enumerate(self.devices)]) + 0.5) / count
        self.levels = fill_levels((np.arange(count) + 0.5) / count, self.spread) if self.spread > 0 else None

    def demand(self, day: Day) -> FloatArray:
        """Visitors' target occupancy per minute and bay, shape (MINUTES, bays)."""
        lot = parking_demand(self.profile, day, site=self.site)
        if self.levels is None:
            return np.repeat(lot[:, None], len(self.devices), axis=1)
        centre = np.interp(lot, *self.levels)
        bays: FloatArray = 1.0 / (1.0 + np.exp(-(centre[:, None] - self.place[None, :]) / self.spread))
        return np.clip(bays, 0.005, 0.995)

    def _rates(self, day: Day, demand: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Per-minute probabilities of an arrival at a free bay and a departure from an occupied one, such that
        occupancy follows ``demand``: stays last ``dwell_minutes`` on average, longer ones end sooner when demand
        falls (the evening exodus of a commuter lot).
        """
        mu0 = day.minute_seconds / 60.0 / self.dwell
        slope = np.gradient(demand, axis=0)
        mu = mu0 + np.maximum(0.0, -slope) / demand
        lam = (mu0 * demand + np.maximum(0.0, slope)) / (1.0 - demand)
        return -np.expm1(-lam), -np.expm1(-mu)

    def _residents(self, day: Day, rng: np.random.Generator) -> BoolArray:
        """Where residents' cars stand, shape (MINUTES, bays): from last night until the morning, and from the
        evening on for tonight.
        """
        n = len(self.devices)
        if not self.started:
            self.resident_home = self.resident & (rng.random(n) < RESIDENT_NIGHTS)
        leave_mean, leave_sd = RESIDENT_LEAVES["workday" if day.info.day_type == "workday" else "weekend"]
        leave = np.clip(rng.normal(leave_mean, leave_sd, n), 300.0, 720.0)
        home = np.clip(rng.normal(*RESIDENT_HOME, n), 900.0, MINUTES - 1.0)
        tonight = self.resident & (rng.random(n) < RESIDENT_NIGHTS)
        minute = _MINUTES[:, None]
        parked: BoolArray = (self.resident_home[None, :] & (minute < leave[None, :])) | (
            tonight[None, :] & (minute >= home[None, :]))
        self.resident_home = tonight
        return parked

    def _simulate(self, day: Day, rng: np.random.Generator) -> tuple[BoolArray, BoolArray]:
        """Flip and state matrices, shape (MINUTES, bays)."""
        demand = self.demand(day)
        p_arrive, p_depart = self._rates(day, demand)
        residents = self._residents(day, rng)
        if not self.started:
            self.visitors = rng.random(len(self.devices)) < demand[0]
            self.state = self.visitors | residents[0]
            self.last_change[:] = day.start - rng.uniform(0, 4 * 3600, len(self.devices))
        draws = rng.random((MINUTES, len(self.devices)))
        arrive = (draws < p_arrive) & ~residents  # a resident's car leaves no room for a visitor
        depart = draws < p_depart
        states = np.empty_like(arrive)
        visitors = self.visitors
        for m in range(MINUTES):  # a bay's next state depends on its state: sequential in time, vector over bays
            visitors = np.where(visitors, ~depart[m], arrive[m])
            np.logical_or(visitors, residents[m], out=states[m])
        self.visitors = visitors
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
        out: list[Frame] = []  # the sensors were installed before the run: no power-on at its start
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
        ground = day.through_day("temp_mean", minute) + 0.5 * day.through_day("temp_amplitude", minute) * np.sin(
            (minute / 60.0 - 10.0) * math.pi / 12.0)
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
