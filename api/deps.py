"""Dependencies shared by the routes, as ``Annotated`` aliases.

``PrincipalDep`` is the caller of a request with a valid key (401 without one, 429 over the rate limit);
``TechnicianDep`` and ``AdminDep`` also require the role (403); ``CallerDep`` is anonymous without a key
(``/health``). ``OpenDataDep`` lets anonymous callers through when ``STADTPULS_API_PUBLIC`` is on. Keys are
looked up in the thread pool and cached briefly (see :mod:`api.auth`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from api.auth import ANONYMOUS, KeyCache, Principal, RateLimiter, principal_of
from api.keys import KeyStore, Role
from api.problems import Problem
from devices.registry import DeviceRegistry
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import Settings

KEY_HEADER = "X-API-Key"
_key_header = APIKeyHeader(
    name=KEY_HEADER, auto_error=False, description="An API key from `stadtpuls keys create`"
)


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _influx(request: Request) -> InfluxClient:
    return request.app.state.influx  # type: ignore[no-any-return]


def _registry(request: Request) -> DeviceRegistry:
    return request.app.state.registry  # type: ignore[no-any-return]


def _key_store(request: Request) -> KeyStore:
    return request.app.state.keys  # type: ignore[no-any-return]


def _limit(request: Request, caller: str) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.take(caller)
    if wait:
        raise Problem(
            429,
            f"rate limit exceeded: retry in {wait:.0f} s",
            headers={"Retry-After": f"{wait:.0f}"},
        )


async def _keyed(request: Request, key: str | None) -> Principal:
    if not key:
        raise Problem(401, f"send an API key in the {KEY_HEADER} header", param=KEY_HEADER)
    cache: KeyCache = request.app.state.key_cache
    record = await cache.resolve(key)
    if record is None:
        raise Problem(401, "the API key is unknown, revoked or expired", param=KEY_HEADER)
    _limit(request, f"key:{record.id}")
    return principal_of(record)


async def _principal(request: Request, key: Annotated[str | None, Security(_key_header)]) -> Principal:
    return await _keyed(request, key)


async def _caller(request: Request, key: Annotated[str | None, Security(_key_header)]) -> Principal:
    """The caller: anonymous without a key; a key that is sent must be valid."""
    return await _keyed(request, key) if key else ANONYMOUS


async def _open_data(request: Request, key: Annotated[str | None, Security(_key_header)]) -> Principal:
    settings: Settings = request.app.state.settings
    if key or not settings.api.public:
        return await _keyed(request, key)
    _limit(request, f"addr:{request.client.host if request.client else 'unknown'}")
    return ANONYMOUS


def _needs(role: Role) -> Callable[..., Awaitable[Principal]]:
    async def check(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if not principal.may(role):
            raise Problem(403, f"this needs a {role.value} key (or higher); yours is a {principal.role} key")
        return principal

    return check


SettingsDep = Annotated[Settings, Depends(_settings)]
InfluxDep = Annotated[InfluxClient, Depends(_influx)]
RegistryDep = Annotated[DeviceRegistry, Depends(_registry)]
KeyStoreDep = Annotated[KeyStore, Depends(_key_store)]
PrincipalDep = Annotated[Principal, Depends(_principal)]
TechnicianDep = Annotated[Principal, Depends(_needs(Role.TECHNICIAN))]
AdminDep = Annotated[Principal, Depends(_needs(Role.ADMIN))]
OpenDataDep = Annotated[Principal, Depends(_open_data)]
CallerDep = Annotated[Principal, Depends(_caller)]  # anonymous when no key is sent (``/health``)
