"""The registry of installed sensors: municipalities, sites, devices and each device's lifecycle history.

Every write checks its values first (:func:`check_device`) and runs in one transaction; every read returns plain
records (``devices/records.py``). Operations that act for someone of one municipality take ``owner``: a device
of another municipality is then treated as absent, so it can be neither read nor changed.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from devices.catalog import get_model
from devices.records import TRANSITIONS, DeviceInfo, SiteInfo, SiteType, Status, StatusChange
from stadtpuls.db import open_database
from stadtpuls.errors import DataError
from stadtpuls.lineprotocol import LineProtocolError, check_name
from stadtpuls.tables import Device, DeviceStatusChange, Municipality, Site

__all__ = [
    "DeviceInfo",
    "DeviceRegistry",
    "DeviceSpec",
    "RegistryError",
    "check_device",
    "normalise_dev_eui",
]

_DEV_EUI = re.compile(r"^[0-9A-F]{16}$")
MAX_NOTES = 2000  # characters
MAX_CAPACITY = 100_000  # parking bays of one lot


class RegistryError(DataError, ValueError):
    """A device or site record is invalid (bad DevEUI, unknown model, empty name...), or a change not allowed.

    ``field`` names the offending field when there is one.
    """

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(RegistryError):
    """The device or site does not exist (or belongs to another municipality than the caller's)."""


def normalise_dev_eui(value: str) -> str:
    """``"70b3-d5e7..."`` → ``"70B3D5E7..."``.

    Raises:
        RegistryError: not 16 hex digits.
    """
    cleaned = value.strip().replace(":", "").replace("-", "").replace(" ", "").upper()
    if not _DEV_EUI.match(cleaned):
        raise RegistryError(f"DevEUI must be 16 hex digits, got {value!r}", field="dev_eui")
    return cleaned


def check_text(label: str, value: str) -> str:
    """``value`` stripped; 1-200 characters that line protocol can carry.

    Raises:
        RegistryError: empty, too long, or with characters a tag cannot hold.
    """
    value = value.strip()
    if not value or len(value) > 200:
        raise RegistryError(f"{label} must be 1-200 characters, got {value!r}", field=label)
    try:
        return check_name(value)
    except LineProtocolError as exc:
        raise RegistryError(f"{label}: {exc}", field=label) from exc


def check_coords(lat: float | None, lon: float | None) -> None:
    """Both or neither, each within its range.

    Raises:
        RegistryError: one is missing or out of range.
    """
    if (lat is None) != (lon is None):
        raise RegistryError("give both latitude and longitude, or neither", field="lat" if lat is None else "lon")
    if lat is not None and not -90 <= lat <= 90:
        raise RegistryError(f"latitude {lat} outside -90..90", field="lat")
    if lon is not None and not -180 <= lon <= 180:
        raise RegistryError(f"longitude {lon} outside -180..180", field="lon")


def check_model(model: str) -> str:
    """``model`` if the catalog knows it.

    Raises:
        RegistryError: unknown model, naming the known ones.
    """
    try:
        get_model(model.strip())
    except KeyError as exc:
        raise RegistryError(str(exc.args[0]), field="model") from exc
    return model.strip()


def parse_status(value: str | Status) -> Status:
    """A lifecycle status from its name.

    Raises:
        RegistryError: not one of planned, installed, active, maintenance, retired.
    """
    try:
        return Status(str(value).strip().lower())
    except ValueError as exc:
        names = ", ".join(s.value for s in Status)
        raise RegistryError(f"status must be one of {names}, got {value!r}", field="status") from exc


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """What a device should look like: the checked input of a registration or an import row.

    ``status``, ``installed_on`` and ``notes`` of None leave an existing device's value as it is.
    """

    dev_eui: str
    model: str
    name: str
    site: str
    municipality: str
    lat: float | None = None
    lon: float | None = None
    installed_on: date | None = None
    notes: str | None = None
    status: Status | None = None


def check_device(
    dev_eui: str,
    *,
    model: str,
    name: str,
    site: str,
    municipality: str,
    lat: float | None = None,
    lon: float | None = None,
    installed_on: date | None = None,
    notes: str | None = None,
    status: str | Status | None = None,
) -> DeviceSpec:
    """Check every value of a device without touching the database.

    Raises:
        RegistryError: the first invalid value, with ``field`` set.
    """
    check_coords(lat, lon)
    if notes is not None and len(notes) > MAX_NOTES:
        raise RegistryError(f"notes must be at most {MAX_NOTES} characters", field="notes")
    return DeviceSpec(
        dev_eui=normalise_dev_eui(dev_eui),
        model=check_model(model),
        name=check_text("name", name),
        site=check_text("site", site),
        municipality=check_text("municipality", municipality),
        lat=lat,
        lon=lon,
        installed_on=installed_on,
        notes=notes.strip() if notes is not None else None,
        status=parse_status(status) if status is not None else None,
    )


@dataclass(frozen=True, slots=True)
class Change:
    """What saving a :class:`DeviceSpec` does: ``create``, ``update`` (with the changed fields), ``unchanged``,
    or ``refused`` (with the reason in ``problem`` and the field in ``problem_field``).
    """

    dev_eui: str
    action: str
    fields: tuple[str, ...] = field(default_factory=tuple)
    problem: str = ""
    problem_field: str = ""


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite hands back naive datetimes; they were stored as UTC


def _info(device: Device) -> DeviceInfo:
    return DeviceInfo(
        dev_eui=device.dev_eui,
        name=device.name,
        model=device.model,
        device_class=get_model(device.model).device_class.value,
        site=device.site.name,
        municipality=device.site.municipality.name,
        lat=device.lat,
        lon=device.lon,
        status=device.status,
        installed_on=device.installed_on,
        notes=device.notes,
        status_changed_at=_aware(device.status_changed_at),
        status_changed_by=device.status_changed_by,
    )


def _site_info(site: Site) -> SiteInfo:
    return SiteInfo(
        id=site.id,
        municipality=site.municipality.name,
        name=site.name,
        type=site.type,
        lat=site.lat,
        lon=site.lon,
        capacity=site.capacity,
    )


def _diff(device: Device, spec: DeviceSpec) -> tuple[str, ...]:
    """The fields ``spec`` would change on ``device``."""
    wanted: dict[str, object] = {
        "model": spec.model,
        "name": spec.name,
        "site": spec.site,
        "municipality": spec.municipality,
        "lat": spec.lat,
        "lon": spec.lon,
    }
    current: dict[str, object] = {
        "model": device.model,
        "name": device.name,
        "site": device.site.name,
        "municipality": device.site.municipality.name,
        "lat": device.lat,
        "lon": device.lon,
    }
    optional = {"installed_on": spec.installed_on, "notes": spec.notes, "status": spec.status}
    for key, value in optional.items():
        if value is not None:
            wanted[key] = value.value if isinstance(value, Status) else value
            current[key] = getattr(device, key)
    return tuple(key for key in wanted if wanted[key] != current[key])


class DeviceRegistry:
    """Municipalities, sites and devices in the relational store."""

    def __init__(self, url: str) -> None:
        self._sessions: sessionmaker[Session] = open_database(url)

    # --- municipalities and sites -------------------------------------------------------------------------

    def municipalities(self) -> builtins.list[str]:
        """The names of all municipalities, sorted."""
        with self._sessions() as session:
            return list(session.scalars(select(Municipality.name).order_by(Municipality.name)))

    def add_municipality(self, name: str) -> bool:
        """Create a municipality; False if it exists already."""
        name = check_text("municipality", name)
        with self._sessions.begin() as session:
            found = session.scalar(select(Municipality).where(Municipality.name == name))
            if found is None:
                session.add(Municipality(name=name))
            return found is None

    def save_site(
        self,
        municipality: str,
        name: str,
        *,
        type: str = SiteType.OTHER.value,
        lat: float | None = None,
        lon: float | None = None,
        capacity: int | None = None,
    ) -> tuple[SiteInfo, bool]:
        """Create a site or update its type, location and capacity. Returns the site and whether it is new.

        Raises:
            RegistryError: an invalid value; a capacity for anything but a parking lot.
        """
        site_type = _site_type(type)
        check_coords(lat, lon)
        if capacity is not None and (site_type != SiteType.PARKING_LOT or not 1 <= capacity <= MAX_CAPACITY):
            raise RegistryError(
                f"capacity is the number of bays of a parking lot, 1-{MAX_CAPACITY}; got {capacity} for a "
                f"{site_type.value}",
                field="capacity",
            )
        with self._sessions.begin() as session:
            site = _site(session, check_text("municipality", municipality), check_text("site", name))
            created = site.id is None
            site.type, site.lat, site.lon, site.capacity = site_type.value, lat, lon, capacity
            session.flush()
            return _site_info(site), created

    def sites(self, municipality: str | None = None) -> builtins.list[SiteInfo]:
        """All sites, optionally of one municipality, by municipality and name."""
        query = select(Site).join(Site.municipality).order_by(Municipality.name, Site.name)
        if municipality is not None:
            query = query.where(Municipality.name == municipality)
        with self._sessions() as session:
            return [_site_info(s) for s in session.scalars(query)]

    def get_site(self, municipality: str, name: str) -> SiteInfo | None:
        """One site by municipality and name, or None."""
        with self._sessions() as session:
            site = _find_site(session, municipality, name)
            return _site_info(site) if site else None

    # --- devices ------------------------------------------------------------------------------------------

    def upsert(
        self,
        dev_eui: str,
        *,
        model: str,
        name: str,
        site: str,
        municipality: str,
        lat: float | None = None,
        lon: float | None = None,
        installed_on: date | None = None,
        notes: str | None = None,
        status: str | Status | None = None,
        by: str = "registry",
    ) -> tuple[DeviceInfo, bool]:
        """Register a device, or update it if its DevEUI is known. Returns the device and whether it is new.

        A new device is ``installed`` (installed today) unless ``status`` says otherwise; a missing site or
        municipality is created.

        Raises:
            RegistryError: a value is invalid, the model is not in the catalog, or the status change is not
                allowed.
        """
        spec = check_device(
            dev_eui, model=model, name=name, site=site, municipality=municipality, lat=lat, lon=lon,
            installed_on=installed_on, notes=notes, status=status,
        )
        with self._sessions.begin() as session:
            device, created = self._save(session, spec, by=by)
            return _info(device), created

    def plan(self, specs: Iterable[DeviceSpec], *, owner: str | None = None) -> builtins.list[Change]:
        """What saving ``specs`` would do, without writing; one :class:`Change` per spec, in order.

        A spec is ``refused`` when its DevEUI belongs to another municipality than ``owner``, when it names
        another municipality than ``owner``, or when its status change is not allowed.
        """
        changes = []
        specs = list(specs)
        with self._sessions() as session:
            known = _prefetch(session, specs)
            for spec in specs:
                try:
                    changes.append(self._change(session, spec, owner=owner, known=known))
                except RegistryError as exc:
                    changes.append(Change(spec.dev_eui, "refused", problem=str(exc), problem_field=exc.field))
        return changes

    def save_all(
        self, specs: Iterable[DeviceSpec], *, by: str, owner: str | None = None
    ) -> builtins.list[Change]:
        """Save every spec in one transaction: all or nothing. Unchanged devices are not written.

        Raises:
            RegistryError: as :meth:`plan`; nothing is written then.
        """
        changes = []
        specs = list(specs)
        with self._sessions.begin() as session, session.no_autoflush:
            known = _prefetch(session, specs)
            sites: dict[tuple[str, str], Site] = {}
            for spec in specs:
                change = self._change(session, spec, owner=owner, known=known)
                if change.action != "unchanged":
                    known[spec.dev_eui], _ = self._save(session, spec, by=by, sites=sites, known=known, flush=False)
                changes.append(change)
            _flush(session, "of the import")
        return changes

    def update(
        self,
        dev_eui: str,
        *,
        by: str,
        owner: str | None = None,
        name: str | None = None,
        model: str | None = None,
        site: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
        installed_on: date | None = None,
        notes: str | None = None,
    ) -> DeviceInfo:
        """Change some fields of a registered device; None leaves a field as it is.

        Raises:
            NotFoundError: no such device (for ``owner``: none in that municipality).
            RegistryError: an invalid value.
        """
        current = self.get(dev_eui, owner=owner)
        if current is None:
            raise NotFoundError(f"device {dev_eui} is not registered", field="dev_eui")
        located = lat is not None or lon is not None
        spec = check_device(
            current.dev_eui,
            model=model if model is not None else current.model,
            name=name if name is not None else current.name,
            site=site if site is not None else current.site,
            municipality=current.municipality,
            lat=lat if located else current.lat,
            lon=lon if located else current.lon,
            installed_on=installed_on,
            notes=notes,
        )
        with self._sessions.begin() as session:
            device, _ = self._save(session, spec, by=by)
            return _info(device)

    def set_status(
        self, dev_eui: str, status: str | Status, *, by: str, note: str = "", owner: str | None = None
    ) -> DeviceInfo:
        """Move a device along its lifecycle and record who did it and when.

        Raises:
            NotFoundError: no such device (for ``owner``).
            RegistryError: the change is not allowed (e.g. from retired).
        """
        target = parse_status(status)
        with self._sessions.begin() as session:
            device = _owned(session, normalise_dev_eui(dev_eui), owner)
            _transition(session, device, target, by=by, note=note)
            return _info(device)

    def retire(self, dev_eui: str, *, by: str, note: str = "", owner: str | None = None) -> DeviceInfo:
        """Take a device out of service for good (its history and data stay)."""
        return self.set_status(dev_eui, Status.RETIRED, by=by, note=note, owner=owner)

    def history(self, dev_eui: str, *, owner: str | None = None) -> builtins.list[StatusChange]:
        """The device's lifecycle changes, oldest first.

        Raises:
            NotFoundError: no such device (for ``owner``).
        """
        eui = normalise_dev_eui(dev_eui)
        query = select(DeviceStatusChange).where(DeviceStatusChange.dev_eui == eui).order_by(DeviceStatusChange.id)
        with self._sessions() as session:
            _owned(session, eui, owner)
            return [
                StatusChange(
                    dev_eui=c.dev_eui,
                    from_status=c.from_status,
                    to_status=c.to_status,
                    changed_at=_aware(c.changed_at) or c.changed_at,
                    changed_by=c.changed_by,
                    note=c.note,
                )
                for c in session.scalars(query)
            ]

    def get(self, dev_eui: str, *, owner: str | None = None) -> DeviceInfo | None:
        """The device with this DevEUI (of ``owner``'s municipality, if given), or None."""
        with self._sessions() as session:
            device = session.get(Device, normalise_dev_eui(dev_eui))
            if device is None or (owner is not None and device.site.municipality.name != owner):
                return None
            return _info(device)

    def list(
        self,
        *,
        municipality: str | None = None,
        site: str | None = None,
        status: str | None = None,
        search: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[DeviceInfo]:
        """Devices ordered by municipality, site, name; optionally filtered.

        ``search`` matches part of the DevEUI, the name or the site, ignoring case.
        """
        query = select(Device).join(Device.site).join(Site.municipality)
        query = query.order_by(Municipality.name, Site.name, Device.name, Device.dev_eui)
        if municipality is not None:
            query = query.where(Municipality.name == municipality)
        if site is not None:
            query = query.where(Site.name == site)
        if status is not None:
            query = query.where(Device.status == parse_status(status).value)
        if search:
            term = search.strip()
            compact = term.replace(":", "").replace("-", "").upper()
            query = query.where(
                Device.dev_eui.contains(compact, autoescape=True)
                | Device.name.icontains(term, autoescape=True)
                | Site.name.icontains(term, autoescape=True)
            )
        if limit is not None:
            query = query.limit(limit)
        with self._sessions() as session:
            return [_info(d) for d in session.scalars(query)]

    def remove(self, dev_eui: str) -> bool:
        """Delete a device and its history; True if it existed (retire devices instead; this is for mistakes)."""
        with self._sessions.begin() as session:
            device = session.get(Device, normalise_dev_eui(dev_eui))
            if device is None:
                return False
            session.delete(device)
            return True

    # --- inside one transaction -----------------------------------------------------------------------------

    def _change(
        self, session: Session, spec: DeviceSpec, *, owner: str | None, known: dict[str, Device | None] | None = None
    ) -> Change:
        if owner is not None and spec.municipality != owner:
            raise RegistryError(
                f"device {spec.dev_eui}: municipality {spec.municipality!r} is not yours ({owner!r})",
                field="municipality",
            )
        device = known[spec.dev_eui] if known is not None and spec.dev_eui in known else session.get(
            Device, spec.dev_eui
        )
        if device is None:
            return Change(spec.dev_eui, "create")
        if owner is not None and device.site.municipality.name != owner:
            raise RegistryError(
                f"DevEUI {spec.dev_eui} is already registered by another municipality", field="dev_eui"
            )
        if spec.status is not None and spec.status.value != device.status:
            _check_transition(device, spec.status)
        fields = _diff(device, spec)
        return Change(spec.dev_eui, "update" if fields else "unchanged", fields)

    def _save(
        self,
        session: Session,
        spec: DeviceSpec,
        *,
        by: str,
        sites: dict[tuple[str, str], Site] | None = None,
        known: dict[str, Device | None] | None = None,
        flush: bool = True,
    ) -> tuple[Device, bool]:
        """Create or change the device of ``spec`` (and its site); ``sites`` and ``known`` cache lookups."""
        cached = sites if sites is not None else {}
        site = cached.get((spec.municipality, spec.site))
        if site is None:
            site = cached[(spec.municipality, spec.site)] = _site(session, spec.municipality, spec.site)
        if known is not None and spec.dev_eui in known:
            device = known[spec.dev_eui]
        else:
            device = session.get(Device, spec.dev_eui)
        if device is None:
            status = spec.status or Status.INSTALLED
            installed_on = spec.installed_on
            if installed_on is None and status != Status.PLANNED:
                installed_on = datetime.now(UTC).date()
            device = Device(
                dev_eui=spec.dev_eui, model=spec.model, name=spec.name, site=site, lat=spec.lat, lon=spec.lon,
                installed_on=installed_on, notes=spec.notes or "", status=status.value, status_changed_by=by,
            )
            session.add(device)
            device.history.add(DeviceStatusChange(from_status=None, to_status=status.value, changed_by=by,
                                                  note="registered"))
            if flush:
                _flush(session, spec.dev_eui)
            return device, True
        if not _diff(device, spec):
            return device, False
        device.model, device.name, device.site, device.lat, device.lon = (
            spec.model, spec.name, site, spec.lat, spec.lon
        )
        if spec.installed_on is not None:
            device.installed_on = spec.installed_on
        if spec.notes is not None:
            device.notes = spec.notes
        if spec.status is not None and spec.status.value != device.status:
            _transition(session, device, spec.status, by=by, note="")
        device.updated_at = datetime.now(UTC)
        if flush:
            _flush(session, spec.dev_eui)
        return device, False


def _prefetch(session: Session, specs: builtins.list[DeviceSpec]) -> dict[str, Device | None]:
    """The registered devices of ``specs`` by DevEUI (None for new ones), loaded in a few queries."""
    euis = [spec.dev_eui for spec in specs]
    found: dict[str, Device | None] = dict.fromkeys(euis)
    for start in range(0, len(euis), 500):
        for device in session.scalars(select(Device).where(Device.dev_eui.in_(euis[start : start + 500]))):
            found[device.dev_eui] = device
    return found


def _flush(session: Session, dev_eui: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent registration of the same DevEUI or site
        raise RegistryError(f"device {dev_eui}: conflicting change, try again ({exc.orig})") from exc


def _site_type(value: str) -> SiteType:
    try:
        return SiteType(value.strip().lower())
    except ValueError as exc:
        names = ", ".join(t.value for t in SiteType)
        raise RegistryError(f"site type must be one of {names}, got {value!r}", field="type") from exc


def _find_site(session: Session, municipality: str, name: str) -> Site | None:
    query = select(Site).join(Site.municipality).where(Municipality.name == municipality, Site.name == name)
    return session.scalar(query)


def _site(session: Session, municipality: str, name: str) -> Site:
    """The site, created (with its municipality) if missing; a new one is pending in the session."""
    site = _find_site(session, municipality, name)
    if site is not None:
        return site
    pending = (m for m in session.new if isinstance(m, Municipality) and m.name == municipality)
    owner = next(pending, None) or session.scalar(select(Municipality).where(Municipality.name == municipality))
    if owner is None:
        owner = Municipality(name=municipality)
        session.add(owner)
    site = Site(municipality=owner, name=name, type=SiteType.OTHER.value)
    session.add(site)
    return site


def _owned(session: Session, dev_eui: str, owner: str | None) -> Device:
    device = session.get(Device, dev_eui)
    if device is None or (owner is not None and device.site.municipality.name != owner):
        raise NotFoundError(f"device {dev_eui} is not registered", field="dev_eui")
    return device


def _check_transition(device: Device, target: Status) -> None:
    current = Status(device.status)
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "nothing (retired is final)"
        raise RegistryError(
            f"device {device.dev_eui}: status cannot change from {current.value} to {target.value}; "
            f"allowed: {allowed}",
            field="status",
        )


def _transition(session: Session, device: Device, target: Status, *, by: str, note: str) -> None:
    """Change the status (checked) and append the change to the history; a change to the same status is none."""
    if target.value == device.status:
        return
    _check_transition(device, target)
    now = datetime.now(UTC)
    device.history.add(DeviceStatusChange(from_status=device.status, to_status=target.value, changed_at=now,
                                          changed_by=by, note=note))
    if target == Status.INSTALLED and device.installed_on is None:
        device.installed_on = now.date()
    device.status, device.status_changed_at, device.status_changed_by = target.value, now, by
    device.updated_at = now

