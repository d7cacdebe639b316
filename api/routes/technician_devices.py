"""``/v1/technician``: provisioning for technicians: find, register, change, retire and import devices.

Every route acts for the caller's municipality only: another municipality's devices are answered as absent
(404). Errors are problem+json naming the parameter or field at fault (:mod:`api.problems`). The registry is
synchronous; its calls run in the thread pool.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import InfluxDep, RegistryDep, SettingsDep
from api.models import InvalidParam
from api.problems import Problem, problem_response, responses
from api.queries import latest_values_query, parse_latest
from api.routes.technician_health import alarm_public, alarm_store, health_public
from api.technician import (
    ImportOutcome,
    StatusChangePublic,
    StatusUpdate,
    TechnicianDep,
    TechnicianDevice,
    TechnicianDeviceCreate,
    TechnicianDeviceDetail,
    TechnicianDeviceUpdate,
)
from devices.alarms import heard_since_installation
from devices.catalog import catalog, get_model
from devices.health import DeviceHealth, read_health
from devices.importer import MAX_IMPORT_BYTES, ImportFileError, run_import
from devices.records import DeviceInfo
from devices.registry import NotFoundError, RegistryError
from stadtpuls.influx import InfluxError

router = APIRouter(prefix="/v1/technician", tags=["technician"], responses=responses(401, 403, 422, 429))

DevEui = Annotated[str, Path(max_length=64, description="The device's DevEUI (16 hex digits)")]


def registry_problem(exc: RegistryError) -> Problem:
    """404 for a device that is not the caller's; 422 naming the field for anything else."""
    if isinstance(exc, NotFoundError):
        return Problem(404, str(exc), param="dev_eui")
    return Problem(422, str(exc), param=exc.field or None)


def public(device: DeviceInfo) -> TechnicianDevice:
    """The API record of a device."""
    return TechnicianDevice(**asdict(device))


async def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await run_in_threadpool(function, *args, **kwargs)
    except RegistryError as exc:
        raise registry_problem(exc) from exc


@router.get("/me")
async def me(principal: TechnicianDep) -> dict[str, str]:
    """Who the key belongs to."""
    return {"name": principal.name, "municipality": principal.municipality, "role": principal.role}


@router.get("/models")
async def models(principal: TechnicianDep) -> list[dict[str, str]]:
    """The device models a technician can register."""
    return [{"model": m.model, "name": f"{m.vendor} {m.name}", "class": m.device_class.value}
            for m in catalog().values()]


@router.get("/sites")
async def sites(principal: TechnicianDep, registry: RegistryDep) -> list[dict[str, Any]]:
    """The sites of the caller's municipality."""
    found = await run_in_threadpool(registry.sites, principal.municipality)
    return [asdict(s) for s in found]


@router.get("/devices", response_model=list[TechnicianDevice])
async def find_devices(
    principal: TechnicianDep,
    registry: RegistryDep,
    q: Annotated[str | None, Query(max_length=100, description="Part of a DevEUI, name or site to match")] = None,
    status: Annotated[
        str | None, Query(max_length=20, description="Only this lifecycle status (planned, installed, ...)")
    ] = None,
) -> list[TechnicianDevice]:
    """The caller's devices, optionally matching part of a DevEUI, name or site (at most 200)."""
    found = await _call(registry.list, municipality=principal.municipality, search=q, status=status, limit=200)
    return [public(d) for d in found]


@router.post("/devices", response_model=TechnicianDevice, status_code=201, responses=responses(400, 409))
async def register(body: TechnicianDeviceCreate, principal: TechnicianDep, registry: RegistryDep) -> TechnicianDevice:
    """Register a new device in the caller's municipality; 409 if the DevEUI is registered already."""
    existing = await _call(registry.get, body.dev_eui)
    if existing is not None:
        mine = existing.municipality == principal.municipality
        detail = f"device {existing.dev_eui} is registered already" + ("" if mine else " by another municipality")
        raise Problem(409, detail, param="dev_eui")
    device, _ = await _call(
        registry.upsert, body.dev_eui, model=body.model, name=body.name, site=body.site,
        municipality=principal.municipality, lat=body.lat, lon=body.lon, installed_on=body.installed_on,
        notes=body.notes, status=body.status, by=principal.name,
    )
    return public(device)


@router.get("/devices/{dev_eui}", response_model=TechnicianDeviceDetail, responses=responses(404))
async def detail(
    dev_eui: DevEui, principal: TechnicianDep, registry: RegistryDep, influx: InfluxDep, settings: SettingsDep
) -> TechnicianDeviceDetail:
    """A device with its history, health, open alarms and newest decoded values."""
    device = await _device(registry, dev_eui, principal.municipality)
    history = await _call(registry.history, device.dev_eui)
    alarms = await run_in_threadpool(alarm_store(settings).list, dev_eui=device.dev_eui)
    health: DeviceHealth | None = None
    values: list[dict[str, Any]] = []
    problem = ""
    try:
        health = (await read_health(influx, [device]))[device.dev_eui]
        quantities = get_model(device.model).quantities
        if quantities and health.last_uplink is not None:
            values = parse_latest(await influx.query(latest_values_query(device.dev_eui, quantities)))
    except InfluxError as exc:
        problem = f"time-series store unavailable: {exc}"
    waiting = health is not None and not heard_since_installation(device, health)
    return TechnicianDeviceDetail(
        device=public(device),
        history=[StatusChangePublic(**{k: v for k, v in asdict(h).items() if k != "dev_eui"}) for h in history],
        health=health_public(health) if health else None,
        alarms=[alarm_public(a) for a in alarms],
        values=values,  # type: ignore[arg-type]
        waiting_for_first_uplink=waiting,
        problem=problem,
    )


@router.patch("/devices/{dev_eui}", response_model=TechnicianDevice, responses=responses(400, 404))
async def change(
    dev_eui: DevEui, body: TechnicianDeviceUpdate, principal: TechnicianDep, registry: RegistryDep
) -> TechnicianDevice:
    """Change some fields of one of the caller's devices."""
    device = await _call(registry.update, dev_eui, by=principal.name, owner=principal.municipality,
                         **body.model_dump(exclude_unset=True))
    return public(device)


@router.post("/devices/{dev_eui}/status", response_model=TechnicianDevice, responses=responses(400, 404))
async def set_status(
    dev_eui: DevEui, body: StatusUpdate, principal: TechnicianDep, registry: RegistryDep
) -> TechnicianDevice:
    """Move one of the caller's devices along its lifecycle (installed, active, maintenance, retired)."""
    device = await _call(registry.set_status, dev_eui, body.status, by=principal.name, note=body.note,
                         owner=principal.municipality)
    return public(device)


@router.post("/import", response_model=ImportOutcome, responses=responses(413))
async def import_csv(
    request: Request,
    principal: TechnicianDep,
    registry: RegistryDep,
    dry_run: Annotated[bool, Query(description="Check the file and say what would change, writing nothing")] = False,
) -> ImportOutcome | Response:
    """Import devices from a CSV body (as ``stadtpuls devices import``): all rows valid, or nothing written.

    413 for a body over the size limit (read no further than the limit); 422 lists every bad row in
    ``invalid_params``, named ``line N: column``.
    """
    data = await _bounded_body(request)
    try:
        result = await run_in_threadpool(
            run_import, registry, data, municipality=principal.municipality, by=principal.name,
            owner=principal.municipality, dry_run=dry_run, source="upload",
        )
    except ImportFileError as exc:
        return problem_response(422, str(exc), request=request, invalid=_rows_at_fault(exc))
    return ImportOutcome(rows=result.rows, created=result.count("create"), updated=result.count("update"),
                         unchanged=result.count("unchanged"), new_sites=result.new_sites, written=result.written,
                         dry_run=dry_run)


def _rows_at_fault(exc: ImportFileError) -> list[InvalidParam]:
    """The bad rows of an upload as problem parameters, ``line N: column`` (``line N`` for a whole row)."""
    return [InvalidParam(name=f"line {p.line}" + (f": {p.field}" if p.field else ""), reason=p.reason)
            for p in exc.problems]


async def _bounded_body(request: Request) -> bytes:
    limit = f"an import takes at most {MAX_IMPORT_BYTES // (1024 * 1024)} MB: split the file"
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        raise Problem(413, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise Problem(413, limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _device(registry: Any, dev_eui: str, municipality: str) -> DeviceInfo:
    device = await _call(registry.get, dev_eui, owner=municipality)
    if device is None:
        raise Problem(404, f"device {dev_eui} is not registered", param="dev_eui")
    return device  # type: ignore[no-any-return]
