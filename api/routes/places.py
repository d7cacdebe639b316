"""``/v1/municipalities`` and ``/v1/sites``: where devices are, as far as the key may see."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import PrincipalDep, RegistryDep
from api.lookups import visible_devices
from api.models import MunicipalitiesPublic, MunicipalityPublic, SitePublic, SitesPublic
from api.problems import Problem, responses
from devices.records import DeviceInfo

municipalities = APIRouter(prefix="/v1/municipalities", tags=["municipalities"], responses=responses(401, 422, 429))
sites = APIRouter(prefix="/v1/sites", tags=["sites"], responses=responses(401, 422, 429))

NameFilter = Annotated[str | None, Query(max_length=200, description="Only this one (exact name)")]


def _municipalities(devices: list[DeviceInfo]) -> list[MunicipalityPublic]:
    by_name: dict[str, list[DeviceInfo]] = defaultdict(list)
    for d in devices:
        by_name[d.municipality].append(d)
    return [
        MunicipalityPublic(name=name, sites=len({d.site for d in group}), devices=len(group))
        for name, group in sorted(by_name.items())
    ]


def site_records(devices: list[DeviceInfo]) -> list[SitePublic]:
    """One record per municipality and site of ``devices``, with the mean position of its devices."""
    by_site: dict[tuple[str, str], list[DeviceInfo]] = defaultdict(list)
    for d in devices:
        by_site[(d.municipality, d.site)].append(d)
    out = []
    for (municipality, site), group in sorted(by_site.items()):
        placed = [d for d in group if d.lat is not None and d.lon is not None]
        lat = sum(d.lat for d in placed if d.lat is not None) / len(placed) if placed else None
        lon = sum(d.lon for d in placed if d.lon is not None) / len(placed) if placed else None
        out.append(SitePublic(municipality=municipality, site=site, classes=sorted({d.device_class for d in group}),
                              devices=len(group), lat=lat, lon=lon))
    return out


@municipalities.get("", response_model=MunicipalitiesPublic)
async def list_municipalities(principal: PrincipalDep, registry: RegistryDep) -> MunicipalitiesPublic:
    """The municipalities with devices that the key may see (its own; every one for admin keys)."""
    found = _municipalities(await visible_devices(registry, principal))
    return MunicipalitiesPublic(data=found, count=len(found))


@municipalities.get("/{name}", response_model=MunicipalityPublic, responses=responses(404))
async def get_municipality(
    name: Annotated[str, Path(max_length=200, description="The municipality's name")],
    principal: PrincipalDep,
    registry: RegistryDep,
) -> MunicipalityPublic:
    """One municipality: 404 if it has no devices or the key may not see it."""
    found = _municipalities(await visible_devices(registry, principal, municipality=name))
    if not found:
        raise Problem(404, f"no municipality named {name!r}", param="name")
    return found[0]


@sites.get("", response_model=SitesPublic)
async def list_sites(
    principal: PrincipalDep, registry: RegistryDep, municipality: NameFilter = None, site: NameFilter = None
) -> SitesPublic:
    """The sites the key may see, optionally of one municipality or with one name."""
    found = site_records(await visible_devices(registry, principal, municipality=municipality, site=site))
    return SitesPublic(data=found, count=len(found))
