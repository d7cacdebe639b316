"""The world behind the data: calendar, weather, and the demand curves of parking, footfall and air quality.

Everything here is a pure function of the town, the seed and the date, so any process can rebuild the same
day without talking to another. Curves are numpy arrays over the local day: ``MINUTES`` values (one per
minute) for parking and footfall, one value per sample time for air quality.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from firmware_sim.town import Calendar, Town

MINUTES = 1440  # per day
FloatArray = npt.NDArray[np.float64]


# --- calendar ----------------------------------------------------------------------------------------------

def easter(year: int) -> date:
    """Easter Sunday (Gregorian; anonymous algorithm of Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


_EASTER_OFFSETS = {"Karfreitag": -2, "Ostermontag": 1, "Christi Himmelfahrt": 39, "Pfingstmontag": 50}
_FIXED = {"Neujahr": (1, 1), "Tag der Arbeit": (5, 1), "Tag der Deutschen Einheit": (10, 3),
          "1. Weihnachtstag": (12, 25), "2. Weihnachtstag": (12, 26)}
# State extras: Corpus Christi (Easter + 60) and fixed days, by state code.
_STATE_EASTER = {"BW": 60, "BY": 60, "HE": 60, "NW": 60, "RP": 60, "SL": 60}
_STATE_FIXED: dict[str, dict[str, tuple[int, int]]] = {
    "BW": {"Heilige Drei Könige": (1, 6), "Allerheiligen": (11, 1)},
    "BY": {"Heilige Drei Könige": (1, 6), "Mariä Himmelfahrt": (8, 15), "Allerheiligen": (11, 1)},
    "NW": {"Allerheiligen": (11, 1)}, "RP": {"Allerheiligen": (11, 1)},
    "SL": {"Mariä Himmelfahrt": (8, 15), "Allerheiligen": (11, 1)},
    "BE": {"Frauentag": (3, 8)}, "TH": {"Weltkindertag": (9, 20), "Reformationstag": (10, 31)},
    "SN": {"Reformationstag": (10, 31)}, "ST": {"Heilige Drei Könige": (1, 6), "Reformationstag": (10, 31)},
    "BB": {"Reformationstag": (10, 31)}, "MV": {"Reformationstag": (10, 31)},
    "HH": {"Reformationstag": (10, 31)}, "HB": {"Reformationstag": (10, 31)},
    "NI": {"Reformationstag": (10, 31)}, "SH": {"Reformationstag": (10, 31)},
}


@lru_cache(maxsize=64)
def public_holidays(year: int, state: str) -> dict[date, str]:
    """German public holidays of ``year`` in ``state`` (two-letter code)."""
    sunday = easter(year)
    days = {date(year, m, d): name for name, (m, d) in _FIXED.items()}
    days.update({sunday + timedelta(days=off): name for name, off in _EASTER_OFFSETS.items()})
    if state in _STATE_EASTER:
        days[sunday + timedelta(days=_STATE_EASTER[state])] = "Fronleichnam"
    days.update({date(year, m, d): name for name, (m, d) in _STATE_FIXED.get(state, {}).items()})
    return days


@dataclass(frozen=True, slots=True)
class Boost:
    """A factor applied between two local minutes of the day."""

    start: int  # minute of day
    end: int
    footfall: float
    parking: float
    name: str


@dataclass(frozen=True, slots=True)
class DayInfo:
    """What kind of day a local date is."""

    day: date
    weekday: int  # 0 = Monday
    holiday: str  # public holiday name, or ""
    school_holiday: bool
    boosts: tuple[Boost, ...]

    @property
    def day_type(self) -> str:
        """``workday``, ``saturday`` or ``sunday`` (Sundays and public holidays)."""
        if self.holiday or self.weekday == 6:
            return "sunday"
        return "saturday" if self.weekday == 5 else "workday"


def _minute(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def day_info(calendar: Calendar, day: date) -> DayInfo:
    """The calendar facts of ``day``."""
    holiday = public_holidays(day.year, calendar.state).get(day, "")
    boosts = [
        Boost(_minute(m.start), _minute(m.end), m.footfall, m.parking, "market")
        for m in calendar.markets
        if day.weekday() in m.weekdays and not holiday
    ]
    boosts += [
        Boost(_minute(e.start), _minute(e.end) + 1, e.footfall, e.parking, e.name)
        for e in calendar.events
        if e.window.contains(day)
    ]
    school = any(w.contains(day) for w in calendar.school_holidays)
    return DayInfo(day, day.weekday(), holiday, school, tuple(boosts))


# --- weather -----------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Weather:
    """One day's weather."""

    temp_mean: float  # °C
    temp_amplitude: float  # K, half the day-night swing
    rain: float  # 0..1, share of the daytime with rain
    wind: float  # m/s, daily mean
    pressure: float  # hPa
    inversion: float  # 0..1, strength of a winter inversion (cold, calm, high pressure)

    def temperature(self, minutes: FloatArray) -> FloatArray:
        """Air temperature (°C) at local minutes of the day; coldest near 05:00, warmest near 15:00."""
        return self.temp_mean + self.temp_amplitude * np.sin((minutes / 60.0 - 9.0) * math.pi / 12.0)


@lru_cache(maxsize=16)
def weather_year(seed: int, year: int) -> tuple[Weather, ...]:
    """The weather of every day of ``year`` (index = day of year − 1), an AR(1) around the climate."""
    rng = np.random.default_rng([seed, year, 0x57EA])
    days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    doy = np.arange(days, dtype=np.float64)
    season = -np.cos(2 * math.pi * (doy - 15.0) / 365.25)  # -1 mid January, +1 mid July
    noise_t = _ar1(rng, days, 0.75, 3.0)
    noise_w = _ar1(rng, days, 0.6, 0.35)
    noise_p = _ar1(rng, days, 0.8, 7.0)
    rain_p = 0.42 - 0.05 * season
    rainy = rng.random(days) < rain_p
    rain = np.where(rainy, rng.beta(1.6, 2.4, days), 0.0)
    out = []
    for i in range(days):
        temp = 9.5 + 9.5 * season[i] + noise_t[i]
        wind = float(np.exp(np.log(3.2 + 0.6 * -season[i]) + noise_w[i]))
        pressure = 1015.0 + noise_p[i] - 4.0 * rain[i]
        cold_calm = max(0.0, (4.0 - temp) / 8.0) * max(0.0, (2.5 - wind) / 2.5) * (1.0 if pressure > 1015 else 0.4)
        out.append(Weather(
            temp_mean=round(float(temp), 2), temp_amplitude=round(4.5 + 1.5 * season[i] - 2.0 * rain[i], 2),
            rain=round(float(rain[i]), 3), wind=round(wind, 2), pressure=round(float(pressure), 1),
            inversion=round(min(1.0, cold_calm * 2.0), 3),
        ))
    return tuple(out)


def _ar1(rng: np.random.Generator, n: int, phi: float, sigma: float) -> FloatArray:
    shocks = rng.normal(0.0, sigma * math.sqrt(1 - phi * phi), n)
    out = np.empty(n)
    value = rng.normal(0.0, sigma)
    for i in range(n):
        value = phi * value + shocks[i]
        out[i] = value
    return out


def weather(seed: int, day: date) -> Weather:
    """The weather of one day."""
    return weather_year(seed, day.year)[day.timetuple().tm_yday - 1]


# --- one day -----------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Day:
    """One local day of the town: its calendar facts, its weather and where it lies on the UTC axis."""

    info: DayInfo
    weather: Weather
    start: float  # epoch seconds of local midnight
    end: float  # epoch seconds of the next local midnight (23, 24 or 25 h later)

    @property
    def minute_seconds(self) -> float:
        """Seconds per simulated local minute (60, or slightly off on DST change days)."""
        return (self.end - self.start) / MINUTES


def make_day(town: Town, seed: int, day: date) -> Day:
    """Everything the models need about ``day`` in ``town``."""
    tz = town.timezone
    start = datetime.combine(day, time(0), tzinfo=tz).timestamp()
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).timestamp()
    return Day(day_info(town.calendar, day), weather(seed, day), start, end)


_MINUTE_AXIS = np.arange(MINUTES, dtype=np.float64)
_HOUR_AXIS = np.arange(25, dtype=np.float64) * 60.0


def hourly(values: tuple[float, ...]) -> FloatArray:
    """24 hourly values (at hh:30) → a smooth per-minute curve over the day."""
    knots = np.concatenate([[values[-1]], values, [values[0]]])
    x = np.concatenate([[-30.0], np.arange(24) * 60.0 + 30.0, [MINUTES + 30.0]])
    curve: FloatArray = np.interp(_MINUTE_AXIS, x, knots)
    return curve


def boost_curve(info: DayInfo, field: str, *, weight: float = 1.0) -> FloatArray:
    """Per-minute multiplier of the day's markets and events (``field`` = footfall or parking)."""
    out = np.ones(MINUTES)
    for b in info.boosts:
        factor = 1.0 + (getattr(b, field) - 1.0) * weight
        ramp = np.clip(np.minimum(_MINUTE_AXIS - b.start + 30, b.end - _MINUTE_AXIS + 30) / 60.0, 0.0, 1.0)
        out *= 1.0 + (factor - 1.0) * ramp
    return out


# --- parking -----------------------------------------------------------------------------------------------

_PARKING: dict[str, dict[str, tuple[float, ...]]] = {
    "centre": {
        "workday": (.06, .05, .05, .05, .05, .06, .1, .2, .38, .58, .7, .74, .72, .7, .7, .72, .7, .6, .46,
                    .36, .28, .2, .13, .08),
        "saturday": (.08, .06, .05, .05, .05, .05, .07, .15, .42, .75, .9, .93, .9, .8, .7, .62, .52, .42, .34,
                     .3, .28, .22, .15, .1),
        "sunday": (.07, .05, .05, .05, .05, .05, .05, .06, .08, .12, .18, .25, .3, .32, .32, .3, .26, .2, .16,
                   .14, .12, .1, .08, .07),
    },
    "on_street": {
        "workday": (.35, .34, .33, .33, .33, .35, .42, .6, .74, .8, .82, .84, .82, .8, .8, .82, .8, .74, .62,
                    .52, .46, .42, .38, .36),
        "saturday": (.38, .36, .35, .35, .35, .36, .4, .55, .75, .85, .88, .88, .82, .7, .62, .58, .54, .5,
                     .48, .46, .45, .43, .4, .38),
        "sunday": (.4, .38, .38, .38, .38, .38, .38, .38, .4, .45, .5, .55, .55, .52, .5, .5, .48, .46, .45,
                   .44, .43, .42, .41, .4),
    },
    "commuter": {
        "workday": (.05, .04, .04, .04, .05, .12, .35, .72, .9, .93, .93, .92, .9, .88, .86, .8, .65, .45, .3,
                    .2, .14, .1, .08, .06),
        "saturday": (.06, .05, .05, .05, .05, .06, .1, .16, .22, .26, .28, .28, .26, .24, .22, .2, .18, .15,
                     .12, .1, .09, .08, .07, .06),
        "sunday": (.05, .04, .04, .04, .04, .04, .05, .07, .1, .12, .14, .14, .13, .12, .12, .11, .1, .09, .08,
                   .07, .06, .06, .05, .05),
    },
    "leisure": {
        "workday": (.03, .02, .02, .02, .02, .03, .06, .1, .14, .18, .22, .26, .3, .32, .36, .42, .48, .5, .46,
                    .36, .24, .12, .06, .04),
        "saturday": (.03, .02, .02, .02, .02, .03, .05, .1, .18, .3, .45, .55, .6, .64, .66, .66, .62, .55, .45,
                     .32, .2, .1, .05, .04),
        "sunday": (.03, .02, .02, .02, .02, .03, .05, .1, .2, .35, .5, .6, .66, .7, .72, .72, .68, .6, .48,
                   .34, .2, .1, .05, .04),
    },
}
MAX_OCCUPANCY = 0.98


def parking_demand(profile: str, day: Day) -> FloatArray:
    """Target occupancy (0..1) of a lot for each minute of ``day``."""
    info, w = day.info, day.weather
    curve = hourly(_PARKING[profile][info.day_type]).copy()
    if profile in ("centre", "on_street"):
        curve *= boost_curve(info, "parking")
        curve *= 1.0 - 0.12 * w.rain
    elif profile == "commuter":
        curve *= 0.85 if info.school_holiday and info.day_type == "workday" else 1.0
    else:  # leisure: warm dry days fill the lot at the pool and the park
        warmth = float(np.clip((w.temp_mean - 8.0) / 14.0, 0.15, 1.6))
        curve *= warmth * (1.0 - 0.6 * w.rain) * (1.15 if info.school_holiday else 1.0)
    return np.clip(curve, 0.01, MAX_OCCUPANCY)


# --- footfall ----------------------------------------------------------------------------------------------

_FOOTFALL: dict[str, tuple[float, ...]] = {
    "workday": (.015, .008, .005, .004, .005, .012, .04, .12, .26, .45, .64, .8, .9, .86, .8, .82, .88, .84,
                .6, .34, .2, .12, .07, .035),
    "saturday": (.03, .018, .01, .006, .006, .01, .03, .09, .28, .62, .92, 1.0, 1.0, .94, .84, .74, .62, .48,
                 .32, .22, .17, .12, .08, .05),
    "sunday": (.03, .02, .012, .008, .006, .008, .012, .03, .06, .12, .2, .28, .32, .34, .36, .36, .33, .27,
               .2, .14, .1, .07, .05, .035),
}


def footfall_rate(day: Day, *, peak_per_hour: float, market: float = 1.0) -> FloatArray:
    """Expected passers-by per hour at each minute of ``day`` at a counter with the given weekday peak."""
    info, w = day.info, day.weather
    curve = hourly(_FOOTFALL[info.day_type]) * peak_per_hour / 0.9
    curve *= boost_curve(info, "footfall", weight=market)
    curve *= 1.0 - 0.4 * w.rain
    if w.temp_mean < 0:
        curve *= 0.85
    elif w.temp_mean > 28:
        curve *= 0.88
    if info.school_holiday and info.day_type == "workday":
        curve *= 0.93
    return curve


def inward_share(minutes: FloatArray) -> FloatArray:
    """Share of passers-by counted inwards: people come into town in the morning and leave in the evening."""
    return 0.5 + 0.07 * np.cos((minutes / 60.0 - 10.0) * math.pi / 9.0)


# --- air quality -------------------------------------------------------------------------------------------

_TRAFFIC: dict[str, tuple[float, ...]] = {
    "workday": (.1, .06, .05, .05, .1, .3, .7, 1.0, .95, .7, .6, .6, .62, .62, .64, .75, .92, 1.0, .8, .55,
                .4, .3, .22, .15),
    "saturday": (.15, .1, .07, .05, .06, .1, .2, .32, .48, .6, .68, .7, .7, .66, .62, .6, .58, .55, .5, .42,
                 .35, .3, .25, .2),
    "sunday": (.15, .12, .08, .05, .05, .06, .1, .15, .22, .3, .38, .42, .44, .44, .44, .44, .42, .4, .38,
               .34, .3, .25, .2, .15),
}


def traffic(day: Day) -> FloatArray:
    """Relative road traffic (1 = workday rush hour) for each minute of ``day``."""
    return hourly(_TRAFFIC[day.info.day_type])


@dataclass(frozen=True, slots=True)
class AirSample:
    """Air-quality truth at sample times (arrays of equal length)."""

    no2: FloatArray  # µg/m³
    pm2_5: FloatArray  # µg/m³
    pm10: FloatArray  # µg/m³
    temperature: FloatArray  # °C
    humidity: FloatArray  # %
    pressure: FloatArray  # hPa
    no: FloatArray  # µg/m³, nitrogen monoxide: fresh exhaust, highest at the kerb in the rush hours
    o3: FloatArray  # µg/m³, ozone: sunny summer afternoons, eaten up by NO near roads
    co: FloatArray  # mg/m³


def air_quality(day: Day, minutes: FloatArray, *, traffic_weight: float, rng: np.random.Generator) -> AirSample:
    """Outdoor air at local ``minutes`` of ``day`` near a road with ``traffic_weight`` (1 = ring road)."""
    w = day.weather
    idx = np.clip(minutes.astype(np.int64), 0, MINUTES - 1)
    road = traffic(day)[idx] * traffic_weight
    night = (minutes < 8 * 60) | (minutes > 19 * 60)
    dispersion = (3.0 / max(w.wind, 0.7)) ** 0.6 * (1.0 + 0.8 * w.inversion * night)
    season = math.cos(2 * math.pi * (day.info.day.timetuple().tm_yday - 15) / 365.25)  # +1 winter
    no2 = (10.0 + 4.0 * season) * (1 + 0.3 * w.inversion) + 38.0 * road * dispersion
    heating = max(0.0, 12.0 - w.temp_mean) * 0.5
    background = (8.0 + 3.0 * season + heating) * (1.0 + 1.6 * w.inversion) * (1.0 - 0.45 * w.rain)
    pm25 = background * (1.0 + 0.25 * night * w.inversion) + 4.0 * road * dispersion
    noise = rng.lognormal(0.0, 0.12, (2, minutes.size))
    pm25 = pm25 * noise[0]
    pm10 = pm25 * (1.35 + 0.1 * (1 - w.rain)) + 6.0 * road * noise[1]
    temperature = w.temperature(minutes) + rng.normal(0.0, 0.2, minutes.size)
    humidity = np.clip(78.0 - 2.2 * (temperature - w.temp_mean) + 15.0 * w.rain - 0.6 * (w.temp_mean - 10), 18, 99)
    pressure = np.full(minutes.size, w.pressure) + rng.normal(0.0, 0.15, minutes.size)
    no2 = no2 * rng.lognormal(0.0, 0.1, minutes.size)
    exhaust = road * dispersion * rng.lognormal(0.0, 0.2, minutes.size)
    no = 2.0 + 55.0 * (1.0 + 0.4 * season) * exhaust
    sun = np.clip(np.sin((minutes / 60.0 - 7.0) * math.pi / 14.0), 0.0, None)  # 07:00-21:00, top at 14:00
    o3 = np.clip((38.0 - 22.0 * season) * (0.55 + 0.45 * sun) * (1.0 - 0.3 * w.inversion) - 0.6 * no, 2.0, None)
    co = (0.18 + 0.02 * heating) * (1.0 + 0.5 * w.inversion) + 0.6 * exhaust
    return AirSample(no2=no2, pm2_5=pm25, pm10=pm10, temperature=temperature, humidity=humidity,
                     pressure=pressure, no=no, o3=o3, co=co)


def classroom_co2(day: Day, minutes: FloatArray, *, rng: np.random.Generator, office: bool = False) -> FloatArray:
    """CO2 (ppm) in an occupied room: rises during lessons (or office hours), aired in the breaks."""
    info = day.info
    occupied = info.day_type == "workday" and not (info.school_holiday and not office)
    base = 430.0 + rng.normal(0.0, 8.0, minutes.size)
    if not occupied:
        return base
    start, end = (8 * 60, 17 * 60) if office else (7 * 60 + 50, 13 * 60 + 15)
    inside = (minutes >= start) & (minutes < end)
    since = np.where(inside, minutes - start, 0.0)
    lesson = np.mod(since, 95.0)  # a double lesson, then a break with open windows
    rise = np.where(lesson < 80.0, 1.0 - np.exp(-lesson / 35.0), np.exp(-(lesson - 80.0) / 4.0) * 0.9)
    peak = 700.0 if office else 1250.0
    return base + inside * rise * peak * rng.lognormal(0.0, 0.08, minutes.size)
