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
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from devices.catalog import DeviceModel, get_model
from stadtpuls.schema import DeviceClass

TOWNS_DIR = Path(__file__).with_name("towns")
Kind = Literal["parking", "footfall", "air"]
KINDS: dict[str, DeviceClass] = {
    "parking": DeviceClass.PARKING,
    "footfall": DeviceClass.FOOTFALL,
    "air": DeviceClass.AIR_QUALITY,
}
PARKING_PROFILES = ("centre", "on_street", "commuter", "leisure")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HEX8 = re.compile(r"^[0-9A-F]{8}$")
_METRES_PER_DEGREE = 111_320.0


class TownError(ValueError):
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
class YearlyWindow:
    """A window of days that recurs every year, ``MM-DD`` to ``MM-DD`` inclusive (may wrap the new year)."""

    start: tuple[int, int]
    end: tuple[int, int]

    def contains(self, day: date) -> bool:
        """Whether ``day`` lies in the window."""
        key = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= key <= self.end
        return key >= self.start or key <= self.end


@dataclass(frozen=True, slots=True)
class Market:
    """A weekly market: weekdays (0 = Monday), local hours, and its boost to footfall and parking demand."""

    weekdays: frozenset[int]
    start: time
    end: time
    footfall: float
    parking: float


@dataclass(frozen=True, slots=True)
class Event:
    """A yearly event (Christmas market, town festival) with daily hours and its demand boost."""

    name: str
    window: YearlyWindow
    start: time
    end: time
    footfall: float
    parking: float


@dataclass(frozen=True, slots=True)
class Calendar:
    """School holidays, markets and events; public holidays follow ``state``."""

    state: str
    school_holidays: tuple[YearlyWindow, ...]
    markets: tuple[Market, ...]
    events: tuple[Event, ...]


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
        TownError: the file is malformed; the message names the field at fault.
    """
    path = town_path(name)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TownError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise TownError(f"{path}: a town file must be a mapping")
    return _town(raw, path)


def _town(raw: dict[str, Any], path: Path) -> Town:
    name = str(raw.get("name") or path.stem)
    try:
        tz = ZoneInfo(str(raw.get("timezone", "Europe/Berlin")))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TownError(f"{path}: unknown timezone {raw.get('timezone')!r}") from exc
    municipality = _text(raw, "municipality", where=str(path))
    sites = tuple(_site(s, municipality, where=f"{path}: sites[{i}]") for i, s in enumerate(_list(raw, "sites")))
    if not sites:
        raise TownError(f"{path}: a town needs at least one site")
    town = Town(
        name=name,
        title=str(raw.get("title", name)),
        timezone=tz,
        municipality=municipality,
        network=_network(_map(raw, "network"), where=f"{path}: network"),
        calendar=_calendar(_map(raw, "calendar"), state=str(raw.get("state", "HE")), where=f"{path}: calendar"),
        sites=sites,
    )
    _check_unique(town, path)
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


# --- small readers -----------------------------------------------------------------------------------------

def _map(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise TownError(f"{key} must be a mapping, got {value!r}")
    return value


def _list(raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key) or []
    if not isinstance(value, list):
        raise TownError(f"{key} must be a list, got {value!r}")
    return value


def _text(raw: dict[str, Any], key: str, *, where: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise TownError(f"{where}: {key} must be a non-empty text, got {value!r}")
    return value.strip()


def _number(raw: dict[str, Any], key: str, *, where: str, default: float | None = None,
            low: float = -math.inf, high: float = math.inf) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise TownError(f"{where}: {key} must be a number in {low:g}..{high:g}, got {value!r}")
    return float(value)


def _month_day(text: Any, where: str) -> tuple[int, int]:
    try:
        month, day = (int(p) for p in str(text).split("-"))
        date(2024, month, day)  # a leap year accepts 02-29
    except ValueError as exc:
        raise TownError(f"{where}: {text!r} is not a date MM-DD") from exc
    return month, day


def _clock(text: Any, where: str) -> time:
    try:
        return time.fromisoformat(str(text))
    except ValueError as exc:
        raise TownError(f"{where}: {text!r} is not a time HH:MM") from exc


def _window(raw: Any, where: str) -> YearlyWindow:
    if not isinstance(raw, dict):
        raise TownError(f"{where}: expected {{from: MM-DD, to: MM-DD}}, got {raw!r}")
    return YearlyWindow(_month_day(raw.get("from"), where), _month_day(raw.get("to"), where))


# --- sections ------------------------------------------------------------------------------------------------

def _network(raw: dict[str, Any], *, where: str) -> Network:
    gateways = tuple(
        Gateway(
            id=_text(g, "id", where=f"{where}: gateways[{i}]"),
            eui=_text(g, "eui", where=f"{where}: gateways[{i}]").upper(),
            lat=_number(g, "lat", where=f"{where}: gateways[{i}]", low=-90, high=90),
            lon=_number(g, "lon", where=f"{where}: gateways[{i}]", low=-180, high=180),
        )
        for i, g in enumerate(_list(raw, "gateways"))
    )
    if not gateways:
        raise TownError(f"{where}: at least one gateway is needed")
    radio = _map(raw, "radio")
    delay = radio.get("late_delay", [60, 1800])
    if not (isinstance(delay, list) and len(delay) == 2 and 0 <= delay[0] <= delay[1]):
        raise TownError(f"{where}: radio.late_delay must be [min, max] seconds, got {delay!r}")
    settings = RadioSettings(
        loss=_number(radio, "loss", where=f"{where}.radio", default=0.004, low=0, high=1),
        duplicate=_number(radio, "duplicate", where=f"{where}.radio", default=0.003, low=0, high=1),
        late=_number(radio, "late", where=f"{where}.radio", default=0.002, low=0, high=1),
        late_delay=(float(delay[0]), float(delay[1])),
        shadowing_db=_number(radio, "shadowing_db", where=f"{where}.radio", default=5.0, low=0, high=30),
        rejoin_per_year=_number(radio, "rejoin_per_year", where=f"{where}.radio", default=0.5, low=0, high=365),
    )
    return Network(
        application=_text(raw, "application", where=where, default="stadtpuls-sim"),
        tenant=_text(raw, "tenant", where=where, default="ttn"),
        chirpstack_application=_text(raw, "chirpstack_application", where=where,
                                     default="6f1d2b7e-3c58-4a8e-9d0b-4f6a2c1e9b57"),
        gateways=gateways,
        radio=settings,
    )


def _calendar(raw: dict[str, Any], *, state: str, where: str) -> Calendar:
    markets = []
    for i, m in enumerate(_list(raw, "markets")):
        at = f"{where}: markets[{i}]"
        days = m.get("weekdays") or []
        unknown = [d for d in days if str(d).lower() not in WEEKDAYS]
        if unknown or not days:
            raise TownError(f"{at}: weekdays must name days of {WEEKDAYS}, got {days!r}")
        markets.append(Market(
            weekdays=frozenset(WEEKDAYS.index(str(d).lower()) for d in days),
            start=_clock(m.get("from"), at), end=_clock(m.get("to"), at),
            footfall=_number(m, "footfall", where=at, default=1.0, low=0),
            parking=_number(m, "parking", where=at, default=1.0, low=0),
        ))
    events = []
    for i, e in enumerate(_list(raw, "events")):
        at = f"{where}: events[{i}]"
        hours = e.get("hours") or ["00:00", "23:59"]
        events.append(Event(
            name=_text(e, "name", where=at), window=_window(e, at),
            start=_clock(hours[0], at), end=_clock(hours[1], at),
            footfall=_number(e, "footfall", where=at, default=1.0, low=0),
            parking=_number(e, "parking", where=at, default=1.0, low=0),
        ))
    holidays = tuple(_window(w, f"{where}: school_holidays[{i}]") for i, w in enumerate(_list(raw, "school_holidays")))
    return Calendar(state=state, school_holidays=holidays, markets=tuple(markets), events=tuple(events))


def _site(raw: Any, town_municipality: str, *, where: str) -> Site:
    if not isinstance(raw, dict):
        raise TownError(f"{where}: a site must be a mapping")
    site_id = _text(raw, "id", where=where)
    kind = raw.get("kind")
    if kind not in KINDS:
        raise TownError(f"{where}: kind must be one of {sorted(KINDS)}, got {kind!r}")
    prefix = str(raw.get("eui_prefix", "")).upper()
    if not _HEX8.match(prefix):
        raise TownError(f"{where}: eui_prefix must be 8 hex digits, got {raw.get('eui_prefix')!r}")
    municipality = _text(raw, "municipality", where=where, default=town_municipality)
    base = {
        "id": site_id,
        "name": _text(raw, "name", where=where, default=site_id),
        "kind": kind,
        "municipality": municipality,
    }
    if kind == "parking":
        return _parking_site(raw, base, prefix, where=where)
    return _listed_site(raw, base, prefix, where=where)


def _check_model(model: Any, kind: str, where: str) -> str:
    try:
        entry = get_model(str(model))
    except KeyError as exc:
        raise TownError(f"{where}: {exc.args[0]}") from exc
    if entry.device_class != KINDS[kind]:
        raise TownError(f"{where}: model {model} is a {entry.device_class} device, not {KINDS[kind]}")
    if not entry.codec:
        raise TownError(f"{where}: model {model} has no native codec with an encoder")
    return entry.model


def _parking_site(raw: dict[str, Any], base: dict[str, Any], prefix: str, *, where: str) -> Site:
    model = _check_model(raw.get("model"), "parking", where)
    count = int(_number(raw, "count", where=where, low=1, high=100_000))
    lat = _number(raw, "lat", where=where, low=-90, high=90)
    lon = _number(raw, "lon", where=where, low=-180, high=180)
    spread = _number(raw, "spread", where=where, default=50, low=0, high=5000)
    profile = str(raw.get("profile", "centre"))
    if profile not in PARKING_PROFILES:
        raise TownError(f"{where}: profile must be one of {PARKING_PROFILES}, got {profile!r}")
    params = {
        "profile": profile,
        "dwell_minutes": _number(raw, "dwell_minutes", where=where, default=120, low=5, high=10_000),
        "count": count,
    }
    devices = tuple(
        SimDevice(
            dev_eui=f"{prefix}{i + 1:08X}",
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


def _listed_site(raw: dict[str, Any], base: dict[str, Any], prefix: str, *, where: str) -> Site:
    entries = _list(raw, "devices")
    if not entries:
        raise TownError(f"{where}: a {base['kind']} site lists its devices")
    devices = []
    for i, entry in enumerate(entries):
        at = f"{where}.devices[{i}]"
        if not isinstance(entry, dict):
            raise TownError(f"{at}: a device must be a mapping")
        params = {k: v for k, v in entry.items() if k not in ("name", "model", "lat", "lon")}
        devices.append(SimDevice(
            dev_eui=f"{prefix}{i + 1:08X}",
            name=_text(entry, "name", where=at),
            model=_check_model(entry.get("model"), base["kind"], at),
            kind=base["kind"],
            site=base["id"],
            site_name=base["name"],
            municipality=base["municipality"],
            lat=_number(entry, "lat", where=at, low=-90, high=90),
            lon=_number(entry, "lon", where=at, low=-180, high=180),
            params=params,
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
