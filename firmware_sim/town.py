"""A town described as data: sites, their devices, gateways, calendar; loaded and checked before anything runs.

``load_town("default")`` reads ``firmware_sim/towns/default.yaml``; a path to any YAML file works as well.
:func:`register_town` puts every device into the device registry (idempotent: an upsert per device).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)

from devices.catalog import DeviceModel, get_model
from devices.specfile import location, read_yaml, validate
from stadtpuls.calendar import YearlyWindow
from stadtpuls.errors import ConfigError
from stadtpuls.schema import DeviceClass

TOWNS_DIR = Path(__file__).with_name("towns")
Kind = Literal["parking", "footfall", "air"]
KINDS: dict[str, DeviceClass] = {
    "parking": DeviceClass.PARKING,
    "footfall": DeviceClass.FOOTFALL,
    "air": DeviceClass.AIR_QUALITY,
}
PARKING_PROFILES = ("centre", "on_street", "commuter", "leisure")  # the parking demand curves of the world
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HEX8 = re.compile(r"^[0-9A-F]{8}$")
_METRES_PER_DEGREE = 111_320.0


class TownError(ConfigError, ValueError):
    """A town file is missing, malformed or names something that does not exist."""


@dataclass(frozen=True, slots=True)
class Gateway:
    """A LoRaWAN gateway of the town's network."""

    id: str
    eui: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class RadioSettings:
    """How the radio and the network server misbehave (probabilities per uplink)."""

    loss: float = 0.004
    duplicate: float = 0.003
    late: float = 0.002
    late_delay: tuple[float, float] = (60.0, 1800.0)  # s
    shadowing_db: float = 5.0
    rejoin_per_year: float = 0.5  # spontaneous device resets per device and year


@dataclass(frozen=True, slots=True)
class Network:
    """The network server side: application ids and gateways."""

    application: str
    tenant: str
    chirpstack_application: str
    gateways: tuple[Gateway, ...]
    radio: RadioSettings


@dataclass(frozen=True, slots=True)
class Market:
    """A weekly market: weekdays (0 = Monday), local hours, and its boost to footfall and parking demand."""

    weekdays: frozenset[int]
    start: time
    end: time
    footfall: float
    parking: float
    sites: frozenset[str] = frozenset()  # where the market lifts demand; empty = every site


@dataclass(frozen=True, slots=True)
class Event:
    """A yearly event (Christmas market, town festival) with daily hours and its demand boost."""

    name: str
    window: YearlyWindow
    start: time
    end: time
    footfall: float
    parking: float
    sites: frozenset[str] = frozenset()  # where the event lifts demand; empty = every site
    by_day_type: tuple[tuple[str, float], ...] = ()  # footfall factor on workday/saturday/sunday instead
    evening: tuple[time, float] | None = None  # from this hour on, this footfall factor (× the day type's)


@dataclass(frozen=True, slots=True)
class ShortDay:
    """A day on which shops close early (24 and 31 December): after ``close`` footfall and parking fall."""

    day: tuple[int, int]  # (month, day)
    close: time
    footfall: float
    parking: float


@dataclass(frozen=True, slots=True)
class Calendar:
    """School holidays, markets and events; public holidays follow ``state``."""

    state: str
    school_holidays: tuple[YearlyWindow, ...]
    markets: tuple[Market, ...]
    events: tuple[Event, ...]
    short_days: tuple[ShortDay, ...] = ()


@dataclass(frozen=True, slots=True)
class SimDevice:
    """One simulated sensor: identity, where it is, and the parameters its world model needs."""

    dev_eui: str
    name: str
    model: str
    kind: Kind
    site: str
    site_name: str
    municipality: str
    lat: float
    lon: float
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def catalog(self) -> DeviceModel:
        """The device model's catalog entry."""
        return get_model(self.model)


@dataclass(frozen=True, slots=True)
class Site:
    """A place with sensors: a parking lot, a counting zone, an air station group."""

    id: str
    name: str
    kind: Kind
    municipality: str
    lat: float
    lon: float
    params: dict[str, Any]
    devices: tuple[SimDevice, ...]


@dataclass(frozen=True, slots=True)
class Town:
    """A whole simulated town."""

    name: str
    title: str
    timezone: ZoneInfo
    municipality: str
    network: Network
    calendar: Calendar
    sites: tuple[Site, ...]

    @property
    def devices(self) -> tuple[SimDevice, ...]:
        """Every device of every site, in file order."""
        return tuple(d for s in self.sites for d in s.devices)

    def device(self, ref: str) -> SimDevice:
        """A device by name or DevEUI.

        Raises:
            TownError: no device has that name or DevEUI.
        """
        wanted = ref.strip()
        for dev in self.devices:
            if wanted in (dev.name, dev.dev_eui) or wanted.upper() == dev.dev_eui:
                return dev
        raise TownError(f"town {self.name!r} has no device named {ref!r}")


def town_path(name: str | Path) -> Path:
    """The YAML file of a town given by name (``default``) or by path.

    Raises:
        TownError: no such file.
    """
    text = str(name)
    path = Path(text) if text.endswith((".yaml", ".yml")) or "/" in text else TOWNS_DIR / f"{text}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in TOWNS_DIR.glob("*.yaml")))
        raise TownError(f"no town {text!r}: give a YAML file or one of: {known}")
    return path


def load_town(name: str | Path = "default") -> Town:
    """Load and check a town.

    Raises:
        TownError: the file is malformed; each line of the message names the file, the place in it and the field
            (``town.yaml: sites[3].lat: Input should be less than or equal to 90``).
    """
    path = town_path(name)
    document = read_yaml(path, TownError)
    spec = validate(_TOWN_FILE_FORM, document, path=path, error=TownError)
    return _town(spec, document, path)


# --- the file's form -------------------------------------------------------------------------------------------

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Boost = Annotated[float, Field(ge=0)]  # a factor on demand, 1 = none


def _month_day(value: Any) -> tuple[int, int]:
    try:
        month, day = (int(p) for p in str(value).split("-"))
        date(2024, month, day)  # a leap year accepts 02-29
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a date MM-DD") from exc
    return month, day


def _clock(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a time HH:MM (quote it in YAML)")


def _weekday(value: Any) -> int:
    name = str(value).lower()
    if name not in WEEKDAYS:
        raise ValueError(f"{value!r} is not a weekday; use one of {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(name)


def _zone(value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {value!r}") from exc


MonthDay = Annotated[tuple[int, int], BeforeValidator(_month_day)]
Clock = Annotated[time, BeforeValidator(_clock)]
Weekday = Annotated[int, BeforeValidator(_weekday)]
Zone = Annotated[ZoneInfo, BeforeValidator(_zone)]


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, arbitrary_types_allowed=True)


class _GatewaySpec(_Form):
    id: Text
    eui: Text
    lat: Latitude
    lon: Longitude


class _RadioSpec(_Form):
    loss: float = Field(default=0.004, ge=0, le=1)
    duplicate: float = Field(default=0.003, ge=0, le=1)
    late: float = Field(default=0.002, ge=0, le=1)
    late_delay: tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]] = (60.0, 1800.0)  # s
    shadowing_db: float = Field(default=5.0, ge=0, le=30)
    rejoin_per_year: float = Field(default=0.5, ge=0, le=365)

    @field_validator("late_delay")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if value[0] > value[1]:
            raise ValueError(f"late_delay must be [min, max] seconds, got {list(value)}")
        return value


class _NetworkSpec(_Form):
    application: Text = "stadtpuls-sim"
    tenant: Text = "ttn"
    chirpstack_application: Text = "6f1d2b7e-3c58-4a8e-9d0b-4f6a2c1e9b57"
    gateways: list[_GatewaySpec] = Field(min_length=1)
    radio: _RadioSpec = Field(default_factory=_RadioSpec)


class _WindowSpec(_Form):
    start: MonthDay = Field(alias="from")
    end: MonthDay = Field(alias="to")


class _MarketSpec(_Form):
    weekdays: list[Weekday] = Field(min_length=1)
    start: Clock = Field(alias="from")
    end: Clock = Field(alias="to")
    footfall: Boost = 1.0
    parking: Boost = 1.0
    sites: list[Text] = Field(default_factory=list)  # site ids it lifts; none listed = every site


DayType = Literal["workday", "saturday", "sunday"]


class _EventSpec(_WindowSpec):
    name: Text
    hours: tuple[Clock, Clock] = (time(0, 0), time(23, 59))
    footfall: Boost = 1.0
    parking: Boost = 1.0
    sites: list[Text] = Field(default_factory=list)
    by_day_type: dict[DayType, Boost] = Field(default_factory=dict)  # footfall factor per day type
    evening: tuple[Clock, Boost] | None = None  # ["17:00", 1.6]: evening footfall × this, until the end


class _ShortDaySpec(_Form):
    day: MonthDay = Field(alias="date")
    close: Clock
    footfall: Boost = 0.15  # factor on demand after closing
    parking: Boost = 0.5


class _CalendarSpec(_Form):
    school_holidays: list[_WindowSpec] = Field(default_factory=list)
    markets: list[_MarketSpec] = Field(default_factory=list)
    events: list[_EventSpec] = Field(default_factory=list)
    short_days: list[_ShortDaySpec] = Field(default_factory=list)


class _DeviceSpec(BaseModel):
    """A listed device; keys besides these are parameters of its world model (``peak_per_hour``, ``traffic`` ...)."""

    model_config = ConfigDict(extra="allow")

    name: Text
    model: Text
    lat: Latitude
    lon: Longitude


_LOT_FIELDS = frozenset({"model", "count", "lat", "lon", "spread", "profile", "dwell_minutes", "overnight_share",
                         "fill_spread"})


class _SiteSpec(_Form):
    id: Text
    name: Text | None = None
    kind: Kind
    municipality: Text | None = None
    eui_prefix: str
    # parking lots: `count` bays of one `model` around (lat, lon)
    model: Text | None = None
    count: int | None = Field(default=None, ge=1, le=100_000)
    lat: Latitude | None = None
    lon: Longitude | None = None
    spread: float = Field(default=50.0, ge=0, le=5000)  # m
    profile: Literal["centre", "on_street", "commuter", "leisure"] = "centre"
    dwell_minutes: float = Field(default=120.0, ge=5, le=10_000)
    # share of bays a resident takes for the night (arrives in the evening, leaves in the morning)
    overnight_share: float = Field(default=0.0, ge=0, le=1)
    # bays fill in their numbered order (bay 1 at the entrance, the last on the top deck): each bay's demand is a
    # logistic step of this width around its place in the order; 0 = all bays alike
    fill_spread: float = Field(default=0.0, ge=0, le=5)
    # counting zones and air stations: their devices, each with its own position
    devices: list[_DeviceSpec] = Field(default_factory=list)

    @field_validator("eui_prefix", mode="before")
    @classmethod
    def _prefix(cls, value: Any) -> str:
        text = str(value).upper()
        if not _HEX8.match(text):
            raise ValueError(f"eui_prefix must be 8 hex digits, got {value!r}")
        return text

    @model_validator(mode="after")
    def _complete(self) -> _SiteSpec:
        if self.kind == "parking":
            missing = [k for k in ("model", "count", "lat", "lon") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"a parking site needs {', '.join(missing)}")
            if self.devices:
                raise ValueError("a parking site has count bays of one model, not a list of devices")
            return self
        if not self.devices:
            raise ValueError(f"a {self.kind} site lists its devices")
        lot_only = sorted(self.model_fields_set & _LOT_FIELDS)
        if lot_only:
            raise ValueError(f"{', '.join(lot_only)}: only parking sites have these; list the devices instead")
        return self


class _TownSpec(_Form):
    name: Text | None = None
    title: Text | None = None
    timezone: Zone = Field(default_factory=lambda: ZoneInfo("Europe/Berlin"))
    municipality: Text
    state: Text = "HE"
    centre: dict[str, float] | None = None  # where maps open; not used by the simulation
    network: _NetworkSpec
    calendar: _CalendarSpec = Field(default_factory=_CalendarSpec)
    sites: list[_SiteSpec] = Field(min_length=1)


_TOWN_FILE_FORM = TypeAdapter(_TownSpec)


# --- building the town -------------------------------------------------------------------------------------------

def _town(spec: _TownSpec, document: Any, path: Path) -> Town:
    name = spec.name or path.stem
    sites = tuple(_site(site, i, spec.municipality, document, path) for i, site in enumerate(spec.sites))
    town = Town(
        name=name,
        title=spec.title or name,
        timezone=spec.timezone,
        municipality=spec.municipality,
        network=_network(spec.network),
        calendar=_calendar(spec.calendar, state=spec.state),
        sites=sites,
    )
    _check_unique(town, path)
    _check_sites_named(town, path)
    return town


def _check_unique(town: Town, path: Path) -> None:
    seen_eui: set[str] = set()
    seen_name: set[str] = set()
    for dev in town.devices:
        if dev.dev_eui in seen_eui:
            raise TownError(f"{path}: DevEUI {dev.dev_eui} appears twice")
        if dev.name in seen_name:
            raise TownError(f"{path}: device name {dev.name!r} appears twice")
        seen_eui.add(dev.dev_eui)
        seen_name.add(dev.name)


def _check_sites_named(town: Town, path: Path) -> None:
    known = {s.id for s in town.sites}
    named = [("markets", m.sites) for m in town.calendar.markets] + [("events", e.sites) for e in town.calendar.events]
    for where, sites in named:
        unknown = sorted(sites - known)
        if unknown:
            raise TownError(f"{path}: calendar.{where} names unknown site(s) {', '.join(unknown)}; "
                            f"known: {', '.join(sorted(known))}")


def _network(spec: _NetworkSpec) -> Network:
    radio = spec.radio
    return Network(
        application=spec.application,
        tenant=spec.tenant,
        chirpstack_application=spec.chirpstack_application,
        gateways=tuple(Gateway(id=g.id, eui=g.eui.upper(), lat=g.lat, lon=g.lon) for g in spec.gateways),
        radio=RadioSettings(loss=radio.loss, duplicate=radio.duplicate, late=radio.late,
                            late_delay=radio.late_delay, shadowing_db=radio.shadowing_db,
                            rejoin_per_year=radio.rejoin_per_year),
    )


def _calendar(spec: _CalendarSpec, *, state: str) -> Calendar:
    markets = tuple(
        Market(weekdays=frozenset(m.weekdays), start=m.start, end=m.end, footfall=m.footfall, parking=m.parking,
               sites=frozenset(m.sites))
        for m in spec.markets
    )
    events = tuple(
        Event(name=e.name, window=YearlyWindow(e.start, e.end), start=e.hours[0], end=e.hours[1],
              footfall=e.footfall, parking=e.parking, sites=frozenset(e.sites),
              by_day_type=tuple(sorted(e.by_day_type.items())), evening=e.evening)
        for e in spec.events
    )
    holidays = tuple(YearlyWindow(w.start, w.end) for w in spec.school_holidays)
    short = tuple(ShortDay(day=d.day, close=d.close, footfall=d.footfall, parking=d.parking) for d in spec.short_days)
    return Calendar(state=state, school_holidays=holidays, markets=markets, events=events, short_days=short)


def _site(spec: _SiteSpec, index: int, town_municipality: str, document: Any, path: Path) -> Site:
    where = f"sites[{index}]"
    base = {
        "id": spec.id,
        "name": spec.name or spec.id,
        "kind": spec.kind,
        "municipality": spec.municipality or town_municipality,
    }
    if spec.kind == "parking":
        return _parking_site(spec, base, where=_place(path, document, (*_loc(where), "model")))
    return _listed_site(spec, base, document, path, where)


def _loc(where: str) -> tuple[str | int, ...]:
    """``sites[3]`` → ``("sites", 3)``."""
    name, _, number = where.rstrip("]").partition("[")
    return (name, int(number))


def _place(path: Path, document: Any, loc: tuple[str | int, ...]) -> str:
    """``<file>: <path inside it>`` for a message about the value at ``loc``."""
    return f"{path}: {location(loc, document)}"


def _check_model(model: str, kind: str, where: str) -> str:
    try:
        entry = get_model(model)
    except KeyError as exc:
        raise TownError(f"{where}: {exc.args[0]}") from exc
    if entry.device_class != KINDS[kind]:
        raise TownError(f"{where}: model {model} is a {entry.device_class} device, not {KINDS[kind]}")
    if not entry.codec:
        raise TownError(f"{where}: model {model} has no native codec with an encoder")
    return entry.model


def _parking_site(spec: _SiteSpec, base: dict[str, Any], *, where: str) -> Site:
    assert spec.model is not None
    assert spec.count is not None
    assert spec.lat is not None
    assert spec.lon is not None
    model = _check_model(spec.model, "parking", where)
    count, lat, lon, spread = spec.count, spec.lat, spec.lon, spec.spread
    params = {"profile": spec.profile, "dwell_minutes": spec.dwell_minutes, "count": count,
              "overnight_share": spec.overnight_share, "fill_spread": spec.fill_spread}
    devices = tuple(
        SimDevice(
            dev_eui=f"{spec.eui_prefix}{i + 1:08X}",
            name=f"{base['id']}-{i + 1:03d}",
            model=model,
            kind="parking",
            site=base["id"],
            site_name=base["name"],
            municipality=base["municipality"],
            lat=round(lat + _offset(i, count, spread)[0] / _METRES_PER_DEGREE, 6),
            lon=round(lon + _offset(i, count, spread)[1] / (_METRES_PER_DEGREE * math.cos(math.radians(lat))), 6),
            params={**params, "bay": i},
        )
        for i in range(count)
    )
    return Site(**base, lat=lat, lon=lon, params=params, devices=devices)


def _offset(index: int, count: int, spread: float) -> tuple[float, float]:
    """North and east offset (m) of bay ``index`` on a sunflower spiral filling a disc of radius ``spread``."""
    radius = spread * math.sqrt((index + 0.5) / count)
    angle = index * 2.399963229728653  # the golden angle, rad
    return radius * math.cos(angle), radius * math.sin(angle)


def _listed_site(spec: _SiteSpec, base: dict[str, Any], document: Any, path: Path, where: str) -> Site:
    devices = []
    for i, entry in enumerate(spec.devices):
        at = _place(path, document, (*_loc(where), "devices", i, "model"))
        devices.append(SimDevice(
            dev_eui=f"{spec.eui_prefix}{i + 1:08X}",
            name=entry.name,
            model=_check_model(entry.model, base["kind"], at),
            kind=base["kind"],
            site=base["id"],
            site_name=base["name"],
            municipality=base["municipality"],
            lat=entry.lat,
            lon=entry.lon,
            params=dict(entry.model_extra or {}),
        ))
    lat = sum(d.lat for d in devices) / len(devices)
    lon = sum(d.lon for d in devices) / len(devices)
    return Site(**base, lat=lat, lon=lon, params={}, devices=tuple(devices))


# --- the registry ----------------------------------------------------------------------------------------------

def register_town(town: Town, registry_url: str) -> tuple[int, int]:
    """Register (or update) every device of ``town``; returns (created, updated). Idempotent."""
    from devices.registry import DeviceRegistry  # the registry needs a database; loading a town does not

    registry = DeviceRegistry(registry_url)
    created = 0
    for dev in town.devices:
        _, new = registry.upsert(
            dev.dev_eui, model=dev.model, name=dev.name, site=dev.site,
            municipality=dev.municipality, lat=dev.lat, lon=dev.lon,
        )
        created += int(new)
    return created, len(town.devices) - created


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000.0 * math.asin(math.sqrt(min(1.0, a)))
