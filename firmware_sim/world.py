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

from firmware_sim.town import Calendar, Event, Town
from stadtpuls.holidays import easter_sunday
from stadtpuls.holidays import public_holidays as holidays_of

MINUTES = 1440  # per day
FloatArray = npt.NDArray[np.float64]


# --- calendar ----------------------------------------------------------------------------------------------

easter = easter_sunday  # Easter Sunday (the one computation in stadtpuls.holidays)


def public_holidays(year: int, state: str) -> dict[date, str]:
    """German public holidays of ``year`` in ``state`` (two-letter code), by their German names."""
    return {day: german for day, (german, _english) in holidays_of(year, state).items()}


@dataclass(frozen=True, slots=True)
class Boost:
    """A factor applied between two local minutes of the day, at ``sites`` (all sites when empty)."""

    start: int  # minute of day
    end: int
    footfall: float
    parking: float
    name: str
    sites: frozenset[str] = frozenset()

    def reaches(self, site: str) -> bool:
        """Whether the boost lifts demand at ``site`` (an empty site means: the town as a whole)."""
        return not self.sites or not site or site in self.sites


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
        return _day_type(self.weekday, self.holiday)


def _day_type(weekday: int, holiday: str) -> str:
    if holiday or weekday == 6:
        return "sunday"
    return "saturday" if weekday == 5 else "workday"


def _minute(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def _event_boosts(event: Event, kind: str) -> list[Boost]:
    """An event's boosts on a day of type ``kind``: its day-type factor, then its evening factor if it has one."""
    factor = dict(event.by_day_type).get(kind, event.footfall)
    start, end = _minute(event.start), _minute(event.end) + 1
    if event.evening is None:
        return [Boost(start, end, factor, event.parking, event.name, event.sites)]
    evening = _minute(event.evening[0])
    return [Boost(start, evening, factor, event.parking, event.name, event.sites),
            Boost(evening, end, factor * event.evening[1], event.parking, event.name, event.sites)]


def day_info(calendar: Calendar, day: date) -> DayInfo:
    """The calendar facts of ``day``."""
    holiday = public_holidays(day.year, calendar.state).get(day, "")
    kind = _day_type(day.weekday(), holiday)
    boosts = [
        Boost(_minute(m.start), _minute(m.end), m.footfall, m.parking, "market", m.sites)
        for m in calendar.markets
        if day.weekday() in m.weekdays and not holiday
    ]
    for event in calendar.events:
        if event.window.contains(day):
            boosts += _event_boosts(event, kind)
    boosts += [
        Boost(_minute(s.close), MINUTES + 60, s.footfall, s.parking, "closing")
        for s in calendar.short_days
        if (day.month, day.day) == s.day and kind != "sunday"
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


@lru_cache(maxsize=16)
def weather_year(seed: int, year: int) -> tuple[Weather, ...]:
    """The weather of every day of ``year`` (index = day of year − 1), AR(1) processes around the climate.

    Pressure leads: a high brings calm air, and in winter cold nights; where a winter high, calm and cold meet,
    the air stagnates under an inversion (``inversion`` up to 1), an episode lasting as long as the high.
    Rainy days are windier and lower in pressure.
    """
    rng = np.random.default_rng([seed, year, 0x57EA])
    days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    doy = np.arange(days, dtype=np.float64)
    season = -np.cos(2 * math.pi * (doy - 15.0) / 365.25)  # -1 mid January, +1 mid July
    winter = np.clip(-season, 0.0, None)
    noise_t = _ar1(rng, days, 0.75, 3.0)
    noise_w = _ar1(rng, days, 0.6, 0.3)
    noise_p = _ar1(rng, days, 0.85, 8.0)
    rain_p = 0.42 - 0.05 * season
    rainy = (rng.random(days) < rain_p) & (noise_p < 10.0)
    rain = np.where(rainy, rng.beta(1.6, 2.4, days), 0.0)
    out = []
    for i in range(days):
        temp = 9.5 + 9.5 * season[i] + noise_t[i] - 0.25 * max(0.0, noise_p[i]) * winter[i]
        wind = float(np.exp(np.log(3.2 + 0.6 * winter[i]) + noise_w[i] - 0.035 * noise_p[i] + 0.4 * rain[i]))
        pressure = 1015.0 + noise_p[i] - 4.0 * rain[i]
        stagnant = min(1.0, max(0.0, (noise_p[i] - 2.0) / 10.0)) * min(1.0, max(0.0, (3.2 - wind) / 1.8))
        inversion = stagnant * min(1.0, max(0.0, (8.0 - temp) / 8.0)) * winter[i] ** 0.5
        out.append(Weather(
            temp_mean=round(float(temp), 2), temp_amplitude=round(4.5 + 1.5 * season[i] - 2.0 * rain[i], 2),
            rain=round(float(rain[i]), 3), wind=round(wind, 2), pressure=round(float(pressure), 1),
            inversion=round(min(1.0, 2.0 * inversion), 3),
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

@dataclass(frozen=True, slots=True, eq=False)
class Day:
    """One local day of the town: its calendar facts, its weather and where it lies on the UTC axis.

    A day's weather values hold at noon; between noons they change smoothly from the day before and towards
    the day after (no step at midnight). ``crowd`` is the town-wide mood of the day: how many more or fewer
    people than the calendar and weather say come into town, per minute (day level and hour level, both
    autocorrelated).
    """

    info: DayInfo
    weather: Weather
    start: float  # epoch seconds of local midnight
    end: float  # epoch seconds of the next local midnight (23, 24 or 25 h later)
    before: Weather | None = None
    after: Weather | None = None
    crowd: FloatArray | None = None  # (MINUTES,) factor on footfall, about 1

    @property
    def minute_seconds(self) -> float:
        """Seconds per simulated local minute (60, or slightly off on DST change days)."""
        return (self.end - self.start) / MINUTES

    def through_day(self, name: str, minutes: FloatArray) -> FloatArray:
        """Weather value ``name`` (a :class:`Weather` field) at local ``minutes``, changing smoothly noon to noon."""
        today = float(getattr(self.weather, name))
        before = float(getattr(self.before, name)) if self.before else today
        after = float(getattr(self.after, name)) if self.after else today
        values: FloatArray = np.interp(minutes, _NOONS, (before, today, after))
        return values

    def temperature(self, minutes: FloatArray) -> FloatArray:
        """Air temperature (°C) at local ``minutes``; coldest near 05:00, warmest near 15:00."""
        mean = self.through_day("temp_mean", minutes)
        amplitude = self.through_day("temp_amplitude", minutes)
        return mean + amplitude * np.sin((minutes / 60.0 - 9.0) * math.pi / 12.0)


_NOONS = (-720.0, 720.0, 2160.0)  # minutes: yesterday's noon, today's, tomorrow's
CROWD_DAY_SIGMA = 0.10  # log-sd of the town-wide day level of footfall
CROWD_HOUR_SIGMA = 0.10  # log-sd of the hour level (AR(1) over 10-minute steps)
CROWD_HOUR_PHI = 0.92  # its autocorrelation per 10 minutes (about 2 h memory)


def crowd(seed: int, day: date) -> FloatArray:
    """The town-wide footfall factor of ``day`` per minute: a day level times an autocorrelated hour level."""
    rng = np.random.default_rng([seed, day.toordinal(), 0xC40D])
    level = rng.normal(0.0, CROWD_DAY_SIGMA)
    steps = _ar1(rng, MINUTES // 10 + 1, CROWD_HOUR_PHI, CROWD_HOUR_SIGMA)
    curve = np.interp(_MINUTE_AXIS, np.arange(steps.size) * 10.0, steps)
    out: FloatArray = np.exp(level + curve - 0.5 * (CROWD_DAY_SIGMA**2 + CROWD_HOUR_SIGMA**2))
    return out


def make_day(town: Town, seed: int, day: date) -> Day:
    """Everything the models need about ``day`` in ``town``."""
    tz = town.timezone
    start = datetime.combine(day, time(0), tzinfo=tz).timestamp()
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).timestamp()
    one = timedelta(days=1)
    return Day(day_info(town.calendar, day), weather(seed, day), start, end, before=weather(seed, day - one),
               after=weather(seed, day + one), crowd=crowd(seed, day))


_MINUTE_AXIS = np.arange(MINUTES, dtype=np.float64)
_HOUR_AXIS = np.arange(25, dtype=np.float64) * 60.0


def hourly(values: tuple[float, ...]) -> FloatArray:
    """24 hourly values (at hh:30) → a smooth per-minute curve over the day."""
    knots = np.concatenate([[values[-1]], values, [values[0]]])
    x = np.concatenate([[-30.0], np.arange(24) * 60.0 + 30.0, [MINUTES + 30.0]])
    curve: FloatArray = np.interp(_MINUTE_AXIS, x, knots)
    return curve


def boost_curve(info: DayInfo, field: str, *, weight: float = 1.0, site: str = "") -> FloatArray:
    """Per-minute multiplier of the day's markets, events and early closing (``field`` = footfall or parking)
    at ``site``; ``weight`` scales the weekly market's lift (a counter right at the stalls sees more of it).
    """
    out = np.ones(MINUTES)
    for b in info.boosts:
        if not b.reaches(site):
            continue
        factor = 1.0 + (getattr(b, field) - 1.0) * (weight if b.name == "market" else 1.0)
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
    "on_street": {  # visitors only: the residents who stay overnight are their own population (overnight_share)
        "workday": (.01, .01, .01, .01, .01, .01, .04, .12, .26, .36, .4, .44, .44, .42, .4, .42, .43, .4, .34,
                    .27, .18, .09, .04, .02),
        "saturday": (.02, .01, .01, .01, .01, .01, .03, .1, .3, .45, .55, .58, .55, .45, .38, .35, .32, .3, .28,
                     .24, .18, .1, .05, .03),
        "sunday": (.02, .01, .01, .01, .01, .01, .01, .03, .08, .14, .2, .25, .26, .25, .24, .24, .22, .2, .18,
                   .14, .1, .06, .03, .02),
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


def parking_demand(profile: str, day: Day, *, site: str = "") -> FloatArray:
    """Target occupancy (0..1) of a lot's visitors for each minute of ``day``."""
    info, w = day.info, day.weather
    curve = hourly(_PARKING[profile][info.day_type]).copy()
    if profile in ("centre", "on_street"):
        curve *= boost_curve(info, "parking", site=site)
        curve *= 1.0 - 0.12 * w.rain
    elif profile == "commuter":
        curve *= 0.85 if info.school_holiday and info.day_type == "workday" else 1.0
    else:  # leisure: warm dry days fill the lot at the pool and the park
        warmth = float(np.clip((w.temp_mean - 8.0) / 14.0, 0.15, 1.6))
        curve *= warmth * (1.0 - 0.6 * w.rain) * (1.15 if info.school_holiday else 1.0)
    return np.clip(curve, 0.01, MAX_OCCUPANCY)


# --- footfall ----------------------------------------------------------------------------------------------

# Relative footfall per hour (workday midday peak = 0.9). Weekdays peak around midday; Saturdays are the busiest
# days, peaking 14-16 h with about 1.9× a Tuesday's 10-20 h; Sundays are low, shops being closed.
_FOOTFALL: dict[str, tuple[float, ...]] = {
    "workday": (.015, .008, .005, .004, .005, .012, .04, .12, .26, .45, .64, .8, .9, .86, .8, .82, .88, .84,
                .6, .34, .2, .12, .07, .035),
    "saturday": (.03, .018, .01, .006, .006, .01, .03, .08, .2, .45, .95, 1.15, 1.3, 1.42, 1.68, 1.68, 1.48, 1.22,
                 .9, .54, .28, .16, .1, .06),
    "sunday": (.03, .02, .012, .008, .006, .008, .012, .03, .06, .12, .2, .28, .32, .34, .36, .36, .33, .27,
               .2, .14, .1, .07, .05, .035),
}


def footfall_rate(day: Day, *, peak_per_hour: float, market: float = 1.0, site: str = "") -> FloatArray:
    """Expected passers-by per hour at each minute of ``day`` at a counter of ``site`` with the given weekday
    peak; ``market`` weights the weekly market's lift at that counter (markets reach only their sites).
    """
    info, w = day.info, day.weather
    curve = hourly(_FOOTFALL[info.day_type]) * peak_per_hour / 0.9
    curve *= boost_curve(info, "footfall", weight=market, site=site)
    curve *= 1.0 - 0.4 * w.rain
    if w.temp_mean < 0:
        curve *= 0.85
    elif w.temp_mean > 28:
        curve *= 0.88
    if info.school_holiday and info.day_type == "workday":
        curve *= 0.93
    if day.crowd is not None:
        curve *= day.crowd
    return curve


def inward_share(minutes: FloatArray) -> FloatArray:
    """Share of passers-by counted inwards: people come into town in the morning and leave in the evening."""
    return 0.5 + 0.07 * np.cos((minutes / 60.0 - 10.0) * math.pi / 9.0)


# --- air quality -------------------------------------------------------------------------------------------

_TRAFFIC: dict[str, tuple[float, ...]] = {
    "workday": (.1, .06, .05, .05, .1, .3, .7, 1.0, .95, .7, .6, .6, .62, .62, .64, .75, .92, 1.0, .8, .6,
                .48, .38, .28, .18),
    "saturday": (.15, .1, .07, .05, .06, .1, .2, .32, .48, .6, .68, .7, .7, .66, .62, .6, .58, .55, .5, .42,
                 .35, .3, .25, .2),
    "sunday": (.15, .12, .08, .05, .05, .06, .1, .15, .22, .3, .38, .42, .44, .44, .44, .44, .42, .4, .38,
               .34, .3, .25, .2, .15),
}
# Height of the mixed layer relative to the afternoon's: shallow at night and from the evening on (the boundary
# layer collapses at sunset), deep around midday. What traffic emits is diluted into it.
_MIXING = (.4, .38, .36, .35, .35, .36, .4, .47, .6, .74, .86, .95, 1.0, 1.0, 1.0, .92, .74, .52, .38, .32, .31, .32,
           .35, .38)
# Domestic heating: a morning and a larger evening peak.
_HEATING = (.7, .55, .45, .4, .45, .7, 1.1, 1.3, 1.1, .8, .65, .6, .55, .55, .6, .7, .95, 1.3, 1.6, 1.7, 1.65,
            1.4, 1.1, .85)
NO2_MEMORY = 90.0  # minutes: how long emitted NO2 stays in the street canyon's air (exponential)


def traffic(day: Day) -> FloatArray:
    """Relative road traffic (1 = workday rush hour) for each minute of ``day``."""
    return hourly(_TRAFFIC[day.info.day_type])


def _remembered(values: FloatArray, memory: float) -> FloatArray:
    """Exponential memory of ``memory`` minutes over a per-minute curve, as if yesterday looked like today."""
    steps = values[::10]
    keep = math.exp(-10.0 / memory)
    state = float(steps.mean())
    out = np.empty(steps.size)
    for _ in range(2):  # the second pass starts from the end of the first: no step at midnight
        for i, x in enumerate(steps.tolist()):
            state = keep * state + (1.0 - keep) * x
            out[i] = state
    curve: FloatArray = np.interp(_MINUTE_AXIS, np.arange(steps.size) * 10.0, out)
    return curve


def texture(rng: np.random.Generator, n: int, sigma: float, phi: float = 0.9) -> FloatArray:
    """Autocorrelated multiplicative noise (mean about 1) over ``n`` consecutive samples."""
    noise: FloatArray = np.exp(_ar1(rng, n, phi, sigma) - 0.5 * sigma * sigma)
    return noise


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
    """Outdoor air at local ``minutes`` of ``day`` near a road with ``traffic_weight`` (1 = ring road).

    Exhaust (NO2, NO, CO and some PM) is emitted with the traffic into a mixed layer that is shallow at night and
    in the evening and deep at midday, diluted by wind, and stays a while (``NO2_MEMORY``): so NO2 peaks in the
    morning rush, dips at midday and is highest in the evening. The urban background of NO2 and PM grows with
    calm air and under winter inversions; PM gets domestic heating on cold days (evening peak), regional haze,
    and is washed out by rain.
    """
    w = day.weather
    axis = _MINUTE_AXIS
    idx = np.clip(minutes.astype(np.int64), 0, MINUTES - 1)
    mixing = hourly(_MIXING)
    wind = np.maximum(day.through_day("wind", axis), 0.5)
    inversion = day.through_day("inversion", axis)
    calm = (3.0 / wind) ** 0.6
    trapped = calm * (1.0 + 1.5 * inversion) / mixing  # how much of what is emitted stays near the ground
    road_now = traffic(day) * traffic_weight
    road = _remembered(road_now * trapped, NO2_MEMORY)[idx]
    season = math.cos(2 * math.pi * (day.info.day.timetuple().tm_yday - 15) / 365.25)  # +1 winter
    n = minutes.size
    background_no2 = (9.0 + 4.0 * season) * (calm * (1.0 + 0.8 * inversion))[idx] ** 0.5
    no2 = (background_no2 + 7.5 * road) * texture(rng, n, 0.12)
    temperature = day.temperature(minutes) + _ar1(rng, n, 0.8, 0.1)
    cold = np.clip(15.0 - day.through_day("temp_mean", axis), 0.0, None)
    heating = 0.28 * cold * hourly(_HEATING) * calm / np.sqrt(mixing)
    regional = (5.0 + 2.5 * season) * (calm * (1.0 + 4.0 * inversion)) ** 0.9
    pm25 = (regional[idx] + heating[idx]) * (1.0 - 0.45 * w.rain) + 1.6 * road
    pm25 = pm25 * texture(rng, n, 0.15)
    pm10 = pm25 * (1.3 + 0.12 * (1 - w.rain)) + 4.0 * road_now[idx] * texture(rng, n, 0.2)
    humidity = np.clip(78.0 - 2.2 * (temperature - day.through_day("temp_mean", minutes)) + 15.0 * w.rain
                       - 0.6 * (w.temp_mean - 10), 18, 99)
    pressure = day.through_day("pressure", minutes) + rng.normal(0.0, 0.15, n)
    exhaust = road * texture(rng, n, 0.2)
    no = 2.0 + 22.0 * (1.0 + 0.4 * season) * exhaust
    sun = np.clip(np.sin((minutes / 60.0 - 7.0) * math.pi / 14.0), 0.0, None)  # 07:00-21:00, top at 14:00
    o3 = np.clip((38.0 - 22.0 * season) * (0.55 + 0.45 * sun) * (1.0 - 0.3 * w.inversion) - 0.6 * no, 2.0, None)
    co = (0.18 + 0.02 * float(cold.mean())) * (1.0 + 0.5 * w.inversion) + 0.25 * exhaust
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
