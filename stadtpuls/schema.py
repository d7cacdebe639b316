"""The canonical model inside Stadtpuls.

Every network-server envelope becomes one :class:`Uplink` at the border; every decoded payload becomes
:class:`Measurement` values of known :data:`QUANTITIES`. Nothing downstream knows TTS from ChirpStack.

Storage layout in InfluxDB (read back by processing, the API and the dashboards):

* one InfluxDB *measurement per quantity* (``pm2_5``, ``occupied``, ``people_in_total`` ...) with a single
  float field ``value``;
* the radio record of every uplink in the measurement ``uplink`` (fields ``f_cnt``, ``f_port``, ``rssi``,
  ``snr``, ``gateways``);
* tags on every point: ``municipality``, ``site``, ``class``, ``model``, ``dev_eui`` and, for devices with
  several channels or counting lines, ``channel``;
* the timestamp is the network server's receive time in nanoseconds, so writing the same uplink twice
  produces the same point (idempotent replays).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

UPLINK_MEASUREMENT = "uplink"
TAG_KEYS = ("municipality", "site", "class", "model", "dev_eui", "channel")


class Source(StrEnum):
    """The network server an uplink came from."""

    TTS = "tts"
    CHIRPSTACK = "chirpstack"
    SIMULATOR = "simulator"


class DeviceClass(StrEnum):
    """What a device model measures, used to group dashboards and processing."""

    PARKING = "parking"
    FOOTFALL = "footfall"
    AIR_QUALITY = "air_quality"
    GENERIC = "generic"


@dataclass(frozen=True, slots=True)
class Quantity:
    """A canonical quantity: its unit and the range a real sensor can report."""

    name: str
    unit: str
    low: float
    high: float
    description: str
    cumulative: bool = False  # a counter that only grows (until a reset)


def _q(
    name: str, unit: str, low: float, high: float, description: str, *, cumulative: bool = False
) -> Quantity:
    return Quantity(name, unit, low, high, description, cumulative)


_ALL = [
    _q("occupied", "1", 0, 1, "bay occupied (1) or free (0)"),
    _q("previous_state_duration", "min", 0, 1e7, "how long the bay was in its previous state"),
    _q("temperature", "°C", -50, 100, "air or device temperature"),
    _q("humidity", "%", 0, 100, "relative humidity"),
    _q("pressure", "hPa", 300, 1100, "barometric pressure"),
    _q("battery_voltage", "V", 0, 12, "battery voltage"),
    _q("battery_level", "%", 0, 100, "battery level"),
    _q("pm1_0", "µg/m³", 0, 1000, "PM1.0 mass concentration"),
    _q("pm2_5", "µg/m³", 0, 1000, "PM2.5 mass concentration"),
    _q("pm4", "µg/m³", 0, 1000, "PM4 mass concentration"),
    _q("pm10", "µg/m³", 0, 1000, "PM10 mass concentration"),
    _q("pm0_5_count", "1/cm³", 0, 10000, "PM0.5 number concentration"),
    _q("pm1_0_count", "1/cm³", 0, 10000, "PM1.0 number concentration"),
    _q("pm2_5_count", "1/cm³", 0, 10000, "PM2.5 number concentration"),
    _q("pm4_count", "1/cm³", 0, 10000, "PM4 number concentration"),
    _q("pm10_count", "1/cm³", 0, 10000, "PM10 number concentration"),
    _q("particle_size", "nm", 0, 10000, "typical particle size"),
    _q("no2", "µg/m³", 0, 2000, "nitrogen dioxide"),
    _q("o3", "µg/m³", 0, 1000, "ozone"),
    _q("no", "µg/m³", 0, 2000, "nitrogen monoxide"),
    _q("ox", "ppb", 0, 1000, "total oxidant O3 + NO2 (mixing ratio)"),
    _q("co", "mg/m³", 0, 100, "carbon monoxide"),
    _q("co2", "ppm", 0, 10000, "carbon dioxide"),
    _q("light", "lx", 0, 200000, "illuminance"),
    _q("motion", "1", 0, 1e6, "motion events in the interval"),
    _q("people_in", "1", 0, 1e6, "people counted inwards in the interval"),
    _q("people_out", "1", 0, 1e6, "people counted outwards in the interval"),
    _q("people_in_total", "1", 0, 2**32, "cumulative inward counter", cumulative=True),
    _q("people_out_total", "1", 0, 2**32, "cumulative outward counter", cumulative=True),
    _q("latitude", "°", -90, 90, "WGS84 latitude"),
    _q("longitude", "°", -180, 180, "WGS84 longitude"),
    _q("altitude", "m", -1000, 10000, "altitude"),
    _q("analog", "1", -1e6, 1e6, "analog input or output"),
    _q("digital", "1", 0, 255, "digital input or output"),
    _q("presence", "1", 0, 255, "presence"),
    _q("acceleration_x", "g", -40, 40, "acceleration, x axis"),
    _q("acceleration_y", "g", -40, 40, "acceleration, y axis"),
    _q("acceleration_z", "g", -40, 40, "acceleration, z axis"),
    _q("gyro_x", "°/s", -400, 400, "angular rate, x axis"),
    _q("gyro_y", "°/s", -400, 400, "angular rate, y axis"),
    _q("gyro_z", "°/s", -400, 400, "angular rate, z axis"),
]

QUANTITIES: dict[str, Quantity] = {q.name: q for q in _ALL}


@dataclass(frozen=True, slots=True)
class Uplink:
    """One uplink as the network server delivered it, independent of the server's format.

    ``received_ns`` is the network server's receive time (ns since the epoch), ``dedup_key`` identifies
    the uplink across retransmissions and gateway duplicates.
    """

    source: Source
    topic: str
    dev_eui: str  # upper-case hex, 16 digits
    device_id: str
    application_id: str
    received_ns: int
    f_port: int
    f_cnt: int
    payload: bytes
    dedup_key: str
    rssi: float | None = None
    snr: float | None = None
    gateways: int = 0


@dataclass(frozen=True, slots=True)
class Measurement:
    """One canonical value: a known quantity of one device at one time."""

    quantity: str
    value: float
    channel: str = ""


@dataclass(frozen=True, slots=True)
class DeviceTags:
    """The tags every stored point of a device carries."""

    municipality: str
    site: str
    device_class: str
    model: str
    dev_eui: str
    extra: dict[str, str] = field(default_factory=dict)
