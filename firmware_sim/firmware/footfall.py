"""People counters (Milesight VS133 and VS135, IMBuildings): cumulative totals and the counts of the last
period every ``report_interval``; Poisson counts around the footfall curve, one counter per unit. Besides the
town-wide day and hour levels of the world, each counter has its own: a day level and an autocorrelated
hour-level wander (groups, a shop's offer, a street party), so counts vary more than Poisson noise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from devices.codecs import imbuildings_people_counter, milesight_vs133, milesight_vs135
from firmware_sim.firmware.base import DEFAULT_REPORT, Frame, Unit, key_hash, local_minutes, periodic_times
from firmware_sim.town import SimDevice
from firmware_sim.world import MINUTES, Day, FloatArray, footfall_rate, inward_share, texture

COUNTER_DAY_SIGMA = 0.08  # log-sd of a counter's own day level
COUNTER_WANDER = (0.12, 0.85)  # log-sd and autocorrelation per report of a counter's own hour-level wander

# (totals in and out, counts in and out of the period; dev_eui, battery V, payload counter) → frame
Send = Callable[..., bytes]


def _milesight(total_in: int, total_out: int, period_in: int, period_out: int, **_: Any) -> bytes:
    return milesight_vs133.encode_counts(total_in, total_out, period_in, period_out)


def _imbuildings(total_in: int, total_out: int, period_in: int, period_out: int, *, dev_eui: str,
                 battery: float, payload_counter: int) -> bytes:
    return imbuildings_people_counter.encode_counts(
        dev_eui.lower(), period_in=period_in, period_out=period_out, total_in=total_in, total_out=total_out,
        battery_voltage=battery, payload_counter=payload_counter,
    )


# model → (fPort, how its firmware sends one report); the VS133 and VS135 send the same line-counter items
COUNTER_FIRMWARE: dict[str, tuple[int, Send]] = {
    "milesight-vs133": (milesight_vs133.PORT, _milesight),
    "milesight-vs135": (milesight_vs135.PORT, _milesight),
    "imbuildings-people-counter": (imbuildings_people_counter.PORT_STANDARD, _imbuildings),
}


class CounterUnit(Unit):
    """One people counter at a time (each is its own unit): Poisson counts around the footfall curve."""

    def __init__(self, key: str, devices: Sequence[SimDevice], **kwargs: Any) -> None:
        super().__init__(key, devices, **kwargs)
        device = self.devices[0]
        entry = device.catalog
        if entry.model not in COUNTER_FIRMWARE:
            raise ValueError(f"no people-counter firmware for model {entry.model}")
        self.port, self.send = COUNTER_FIRMWARE[entry.model]
        self.interval = float(entry.report_interval or DEFAULT_REPORT["footfall"])
        self.peak = float(device.params.get("peak_per_hour", 600))
        self.market = float(device.params.get("market", 1.0))
        self.site = device.site
        self.totals = [0, 0]
        self.sent = 0
        self.last_report = 0.0

    def generate(self, day: Day, rng: np.random.Generator) -> list[Frame]:
        """The frames the counter sends on ``day``."""
        times = periodic_times(day, self.interval, float(self.phase[0]), not_before=self.run_start)
        if times.size == 0:
            return []
        joins = sorted(self.rejoins(day, rng).values())
        if not self.started:
            start = np.random.default_rng([self.seed, key_hash(self.key), 0x70A1])
            self.totals = [int(start.integers(10_000, 2_000_000)) for _ in range(2)]
            self.last_report = float(times[0]) - self.interval
        rate = footfall_rate(day, peak_per_hour=self.peak, market=self.market, site=self.site)
        rate *= day.minute_seconds / 3600.0
        cumulative = np.concatenate([[0.0], np.cumsum(rate)])
        edges = np.concatenate([[self.last_report], times])
        expected = np.diff(np.interp(local_minutes(day, np.clip(edges, day.start, day.end)),
                                     np.arange(MINUTES + 1), cumulative))
        expected *= float(rng.lognormal(0.0, COUNTER_DAY_SIGMA)) * texture(rng, times.size, *COUNTER_WANDER)
        share = inward_share(local_minutes(day, times))
        counts_in = rng.poisson(expected * share)
        counts_out = rng.poisson(expected * (1 - share))
        return self._frames(day, times, counts_in, counts_out, joins)

    def _frames(self, day: Day, times: FloatArray, counts_in: npt.NDArray[np.int64],
                counts_out: npt.NDArray[np.int64], joins: list[float]) -> list[Frame]:
        """Frames of the reports; the first report after a spontaneous reset re-joins (the device keeps its
        totals; only a counter-reset fault zeroes them).
        """
        faults = self.day_faults(day, "spike", "flatline_counter", "counter_reset")
        resets = sorted(f.start for _, f in faults if f.kind == "counter_reset")
        out: list[Frame] = []
        for t, c_in, c_out in zip(times.tolist(), counts_in.tolist(), counts_out.tolist(), strict=True):
            rejoin = bool(joins) and t >= joins[0]
            while joins and t >= joins[0]:
                joins.pop(0)
            for _, f in faults:
                if f.kind == "spike" and f.start <= t < f.end:
                    c_in, c_out = int(c_in * f.params.get("factor", 8)), int(c_out * f.params.get("factor", 8))
                elif f.kind == "flatline_counter" and f.start <= t < f.end:
                    c_in = c_out = 0
            if resets and t >= resets[0]:
                resets.pop(0)
                self.totals, self.sent, rejoin = [0, 0], 0, True
                c_in = c_out = 0
            c_in, c_out = min(c_in, 65535), min(c_out, 65535)
            self.totals = [(self.totals[0] + c_in) % 2**32, (self.totals[1] + c_out) % 2**32]
            self.sent += 1
            battery = round(3.0 + 0.03 * float(self.battery0[0]) - 0.12 * self.age_years(t, 0), 2)
            frame = self.send(self.totals[0], self.totals[1], c_in, c_out, dev_eui=self.devices[0].dev_eui,
                              battery=battery, payload_counter=self.sent)
            out.append((t, 0, self.port, frame, rejoin))
            self.last_report = t
        return out
