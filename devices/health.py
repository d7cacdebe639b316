"""Health of each device, read from what ingest already stores in InfluxDB.

Ingest writes one point of the measurement ``uplink`` per uplink (``f_cnt``, ``f_port``, ``rssi`` and ``snr``
of the best gateway, ``gateways``), tagged with the device, and the battery as the quantities
``battery_voltage`` / ``battery_level``. From these, per device:

* the last uplink: time, RSSI and SNR of the best gateway, gateways that heard it;
* the last battery value and its time;
* over the last 24 h: uplinks received, frames lost (gaps in the frame counter; a counter that goes down is
  a re-join and starts a new run), the median RSSI and SNR, the most gateways heard at once, and restarts
  (uplinks on the model's startup port, or frame-counter resets for models without one);
* firmware version and reset cause of the newest startup frame (``device_startup``, see ``devices/startup.py``).

Nothing here slows ingest: the figures are computed when asked, with four InfluxQL queries for a whole
municipality (or one device).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from devices.catalog import get_model
from devices.records import DeviceInfo
from devices.startup import STARTUP_MEASUREMENT, startup_ports
from stadtpuls.influx import InfluxClient
from stadtpuls.lineprotocol import quote_identifier, quote_string
from stadtpuls.schema import UPLINK_MEASUREMENT

WINDOW = timedelta(hours=24)
BATTERY_QUANTITIES = ("battery_voltage", "battery_level")
_UNITS = {"battery_voltage": "V", "battery_level": "%"}


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """What the network and the device itself tell about one device (None: not known)."""

    dev_eui: str
    last_uplink: datetime | None = None
    rssi: float | None = None  # dBm, best gateway of the last uplink
    snr: float | None = None  # dB, best gateway of the last uplink
    gateways: int | None = None  # gateways that heard the last uplink
    battery: float | None = None
    battery_unit: str = ""
    battery_time: datetime | None = None
    uplinks_24h: int = 0
    lost_24h: int = 0  # frames missing from the frame counter
    median_rssi_24h: float | None = None
    median_snr_24h: float | None = None
    max_gateways_24h: int = 0
    restarts_24h: int = 0
    last_startup: datetime | None = None
    firmware: str | None = None  # from the newest startup frame, where the model reports it
    reset_cause: str | None = None

    @property
    def loss_24h(self) -> float | None:
        """Share of frames lost over the last 24 h (0..1), None without uplinks."""
        expected = self.uplinks_24h + self.lost_24h
        return self.lost_24h / expected if expected else None


def frame_gaps(counters: Sequence[int]) -> tuple[int, int]:
    """Frames lost and counter resets in a run of frame counters in time order.

    A counter lower than or equal to the one before starts a new run (re-join or restart); within a run,
    every skipped number is a lost frame. Returns ``(lost, resets)``.
    """
    lost = resets = 0
    for before, after in itertools.pairwise(counters):
        if after > before:
            lost += after - before - 1
        else:
            resets += 1
    return lost, resets


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


def _time(ns: Any) -> datetime:
    return datetime.fromtimestamp(int(ns) / 1e9, tz=UTC)


def _where(devices: Sequence[DeviceInfo]) -> str:
    """A tag condition selecting exactly these devices (by municipality when they share one, then DevEUI)."""
    municipalities = {d.municipality for d in devices}
    condition = " OR ".join(f'"dev_eui" = {quote_string(d.dev_eui)}' for d in devices)
    if len(municipalities) == 1 and len(devices) > 20:
        return f'"municipality" = {quote_string(next(iter(municipalities)))}'
    return f"({condition})"


def health_queries(devices: Sequence[DeviceInfo], now: datetime) -> tuple[str, str, str, str]:
    """The InfluxQL queries behind :func:`read_health`: last uplink, last 24 h, last battery, last startup."""
    # every name and value below is quoted by stadtpuls.lineprotocol; the times are integers
    where = _where(devices)
    uplink = quote_identifier(UPLINK_MEASUREMENT)
    until = _ns(now) + 1_000_000_000
    since = _ns(now - WINDOW)
    last = (
        f'SELECT "f_cnt", "gateways", "rssi", "snr" FROM {uplink} WHERE {where} AND time <= {until} '  # noqa: S608
        f'GROUP BY "dev_eui" ORDER BY time DESC LIMIT 1'
    )
    window = (
        f'SELECT "f_cnt", "f_port", "gateways", "rssi", "snr" FROM {uplink} '  # noqa: S608
        f'WHERE {where} AND time > {since} AND time <= {until} GROUP BY "dev_eui"'
    )
    sources = ", ".join(quote_identifier(q) for q in BATTERY_QUANTITIES)
    battery = (
        f'SELECT last("value") AS "value" FROM {sources} '  # noqa: S608
        f'WHERE {where} AND time <= {until} GROUP BY "dev_eui"'
    )
    startup = (
        f'SELECT "firmware", "reset_cause" FROM {quote_identifier(STARTUP_MEASUREMENT)} '  # noqa: S608
        f'WHERE {where} AND time <= {until} GROUP BY "dev_eui" ORDER BY time DESC LIMIT 1'
    )
    return last, window, battery, startup


def _rows(series: dict[str, Any]) -> list[dict[str, Any]]:
    columns = series["columns"]
    return [dict(zip(columns, values, strict=False)) for values in series.get("values") or []]


def _eui(series: dict[str, Any]) -> str:
    return str((series.get("tags") or {}).get("dev_eui", ""))


def _median(values: Iterable[Any]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return statistics.median(present) if present else None


def summarise(
    device: DeviceInfo,
    *,
    last: dict[str, Any] | None,
    window: list[dict[str, Any]],
    battery: tuple[str, dict[str, Any]] | None,
    startup: dict[str, Any] | None = None,
) -> DeviceHealth:
    """One device's health from its query rows (``time`` in ns, as InfluxDB returns them)."""
    counters = [int(r["f_cnt"]) for r in window if r.get("f_cnt") is not None]
    lost, resets = frame_gaps(counters)
    ports = startup_ports(get_model(device.model))
    startups = [r for r in window if r.get("f_port") is not None and int(r["f_port"]) in ports]
    return DeviceHealth(
        dev_eui=device.dev_eui,
        last_uplink=_time(last["time"]) if last else None,
        rssi=last.get("rssi") if last else None,
        snr=last.get("snr") if last else None,
        gateways=int(last["gateways"]) if last and last.get("gateways") is not None else None,
        battery=float(battery[1]["value"]) if battery else None,
        battery_unit=_UNITS[battery[0]] if battery else "",
        battery_time=_time(battery[1]["time"]) if battery else None,
        uplinks_24h=len(window),
        lost_24h=lost,
        median_rssi_24h=_median(r.get("rssi") for r in window),
        median_snr_24h=_median(r.get("snr") for r in window),
        max_gateways_24h=max((int(r["gateways"]) for r in window if r.get("gateways") is not None), default=0),
        restarts_24h=len(startups) if ports else resets,
        last_startup=_time(startups[-1]["time"]) if startups else None,
        firmware=startup.get("firmware") if startup else None,
        reset_cause=startup.get("reset_cause") if startup else None,
    )


async def read_health(
    influx: InfluxClient, devices: Sequence[DeviceInfo], *, now: datetime | None = None
) -> dict[str, DeviceHealth]:
    """The health of each device, by DevEUI (devices never heard get an empty record).

    Raises:
        InfluxError: InfluxDB is unreachable or refuses the query.
    """
    if not devices:
        return {}
    moment = now or datetime.now(UTC)
    last_q, window_q, battery_q, startup_q = health_queries(devices, moment)
    last = {_eui(s): _rows(s)[0] for s in await influx.query(last_q) if s.get("values")}
    window = {_eui(s): _rows(s) for s in await influx.query(window_q)}
    battery: dict[str, tuple[str, dict[str, Any]]] = {}
    for s in await influx.query(battery_q):
        row = _rows(s)[0] if s.get("values") else None
        if row is None or row.get("value") is None:
            continue
        known = battery.get(_eui(s))
        if known is None or int(row["time"]) > int(known[1]["time"]):
            battery[_eui(s)] = (str(s["name"]), row)
    startup = {_eui(s): _rows(s)[0] for s in await influx.query(startup_q) if s.get("values")}
    return {
        d.dev_eui: summarise(d, last=last.get(d.dev_eui), window=window.get(d.dev_eui, []),
                             battery=battery.get(d.dev_eui), startup=startup.get(d.dev_eui))
        for d in devices
    }
