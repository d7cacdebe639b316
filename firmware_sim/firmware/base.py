"""What every simulated device family shares: frames, units of devices simulated together, report times.

A *unit* is a group of devices simulated together (a parking lot's bays are vectorised together). For each
local day a unit returns its frames ``(t, device index, fPort, payload, rejoin)``. Each family's module turns
the world's values into frames with the encoders of the model's own codec (``encode_*`` in ``devices.codecs``),
so what ingest decodes is byte-accurate and the vendors' formulas live in one place.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from firmware_sim.faults import Fault
from firmware_sim.town import SimDevice
from firmware_sim.world import MINUTES, Day, FloatArray

Frame = tuple[float, int, int, bytes, bool]  # (t epoch s, device index, fPort, payload, re-join before it)
DEFAULT_HEARTBEAT = 3600  # s, when the catalog names none
DEFAULT_REPORT = {"footfall": 600, "air": 600}  # s
INSTALLED = datetime(2024, 3, 1, tzinfo=UTC).timestamp()  # the town's sensors went in around then
SECONDS_PER_YEAR = 365.25 * 86400


def key_hash(text: str) -> int:
    """A stable 32-bit hash of ``text`` (seeds the random streams of units and devices)."""
    return zlib.crc32(text.encode())


class Unit:
    """Devices simulated together; subclasses produce one local day of frames at a time."""

    def __init__(self, key: str, devices: Sequence[SimDevice], *, seed: int, faults: Sequence[Fault],
                 run_start: float, rejoin_per_year: float) -> None:
        self.key = key
        self.devices = tuple(devices)
        self.seed = seed
        self.run_start = run_start
        self.rejoin_per_year = rejoin_per_year
        index = {d.dev_eui: i for i, d in enumerate(self.devices)}
        self.faults = [(index[f.dev_eui], f) for f in faults if f.dev_eui in index]
        self.started = False
        static = np.random.default_rng([seed, key_hash(key), 0x57A7])
        self.phase = static.random(len(self.devices))  # 0..1 of the reporting interval
        self.battery0 = static.normal(0.0, 1.0, len(self.devices))
        self.installed = INSTALLED + static.uniform(0, 200 * 86400, len(self.devices))

    def rng(self, day: Day) -> np.random.Generator:
        """The random stream of this unit for one day (independent of which process runs it)."""
        return np.random.default_rng([self.seed, key_hash(self.key), day.info.day.toordinal()])

    def frames(self, day: Day) -> list[Frame]:
        """All frames the unit's devices send during ``day``, in no particular order."""
        rng = self.rng(day)
        out = self.generate(day, rng)
        self.started = True
        return out

    def generate(self, day: Day, rng: np.random.Generator) -> list[Frame]:
        """The frames of ``day``; each device family implements it."""
        raise NotImplementedError

    def day_faults(self, day: Day, *kinds: str) -> list[tuple[int, Fault]]:
        """This unit's faults of the given kinds active during ``day``."""
        return [(i, f) for i, f in self.faults if f.kind in kinds and f.overlaps(day.start, day.end)]

    def rejoins(self, day: Day, rng: np.random.Generator) -> dict[int, float]:
        """Devices that reset spontaneously during ``day`` → the time of the reset."""
        p = self.rejoin_per_year / 365.0
        hits = np.nonzero(rng.random(len(self.devices)) < p)[0]
        return {int(i): float(day.start + rng.random() * (day.end - day.start)) for i in hits}

    def age_years(self, t: float, device: int) -> float:
        """How long ``device`` has been installed at ``t``, years."""
        return max(0.0, (t - float(self.installed[device])) / SECONDS_PER_YEAR)


def periodic_times(day: Day, interval: float, phase: float, *, not_before: float) -> FloatArray:
    """``phase·interval + k·interval`` within [max(day.start, not_before), day.end)."""
    low = max(day.start, not_before)
    first = math.ceil((low - phase * interval) / interval) * interval + phase * interval
    return np.arange(first, day.end, interval, dtype=np.float64)


def local_minutes(day: Day, times: FloatArray) -> FloatArray:
    """Local minute of day (0..1440) of epoch ``times``."""
    return np.clip((times - day.start) / day.minute_seconds, 0, MINUTES - 1e-6)
