"""Firmware behaviour per device model: what each sensor sends, when, and on which fPort.

A *unit* is a group of devices simulated together (a parking lot's bays are vectorised together). For each
local day a unit returns its frames ``(t, device index, fPort, payload, rejoin)``; payloads are encoded with
the model's own native codec (``devices.codecs``), so what ingest decodes is byte-accurate. Values are first
quantised to what the device can represent (the raw register → value formulas of each vendor), because an
encoder refuses data the device could not have sent.

* Parking (Nwave NPS405, Bosch TPS110): status frame on fPort 1 at every change, heartbeat on fPort 2 every
  ``heartbeat_interval``, startup frame on fPort 3 after power-on and every reset.
* People counters (Milesight VS133/VS135, IMBuildings): cumulative totals and period counts every
  ``report_interval``.
* Air (Decentlab DL-PM and DL-AC, Elsys ERS CO2): one frame every ``report_interval`` (10 minutes). The DL-AC's
  gas cells report electrode voltages: the firmware turns the world's concentrations into the voltages the
  codec's calibration reads back as those concentrations.

Value faults (stuck, spike, drift, implausible, flatline, counter reset) are applied here, to the truth before
encoding; faults of the radio path (offline, garbled, unknown device) are applied in :mod:`firmware_sim.engine`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from devices.catalog import DeviceModel
from devices.codecs import native_codec
from devices.codecs.decentlab_dl_ac import CALIBRATION, FULL_SCALE, MIDSCALE, millivolts
from firmware_sim.faults import Fault
from firmware_sim.town import SimDevice
from firmware_sim.world import (
    MINUTES,
    Day,
    FloatArray,
    air_quality,
    classroom_co2,
    footfall_rate,
    inward_share,
    parking_demand,
)

Frame = tuple[float, int, int, bytes, bool]  # (t epoch s, device index, fPort, payload, re-join before it)
DEFAULT_HEARTBEAT = 3600  # s, when the catalog names none
DEFAULT_REPORT = {"footfall": 600, "air": 600}  # s
INSTALLED = datetime(2024, 3, 1, tzinfo=UTC).timestamp()  # the town's sensors went in around then
SECONDS_PER_YEAR = 365.25 * 86400


def _key_hash(text: str) -> int:
    return zlib.crc32(text.encode())


class Encoder:
    """A model's native encoder with a cache of frames already built (parking frames repeat a lot)."""

    def __init__(self, model: str, codec_name: str) -> None:
        self.model = model
        self._encode = native_codec(codec_name).encode
        self._cache: dict[tuple[Any, ...], bytes] = {}

    def __call__(self, f_port: int, data: dict[str, Any], key: tuple[Any, ...] | None = None) -> bytes:
        """The frame for ``data``; ``key`` (hashable, unique per data) enables the cache."""
        if key is None:
            return self._encode(f_port, data)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._encode(f_port, data)
            if len(self._cache) < 100_000:
                self._cache[key] = cached
        return cached


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
        entry = self.devices[0].catalog
        self.encoder = Encoder(entry.model, entry.codec)
        static = np.random.default_rng([seed, _key_hash(key), 0x57A7])
        self.phase = static.random(len(self.devices))  # 0..1 of the reporting interval
        self.battery0 = static.normal(0.0, 1.0, len(self.devices))
        self.installed = INSTALLED + static.uniform(0, 200 * 86400, len(self.devices))

    def rng(self, day: Day) -> np.random.Generator:
        """The random stream of this unit for one day (independent of which process runs it)."""
        return np.random.default_rng([self.seed, _key_hash(self.key), day.info.day.toordinal()])

    def frames(self, day: Day) -> list[Frame]:
        """All frames the unit's devices send during ``day``, in no particular order."""
        rng = self.rng(day)
        out = self.generate(day, rng)
        self.started = True
        return out

    def generate(self, day: Day, rng: np.random.Generator) -> list[Frame]:
        raise NotImplementedError

    def day_faults(self, day: Day, *kinds: str) -> list[tuple[int, Fault]]:
        """This unit's faults of the given kinds active during ``day``."""
        return [(i, f) for i, f in self.faults if f.kind in kinds and f.overlaps(day.start, day.end)]

    def rejoins(self, day: Day, rng: np.random.Generator) -> dict[int, float]:
        """Devices that reset spontaneously during ``day`` → the time of the reset."""
        p = self.rejoin_per_year / 365.0
        hits = np.nonzero(rng.random(len(self.devices)) < p)[0]
        return {int(i): float(day.start + rng.random() * (day.end - day.start)) for i in hits}

    def first_time(self, day: Day) -> float:
        """When the devices power on, the first time the unit runs."""
        return max(day.start, self.run_start)

    def age_years(self, t: float, device: int) -> float:
        return max(0.0, (t - float(self.installed[device])) / SECONDS_PER_YEAR)


def periodic_times(day: Day, interval: float, phase: float, *, not_before: float) -> FloatArray:
    """``phase·interval + k·interval`` within [max(day.start, not_before), day.end)."""
    low = max(day.start, not_before)
    first = math.ceil((low - phase * interval) / interval) * interval + phase * interval
    return np.arange(first, day.end, interval, dtype=np.float64)


def local_minutes(day: Day, times: FloatArray) -> FloatArray:
    """Local minute of day (0..1440) of epoch ``times``."""
    return np.clip((times - day.start) / day.minute_seconds, 0, MINUTES - 1e-6)


# --- parking -----------------------------------------------------------------------------------------------

def _nwave_previous_state(minutes: int) -> dict[str, Any]:
    """The previous-state duration as the NPS405 reports it (7-bit compressed, then expanded)."""
    if minutes >= 660:
        return {"previous_state_duration": 660, "previous_state_duration_error": None,
                "previous_state_duration_overflow": True}
    if minutes < 90:
        value, error = minutes, 0
    elif minutes < 240:
        value, error = 90 + (minutes - 90) // 5 * 5, 4
    else:
        value, error = 240 + min((minutes - 240) // 60, 6) * 60, 59
    return {"previous_state_duration": value, "previous_state_duration_error": error,
            "previous_state_duration_overflow": False}


def _nwave_battery_health(millivolts: int, temperature: float) -> str:
    critical, low = (2900, 3000) if temperature >= -5 else (2800, 2900)
    if millivolts >= low:
        return "normal"
    return "low" if millivolts >= critical else "critical"


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
        encode = self.encoder
        for t, m, b in zip(times.tolist(), minutes.tolist(), bays.tolist(), strict=True):
            occupied = bool(states[m, b])
            if self.nwave:
                held = max(0, int((t - last[b]) // 60))
                data = {"type": "parking_status", "occupied": occupied, **_nwave_previous_state(held)}
                key = (1, occupied, data["previous_state_duration"], data["previous_state_duration_overflow"])
            else:
                data = {"type": "parking status", "occupied": occupied}
                key = (1, occupied, 0, False)
            last[b] = t
            if t >= self.run_start:
                out.append((t, b, 1, encode(1, data, key), False))
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
            temp_c = round(min(127.0, max(-128.0, temperature)))
            return self.encoder(2, {"type": "heartbeat", "occupied": occupied, "temperature": temp_c},
                                (2, occupied, temp_c))
        volts = 3.46 + 0.02 * float(self.battery0[bay]) - 0.07 * self.age_years(t, bay)
        volts -= 0.004 * max(0.0, 5.0 - temperature)
        raw_v = int(min(255, max(0, round((volts - 2.5) * 250))))
        raw_t = int(min(127, max(-128, round((temperature - 10) * 2))))
        temp = raw_t / 2 + 10
        millivolts = 2500 + raw_v * 4
        data = {"type": "heartbeat", "occupied": occupied, "hw_health_status": int(occupied), "temperature": temp,
                "battery_voltage": millivolts / 1000, "battery_health": _nwave_battery_health(millivolts, temp)}
        return self.encoder(2, data, (2, occupied, raw_v, raw_t))

    def _startups(self, day: Day, rng: np.random.Generator, when: dict[int, float],
                  states: npt.NDArray[np.bool_], *, cause: str) -> list[Frame]:
        out: list[Frame] = []
        for b, t in when.items():
            if t < self.run_start:
                continue
            occupied = bool(states[b] if states.ndim == 1 else states[int(local_minutes(day, np.array([t]))[0]), b])
            if self.nwave:
                data: dict[str, Any] = {"type": "startup", "firmware_version": self.NWAVE_FIRMWARE,
                                        "reset_cause": cause, "occupied": occupied}
            else:
                bosch_cause = {"power_on": "power on", "watchdog": "watchdog"}.get(cause, "other")
                data = {"type": "startup", "debugCodes": [], "firmwareVersion": self.BOSCH_FIRMWARE,
                        "resetCause": bosch_cause, "occupied": occupied}
            out.append((t + float(rng.uniform(0, 20)), b, 3, self.encoder(3, data, (3, cause, occupied)), True))
        return out


# --- people counters ---------------------------------------------------------------------------------------

def _vs133(total_in: int, total_out: int, period_in: int, period_out: int, **_: Any) -> dict[str, Any]:
    return {"line_1": {"total_in": total_in, "total_out": total_out, "period_in": period_in,
                       "period_out": period_out}}


def _vs135(total_in: int, total_out: int, period_in: int, period_out: int, **_: Any) -> dict[str, Any]:
    return {"line_1_total_in": total_in, "line_1_total_out": total_out, "line_1_period_in": period_in,
            "line_1_period_out": period_out}


def _imbuildings(total_in: int, total_out: int, period_in: int, period_out: int, *, dev_eui: str,
                 battery: float, payload_counter: int) -> dict[str, Any]:
    return {
        "device_type_identifier": 2, "device_type": "People Counter", "device_type_variant": 6,
        "device_id": dev_eui.lower(), "device_status": 0, "battery_voltage": battery,
        "counter_a": period_in, "counter_b": period_out, "sensor_status": 0,
        "total_counter_a": total_in % 65536, "total_counter_b": total_out % 65536,
        "payload_counter": payload_counter % 256,
    }


COUNTER_FORMATS: dict[str, tuple[int, Callable[..., dict[str, Any]]]] = {
    "milesight-vs133": (85, _vs133),
    "milesight-vs135": (85, _vs135),
    "imbuildings-people-counter": (1, _imbuildings),
}


class CounterUnit(Unit):
    """One people counter at a time (each is its own unit): Poisson counts around the footfall curve."""

    def __init__(self, key: str, devices: Sequence[SimDevice], **kwargs: Any) -> None:
        super().__init__(key, devices, **kwargs)
        device = self.devices[0]
        entry = device.catalog
        if entry.model not in COUNTER_FORMATS:
            raise ValueError(f"no people-counter firmware for model {entry.model}")
        self.port, self.format = COUNTER_FORMATS[entry.model]
        self.interval = float(entry.report_interval or DEFAULT_REPORT["footfall"])
        self.peak = float(device.params.get("peak_per_hour", 600))
        self.market = float(device.params.get("market", 1.0))
        self.totals = [0, 0]
        self.sent = 0
        self.last_report = 0.0

    def generate(self, day: Day, rng: np.random.Generator) -> list[Frame]:
        times = periodic_times(day, self.interval, float(self.phase[0]), not_before=self.run_start)
        if times.size == 0:
            return []
        if not self.started:
            start = np.random.default_rng([self.seed, _key_hash(self.key), 0x70A1])
            self.totals = [int(start.integers(10_000, 2_000_000)) for _ in range(2)]
            self.last_report = float(times[0]) - self.interval
        rate = footfall_rate(day, peak_per_hour=self.peak, market=self.market) * (day.minute_seconds / 3600.0)
        cumulative = np.concatenate([[0.0], np.cumsum(rate)])
        edges = np.concatenate([[self.last_report], times])
        expected = np.diff(np.interp(local_minutes(day, np.clip(edges, day.start, day.end)),
                                     np.arange(MINUTES + 1), cumulative))
        expected *= float(rng.lognormal(0.0, 0.08))
        share = inward_share(local_minutes(day, times))
        counts_in = rng.poisson(expected * share)
        counts_out = rng.poisson(expected * (1 - share))
        return self._frames(day, times, counts_in, counts_out)

    def _frames(self, day: Day, times: FloatArray, counts_in: npt.NDArray[np.int64],
                counts_out: npt.NDArray[np.int64]) -> list[Frame]:
        faults = self.day_faults(day, "spike", "flatline_counter", "counter_reset")
        resets = sorted(f.start for _, f in faults if f.kind == "counter_reset")
        out: list[Frame] = []
        for t, c_in, c_out in zip(times.tolist(), counts_in.tolist(), counts_out.tolist(), strict=True):
            rejoin = not self.started and not out
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
            data = self.format(self.totals[0], self.totals[1], c_in, c_out, dev_eui=self.devices[0].dev_eui,
                               battery=battery, payload_counter=self.sent)
            out.append((t, 0, self.port, self.encoder(self.port, data), rejoin))
            self.last_report = t
        return out


# --- air quality -------------------------------------------------------------------------------------------

MASS = "µg⋅m⁻³"


def _tenths(value: float) -> float:
    return int(min(65535, max(0, round(value * 10)))) / 10


def _decentlab(sample: dict[str, float], *, device_id: int, battery: float, **_: Any) -> dict[str, Any]:
    """DL-PM readings quantised to the sensor's raw words (the vendor's formulas)."""
    pm25 = sample["pm2_5"]
    raw_t = int(min(65535, max(0, round((sample["temperature"] + 46.85) * 65536 / 175.72))))
    raw_h = int(min(65535, max(0, round((sample["humidity"] + 6) * 65536 / 125))))
    raw_p = int(min(65535, max(0, round(sample["pressure"] * 100 / 2))))

    def mass(name: str, label: str, value: float) -> dict[str, Any]:
        return {"displayName": f"{label} mass concentration", "unit": MASS, "value": _tenths(value)}

    def number(label: str, value: float) -> dict[str, Any]:
        return {"displayName": f"{label} number concentration", "value": _tenths(value)}

    return {
        "protocol_version": 2,
        "device_id": device_id,
        "battery_voltage": {"displayName": "Battery voltage", "unit": "V",
                            "value": int(min(65535, max(0, round(battery * 1000)))) / 1000},
        "pm1_0_mass_concentration": mass("pm1_0", "PM1.0", sample["pm1_0"]),
        "pm2_5_mass_concentration": mass("pm2_5", "PM2.5", pm25),
        "pm4_mass_concentration": mass("pm4", "PM4", sample["pm4"]),
        "pm10_mass_concentration": mass("pm10", "PM10", sample["pm10"]),
        "typical_particle_size": {"displayName": "Typical particle size", "unit": "nm",
                                  "value": int(min(65535, max(0, round(sample["particle_size"]))))},
        "pm0_5_number_concentration": number("PM0.5", pm25 * 6.8),
        "pm1_0_number_concentration": number("PM1.0", pm25 * 7.7),
        "pm2_5_number_concentration": number("PM2.5", pm25 * 7.8),
        "pm4_number_concentration": number("PM4", pm25 * 7.8),
        "pm10_number_concentration": number("PM10", pm25 * 7.8),
        "air_temperature": {"displayName": "Air temperature", "unit": "°C", "value": 175.72 * raw_t / 65536 - 46.85},
        "air_humidity": {"displayName": "Air humidity", "unit": "%", "value": 125 * raw_h / 65536 - 6},
        "barometric_pressure": {"displayName": "Barometric pressure", "unit": "Pa", "value": raw_p * 2},
    }


O3_PER_PPB = 2.00  # µg/m³ of ozone per ppb at 20 °C and 1013 hPa (48.00 g/mol / 24.06 l/mol)
AUX_DRIFT = {"no2": 0.4, "no": 0.8, "ox": 0.5, "co": 1.5}  # mV/K: the cells' zero moves with temperature
_DL_AC_CELLS = ((4, "no2", "NO2"), (5, "no", "NO"), (6, "ox", "Ox"), (7, "co", "CO"))


def _adc_word(mv: float) -> int:
    """The ADC word of a voltage (mV), clipped to the converter's range."""
    return int(min(65535, max(0, round((mv + FULL_SCALE) * MIDSCALE / FULL_SCALE))))


def _dl_ac_cell(channel: int, gas: str, label: str, ppb: float, temperature: float) -> dict[str, Any]:
    """One gas cell's readings: the electrode voltages that give ``ppb`` with the codec's calibration."""
    cal = CALIBRATION[gas]
    we_aux = _adc_word(cal.we_zero - cal.aux_zero + cal.sensitivity * ppb)
    aux = cal.aux_zero + AUX_DRIFT[gas] * (temperature - 20.0)
    we = _adc_word(aux + millivolts(we_aux))
    prefix, title = f"ch{channel}_{gas}", f"CH{channel}: {label}"
    return {
        f"{prefix}_we": {"displayName": f"{title} (we)", "unit": "mV", "value": millivolts(we)},
        f"{prefix}_we_aux": {"displayName": f"{title} (we-aux)", "unit": "mV", "value": millivolts(we_aux)},
        f"{prefix}_concentration_we": {"displayName": f"{title} concentration (we)", "unit": "ppb",
                                       "value": (millivolts(we) - cal.we_zero) / cal.sensitivity},
        f"{prefix}_concentration_we_aux": {
            "displayName": f"{title} concentration (we-aux)", "unit": "ppb",
            "value": (millivolts(we_aux) - cal.we_zero + cal.aux_zero) / cal.sensitivity},
    }


def _decentlab_ac(sample: dict[str, float], *, device_id: int, battery: float, mass_per_ppb: dict[str, float],
                  **_: Any) -> dict[str, Any]:
    """DL-AC readings: temperature, humidity, the four gas cells and the battery, quantised to raw words.

    ``mass_per_ppb`` holds the catalog's ppb → mass factors (``no2``, ``no`` in µg/m³, ``co`` in mg/m³), so
    that what ingest stores equals the world's concentration within the cell's resolution.
    """
    no2 = sample["no2"] / mass_per_ppb["no2"]
    ppb = {"no2": no2, "no": sample["no"] / mass_per_ppb["no"], "ox": sample["o3"] / O3_PER_PPB + no2,
           "co": sample["co"] / mass_per_ppb["co"]}
    raw_t = int(min(65535, max(0, round((sample["temperature"] + 46.85) * 65536 / 175.72))))
    raw_h = int(min(65535, max(0, round((sample["humidity"] + 6) * 65536 / 125))))
    data: dict[str, Any] = {
        "protocol_version": 2,
        "device_id": device_id,
        "air_temperature": {"displayName": "Air temperature", "unit": "°C", "value": 175.72 * raw_t / 65536 - 46.85},
        "air_humidity": {"displayName": "Air humidity", "unit": "%", "value": 125 * raw_h / 65536 - 6},
    }
    for channel, gas, label in _DL_AC_CELLS:
        data |= _dl_ac_cell(channel, gas, label, ppb[gas], sample["temperature"])
    data["battery_voltage"] = {"displayName": "Battery voltage", "unit": "V",
                               "value": int(min(65535, max(0, round(battery * 1000)))) / 1000}
    return data


def _elsys(sample: dict[str, float], **_: Any) -> dict[str, Any]:
    return {
        "temperature": round(min(3276.7, max(-3276.8, sample["temperature"])) * 10) / 10,
        "humidity": int(min(255, max(0, round(sample["humidity"])))),
        "light": int(min(65535, max(0, round(sample["light"])))),
        "motion": int(min(255, max(0, round(sample["motion"])))),
        "co2": int(min(65535, max(0, round(sample["co2"])))),
        "vdd": int(min(65535, max(0, round(sample["vdd"])))),
    }


AIR_FORMATS: dict[str, Callable[..., dict[str, Any]]] = {
    "decentlab-dl-pm": _decentlab,
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
        if entry.model not in AIR_FORMATS:
            raise ValueError(f"no air station firmware for model {entry.model}")
        self.format = AIR_FORMATS[entry.model]
        self.mass_per_ppb = mass_per_ppb(entry)
        self.elsys = entry.model.startswith("elsys")
        self.interval = float(entry.report_interval or DEFAULT_REPORT["air"])
        ports = [int(p) for p in entry.fports if str(p).isdigit()]
        self.port = ports[0] if ports else (5 if self.elsys else 1)
        self.traffic = float(device.params.get("traffic", 0.5))
        self.office = "rathaus" in device.name or bool(device.params.get("office", False))
        self.device_id = _key_hash(device.dev_eui) % 65536

    def generate(self, day: Day, rng: np.random.Generator) -> list[Frame]:
        times = periodic_times(day, self.interval, float(self.phase[0]), not_before=self.run_start)
        if times.size == 0:
            return []
        minutes = local_minutes(day, times)
        series = self._indoor(day, minutes, rng) if self.elsys else self._outdoor(day, minutes, rng)
        self._apply_faults(day, times, series)
        out: list[Frame] = []
        for i, t in enumerate(times.tolist()):
            sample = {name: float(values[i]) for name, values in series.items()}
            battery = 3.1 + 0.02 * float(self.battery0[0]) - 0.08 * self.age_years(t, 0)
            data = self.format(sample, device_id=self.device_id, battery=battery, mass_per_ppb=self.mass_per_ppb)
            out.append((t, 0, self.port, self.encoder(self.port, data), not self.started and i == 0))
        return out

    def _outdoor(self, day: Day, minutes: FloatArray, rng: np.random.Generator) -> dict[str, FloatArray]:
        air = air_quality(day, minutes, traffic_weight=self.traffic, rng=rng)
        return {
            "pm1_0": air.pm2_5 * 0.78, "pm2_5": air.pm2_5, "pm4": air.pm2_5 * 1.12, "pm10": air.pm10,
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


UNIT_CLASSES: dict[str, type[Unit]] = {"parking": ParkingUnit, "footfall": CounterUnit, "air": AirUnit}
