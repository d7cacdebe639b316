"""Air stations (Decentlab DL-PM and DL-AC, Elsys ERS CO2): one frame every ``report_interval`` (10 minutes);
outdoor particulate matter and gases near traffic, or indoor CO2 in a classroom, one station per unit.

The DL-AC's gas cells report electrode voltages: the world's concentrations (µg/m³, mg/m³ for CO) become ppb
with the catalog's factors, and the codec's encoder turns those into the voltages its calibration reads back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from devices.catalog import DeviceModel
from devices.codecs import decentlab_dl_ac, decentlab_dl_pm, elsys_ers_co2
from firmware_sim.faults import Fault
from firmware_sim.firmware.base import DEFAULT_REPORT, Frame, Unit, key_hash, local_minutes, periodic_times
from firmware_sim.town import SimDevice
from firmware_sim.world import Day, FloatArray, air_quality, classroom_co2

O3_PER_PPB = 2.00  # µg/m³ of ozone per ppb at 20 °C and 1013 hPa (48.00 g/mol / 24.06 l/mol)
AUX_DRIFT = {"no2": 0.4, "no": 0.8, "ox": 0.5, "co": 1.5}  # mV/K: the cells' zero moves with temperature
# Cumulative number concentrations (particles per cm³): PM0.5 and PM1 per µg/m³ of PM1, then what the coarser
# mass adds: few particles per µg/m³ above 2.5 µm (a 3 µm particle weighs about 20 pg), so PM2.5, PM4 and PM10
# counts differ by tenths
NUMBER_PER_MASS_FINE = (8.5, 9.7)  # PM0.5, PM1 per µg/m³ of PM1
NUMBER_PER_MASS_COARSE = (0.9, 0.06, 0.025)  # added per µg/m³ of PM1-2.5, PM2.5-4, PM4-10

# (sample of the world's values; device id, battery V, the catalog's ppb → mass factors) → frame
Send = Callable[..., bytes]


def _tenths(value: float) -> float:
    """``value`` as the station reports it, in steps of 0.1 (its words carry tenths)."""
    return int(min(65535, max(0, round(value * 10)))) / 10


def _decentlab_pm(sample: dict[str, float], *, device_id: int, battery: float, **_: Any) -> bytes:
    mass = (sample["pm1_0"], sample["pm2_5"], sample["pm4"], sample["pm10"])
    return decentlab_dl_pm.encode_reading(
        device_id,
        battery_voltage=battery,
        mass=mass,
        particle_size=sample["particle_size"],
        number=[_tenths(n) for n in number_counts(*mass)],
        temperature=sample["temperature"],
        humidity=sample["humidity"],
        pressure=sample["pressure"] * 100,  # hPa → Pa
    )


def number_counts(pm1: float, pm25: float, pm4: float, pm10: float) -> list[float]:
    """Cumulative particle numbers (per cm³) of PM0.5, PM1, PM2.5, PM4 and PM10 from the mass concentrations."""
    fine = [pm1 * factor for factor in NUMBER_PER_MASS_FINE]
    coarse = NUMBER_PER_MASS_COARSE
    n25 = fine[1] + coarse[0] * max(0.0, pm25 - pm1)
    n4 = n25 + coarse[1] * max(0.0, pm4 - pm25)
    return [*fine, n25, n4, n4 + coarse[2] * max(0.0, pm10 - pm4)]


def _decentlab_ac(sample: dict[str, float], *, device_id: int, battery: float, mass_per_ppb: dict[str, float],
                  **_: Any) -> bytes:
    """The world's gases as ppb (``mass_per_ppb``: the catalog's ppb → mass factors, ``no2``, ``no`` in µg/m³,
    ``co`` in mg/m³; the Ox cell sees ozone and NO2), so that what ingest stores equals the world's
    concentration within the cell's resolution.
    """
    no2 = sample["no2"] / mass_per_ppb["no2"]
    ppb = {"no2": no2, "no": sample["no"] / mass_per_ppb["no"], "ox": sample["o3"] / O3_PER_PPB + no2,
           "co": sample["co"] / mass_per_ppb["co"]}
    drift = {gas: per_kelvin * (sample["temperature"] - 20.0) for gas, per_kelvin in AUX_DRIFT.items()}
    return decentlab_dl_ac.encode_reading(device_id, temperature=sample["temperature"], humidity=sample["humidity"],
                                          ppb=ppb, battery_voltage=battery, aux_drift_mv=drift)


def _elsys(sample: dict[str, float], **_: Any) -> bytes:
    return elsys_ers_co2.encode_climate(temperature=sample["temperature"], humidity=sample["humidity"],
                                        light=sample["light"], motion=sample["motion"], co2=sample["co2"],
                                        vdd=sample["vdd"])


AIR_FIRMWARE: dict[str, Send] = {
    "decentlab-dl-pm": _decentlab_pm,
    "decentlab-dl-ac": _decentlab_ac,
    "elsys-ers-co2": _elsys,
}


def mass_per_ppb(entry: DeviceModel) -> dict[str, float]:
    """Quantity → the scale of the catalog rule that maps it (ppb → mass concentration for the gas cells)."""
    return {rule.quantity: rule.scale for rule in entry.rules}


class AirUnit(Unit):
    """One air station (each is its own unit): outdoor PM and gases near traffic, or indoor CO2 in a classroom."""

    def __init__(self, key: str, devices: Sequence[SimDevice], **kwargs: Any) -> None:
        super().__init__(key, devices, **kwargs)
        device = self.devices[0]
        entry = device.catalog
        if entry.model not in AIR_FIRMWARE:
            raise ValueError(f"no air station firmware for model {entry.model}")
        self.send = AIR_FIRMWARE[entry.model]
        self.mass_per_ppb = mass_per_ppb(entry)
        self.elsys = entry.model.startswith("elsys")
        self.interval = float(entry.report_interval or DEFAULT_REPORT["air"])
        ports = [int(p) for p in entry.fports if str(p).isdigit()]
        self.port = ports[0] if ports else (5 if self.elsys else 1)
        self.traffic = float(device.params.get("traffic", 0.5))
        self.office = "rathaus" in device.name or bool(device.params.get("office", False))
        self.device_id = key_hash(device.dev_eui) % 65536

    def generate(self, day: Day, rng: np.random.Generator) -> list[Frame]:
        """The frames the sensor sends on ``day``."""
        times = periodic_times(day, self.interval, float(self.phase[0]), not_before=self.run_start)
        joins = sorted(self.rejoins(day, rng).values())
        if times.size == 0:
            return []
        minutes = local_minutes(day, times)
        series = self._indoor(day, minutes, rng) if self.elsys else self._outdoor(day, minutes, rng)
        self._apply_faults(day, times, series)
        out: list[Frame] = []
        for i, t in enumerate(times.tolist()):
            sample = {name: float(values[i]) for name, values in series.items()}
            battery = 3.1 + 0.02 * float(self.battery0[0]) - 0.08 * self.age_years(t, 0)
            frame = self.send(sample, device_id=self.device_id, battery=battery, mass_per_ppb=self.mass_per_ppb)
            rejoin = bool(joins) and t >= joins[0]  # the first frame after a spontaneous reset
            while joins and t >= joins[0]:
                joins.pop(0)
            out.append((t, 0, self.port, frame, rejoin))
        return out

    def _outdoor(self, day: Day, minutes: FloatArray, rng: np.random.Generator) -> dict[str, FloatArray]:
        air = air_quality(day, minutes, traffic_weight=self.traffic, rng=rng)
        return {
            "pm1_0": air.pm2_5 * 0.78, "pm2_5": air.pm2_5, "pm4": air.pm2_5 + 0.3 * (air.pm10 - air.pm2_5),
            "pm10": air.pm10,
            "particle_size": 420 + 140 * rng.random(minutes.size), "temperature": air.temperature,
            "humidity": air.humidity, "pressure": air.pressure, "no2": air.no2, "no": air.no, "o3": air.o3,
            "co": air.co,
        }

    def _indoor(self, day: Day, minutes: FloatArray, rng: np.random.Generator) -> dict[str, FloatArray]:
        co2 = classroom_co2(day, minutes, rng=rng, office=self.office)
        busy = co2 > 600
        daylight = np.clip(np.sin((minutes / 60.0 - 6.0) * math.pi / 14.0), 0, None)
        heating = 21.0 if day.weather.temp_mean < 15 else day.weather.temp_mean * 0.4 + 15.0
        return {
            "temperature": heating + 1.2 * busy + rng.normal(0, 0.15, minutes.size),
            "humidity": 38 + 8 * busy + rng.normal(0, 1.0, minutes.size),
            "light": daylight * 180 + busy * 320 + rng.normal(0, 5, minutes.size),
            "motion": rng.poisson(np.where(busy, 9.0, 0.05)),
            "co2": co2,
            "vdd": np.full(minutes.size, 3620.0 - 30.0 * self.age_years(day.start, 0)),
        }

    def _apply_faults(self, day: Day, times: FloatArray, series: dict[str, FloatArray]) -> None:
        for _, f in self.day_faults(day, "stuck_value", "spike", "drift", "implausible_value"):
            values = series.get(f.quantity)
            if values is None:
                continue
            inside = (times >= f.start) & (times < f.end)
            if f.kind == "stuck_value":
                values[inside] = self._stuck_level(f, day, values, times)
            elif f.kind == "spike":
                values[inside] *= float(f.params.get("factor", 8.0))
            elif f.kind == "drift":
                values[inside] += float(f.params.get("per_day", 1.0)) * (times[inside] - f.start) / 86400.0
            else:
                values[inside] = float(f.params.get("value", 1e6))

    @staticmethod
    def _stuck_level(fault: Fault, day: Day, values: FloatArray, times: FloatArray) -> float:
        level = fault.params.get("level")
        if level is None:
            before = values[times < fault.start]
            level = float(before[-1]) if before.size else float(values[0])
            fault.params["level"] = level  # the same level on the next days of a long fault
        return float(level)
