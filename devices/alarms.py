"""Alarms for technicians: devices that went quiet, never spoke, run low on battery, lost their signal,
restart again and again, or send what ingest must reject.

:func:`evaluate` turns registry records and health figures into findings without any I/O; :class:`AlarmStore`
keeps them in the registry database so that each alarm is raised once, stays open while its condition holds,
and is cleared when it no longer does; :func:`check` is the periodic job that reads health from InfluxDB,
moves newly heard devices from ``installed`` to ``active``, and syncs the alarms. ``stadtpuls alarms check
--watch 60`` runs it every minute.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from devices.catalog import get_model
from devices.health import DeviceHealth, read_health
from devices.records import DeviceInfo, Status
from devices.registry import DeviceRegistry
from stadtpuls.db import open_database
from stadtpuls.influx import InfluxClient
from stadtpuls.tables import Alarm, Device, QuarantinedMessage

SYSTEM = "stadtpuls"  # who the job is in a device's history


class Kind(StrEnum):
    """What an alarm is about."""

    OFFLINE = "offline"
    NEVER_SEEN = "never_seen"
    LOW_BATTERY = "low_battery"
    WEAK_SIGNAL = "weak_signal"
    RESETS = "repeated_resets"
    QUARANTINE = "quarantine_burst"


SEVERITY = {
    Kind.OFFLINE: "critical",
    Kind.NEVER_SEEN: "critical",
    Kind.LOW_BATTERY: "warning",
    Kind.WEAK_SIGNAL: "warning",
    Kind.RESETS: "warning",
    Kind.QUARANTINE: "warning",
}

# V below which a model's battery is low; the cell differs (3.6 V lithium, 2 AA, ...). Others: DEFAULT_LOW_VOLTS.
LOW_BATTERY_VOLTS: dict[str, float] = {
    "nwave-nps405": 3.2,
    "elsys-ers-co2": 3.0,
    "imbuildings-people-counter": 2.6,
    "decentlab-dl-pm": 2.6,
    "decentlab-dl-ac": 2.6,
}
DEFAULT_LOW_VOLTS = 2.8


@dataclass(frozen=True)
class AlarmRules:
    """The thresholds; every one can be changed per run."""

    offline_factor: float = 3.0  # × the model's expected interval (report, else heartbeat)
    never_seen_after: timedelta = timedelta(hours=1)  # after installation
    low_battery_percent: float = 20.0
    low_battery_volts: dict[str, float] = field(default_factory=lambda: dict(LOW_BATTERY_VOLTS))
    weak_rssi: float = -120.0  # dBm, median over 24 h
    weak_snr: float = -15.0  # dB, median over 24 h
    min_uplinks_for_signal: int = 3
    resets_per_day: int = 3
    quarantine_per_hour: int = 10


@dataclass(frozen=True, slots=True)
class Finding:
    """A condition that holds now for one device."""

    dev_eui: str
    municipality: str
    kind: Kind
    message: str

    @property
    def severity(self) -> str:
        """Critical or warning."""
        return SEVERITY[self.kind]


@dataclass(frozen=True, slots=True)
class AlarmInfo:
    """A stored alarm."""

    id: int
    dev_eui: str
    municipality: str
    kind: str
    severity: str
    message: str
    raised_at: datetime
    updated_at: datetime
    cleared_at: datetime | None
    device_name: str = ""
    site: str = ""


def expected_interval(model: str) -> timedelta | None:
    """How often the model reports at the latest: its report interval, else its heartbeat; None if neither."""
    entry = get_model(model)
    seconds = entry.report_interval or entry.heartbeat_interval
    return timedelta(seconds=seconds) if seconds else None


def installed_at(device: DeviceInfo) -> datetime | None:
    """When the device went into the field: its status change to installed, else its installation date."""
    if device.status == Status.INSTALLED and device.status_changed_at is not None:
        return device.status_changed_at
    if device.installed_on is not None:
        return datetime.combine(device.installed_on, time(), tzinfo=UTC)
    return device.status_changed_at


def _ago(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours * 60:.0f} min" if hours < 2 else f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def heard_since_installation(device: DeviceInfo, health: DeviceHealth) -> bool:
    """Whether the device sent an uplink after it was installed (one from a bench test before does not count)."""
    since = installed_at(device)
    return health.last_uplink is not None and (since is None or health.last_uplink >= since)


def _silence(device: DeviceInfo, health: DeviceHealth, now: datetime, rules: AlarmRules) -> Finding | None:
    if not heard_since_installation(device, health):
        since = installed_at(device)
        if since is not None and now - since >= rules.never_seen_after:
            return Finding(device.dev_eui, device.municipality, Kind.NEVER_SEEN,
                           f"no uplink since installation {_ago(now - since)} ago")
        return None
    interval = expected_interval(device.model)
    if interval is None or health.last_uplink is None:
        return None
    quiet = now - health.last_uplink
    if quiet > interval * rules.offline_factor:
        return Finding(device.dev_eui, device.municipality, Kind.OFFLINE,
                       f"last uplink {_ago(quiet)} ago; expected every {_ago(interval)}")
    return None


def _battery(device: DeviceInfo, health: DeviceHealth, rules: AlarmRules) -> Finding | None:
    if health.battery is None:
        return None
    if health.battery_unit == "%":
        low, shown = health.battery < rules.low_battery_percent, f"{health.battery:.0f} %"
        limit = f"{rules.low_battery_percent:.0f} %"
    else:
        volts = rules.low_battery_volts.get(device.model, DEFAULT_LOW_VOLTS)
        low, shown, limit = health.battery < volts, f"{health.battery:.2f} V", f"{volts:.2f} V"
    if not low:
        return None
    return Finding(device.dev_eui, device.municipality, Kind.LOW_BATTERY, f"battery {shown}, below {limit}")


def _signal(device: DeviceInfo, health: DeviceHealth, rules: AlarmRules) -> Finding | None:
    if health.uplinks_24h < rules.min_uplinks_for_signal:
        return None
    weak = []
    if health.median_rssi_24h is not None and health.median_rssi_24h < rules.weak_rssi:
        weak.append(f"RSSI {health.median_rssi_24h:.0f} dBm")
    if health.median_snr_24h is not None and health.median_snr_24h < rules.weak_snr:
        weak.append(f"SNR {health.median_snr_24h:.1f} dB")
    if not weak:
        return None
    return Finding(device.dev_eui, device.municipality, Kind.WEAK_SIGNAL,
                   f"weak signal over 24 h (median {', '.join(weak)}; {health.max_gateways_24h} gateway(s))")


def evaluate(
    devices: Iterable[DeviceInfo],
    health: dict[str, DeviceHealth],
    *,
    now: datetime,
    quarantined: dict[str, int] | None = None,
    rules: AlarmRules | None = None,
) -> list[Finding]:
    """The conditions that hold now. Only installed and active devices are judged.

    Args:
        devices: the devices to judge.
        health: their health by DevEUI (a missing one counts as never heard).
        now: the moment to judge at.
        quarantined: rejected messages per DevEUI over the last hour.
        rules: thresholds (default :class:`AlarmRules`).
    """
    rules = rules or AlarmRules()
    found: list[Finding] = []
    for device in devices:
        if device.status not in (Status.INSTALLED, Status.ACTIVE):
            continue
        state = health.get(device.dev_eui) or DeviceHealth(device.dev_eui)
        checks = [_silence(device, state, now, rules), _battery(device, state, rules), _signal(device, state, rules)]
        if state.restarts_24h >= rules.resets_per_day:
            checks.append(Finding(device.dev_eui, device.municipality, Kind.RESETS,
                                  f"{state.restarts_24h} restarts in 24 h"))
        rejected = (quarantined or {}).get(device.dev_eui, 0)
        if rejected >= rules.quarantine_per_hour:
            checks.append(Finding(device.dev_eui, device.municipality, Kind.QUARANTINE,
                                  f"{rejected} messages quarantined in the last hour"))
        found.extend(f for f in checks if f is not None)
    return found


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _alarm_info(alarm: Alarm, device: Device | None = None) -> AlarmInfo:
    return AlarmInfo(
        id=alarm.id, dev_eui=alarm.dev_eui, municipality=alarm.municipality, kind=alarm.kind,
        severity=alarm.severity, message=alarm.message, raised_at=_aware(alarm.raised_at),
        updated_at=_aware(alarm.updated_at),
        cleared_at=_aware(alarm.cleared_at) if alarm.cleared_at else None,
        device_name=device.name if device else "", site=device.site.name if device else "",
    )


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What one sync did."""

    raised: list[Finding]
    cleared: int
    still_open: int


class AlarmStore:
    """Alarms in the registry database: raised once, updated while open, cleared when resolved."""

    def __init__(self, url: str) -> None:
        self._sessions: sessionmaker[Session] = open_database(url)

    def sync(self, findings: Sequence[Finding], *, judged: Iterable[str], now: datetime) -> SyncResult:
        """Make the open alarms of the ``judged`` devices match ``findings``, in one transaction."""
        scope = set(judged)
        wanted = {(f.dev_eui, f.kind.value): f for f in findings}
        raised: list[Finding] = []
        cleared = still = 0
        with self._sessions.begin() as session:
            open_alarms = session.scalars(select(Alarm).where(Alarm.cleared_at.is_(None)))
            for alarm in open_alarms:
                if alarm.dev_eui not in scope:
                    continue
                finding = wanted.pop((alarm.dev_eui, alarm.kind), None)
                if finding is None:
                    alarm.cleared_at, alarm.updated_at = now, now
                    cleared += 1
                else:
                    alarm.message, alarm.updated_at = finding.message, now
                    still += 1
            for finding in wanted.values():
                session.add(Alarm(dev_eui=finding.dev_eui, municipality=finding.municipality, kind=finding.kind.value,
                                  severity=finding.severity, message=finding.message, raised_at=now, updated_at=now))
                raised.append(finding)
        return SyncResult(raised, cleared, still)

    def list(
        self, *, municipality: str | None = None, dev_eui: str | None = None, include_cleared: bool = False,
        limit: int = 500,
    ) -> builtins.list[AlarmInfo]:
        """Alarms, newest first: the open ones, or all with ``include_cleared``."""
        query = select(Alarm, Device).join(Device, Device.dev_eui == Alarm.dev_eui)
        query = query.order_by(Alarm.raised_at.desc(), Alarm.id.desc()).limit(limit)
        if not include_cleared:
            query = query.where(Alarm.cleared_at.is_(None))
        if municipality is not None:
            query = query.where(Alarm.municipality == municipality)
        if dev_eui is not None:
            query = query.where(Alarm.dev_eui == dev_eui)
        with self._sessions() as session:
            return [_alarm_info(alarm, device) for alarm, device in session.execute(query)]

    def quarantined(self, *, since: datetime) -> dict[str, int]:
        """Rejected messages per DevEUI since ``since`` (a row counts its identical rejections)."""
        query = (
            select(QuarantinedMessage.dev_eui, func.sum(QuarantinedMessage.count))
            .where(QuarantinedMessage.last_seen >= since, QuarantinedMessage.dev_eui.is_not(None))
            .group_by(QuarantinedMessage.dev_eui)
        )
        with self._sessions() as session:
            return {str(eui): int(n) for eui, n in session.execute(query)}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One run of the periodic job."""

    judged: int
    activated: list[str]
    sync: SyncResult
    health: dict[str, DeviceHealth]


async def check(
    registry: DeviceRegistry,
    store: AlarmStore,
    influx: InfluxClient,
    *,
    municipality: str | None = None,
    now: datetime | None = None,
    rules: AlarmRules | None = None,
) -> CheckResult:
    """Read health, mark newly heard installed devices active, and raise and clear alarms.

    The registry and the alarm store are synchronous; call this from a thread or a command, not from a
    busy event loop (the API runs it in its thread pool).

    Raises:
        InfluxError: InfluxDB is unreachable; no alarm is changed then.
    """
    moment = now or datetime.now(UTC)
    devices = [d for d in registry.list(municipality=municipality) if d.status in (Status.INSTALLED, Status.ACTIVE)]
    health = await read_health(influx, devices, now=moment)
    activated = []
    for index, device in enumerate(devices):
        if device.status == Status.INSTALLED and heard_since_installation(device, health[device.dev_eui]):
            devices[index] = registry.set_status(device.dev_eui, Status.ACTIVE, by=SYSTEM, note="first uplink")
            activated.append(device.dev_eui)
    quarantined = store.quarantined(since=moment - timedelta(hours=1))
    findings = evaluate(devices, health, now=moment, quarantined=quarantined, rules=rules)
    every = registry.list(municipality=municipality)
    result = store.sync(findings, judged=[d.dev_eui for d in every], now=moment)
    return CheckResult(len(devices), activated, result, health)
