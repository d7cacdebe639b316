"""``/v1/keys`` (admin keys) and ``/v1/whoami`` (any key)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from api.auth import KeyCache
from api.deps import AdminDep, KeyStoreDep, PrincipalDep
from api.keys import ApiKeyError, KeyRecord
from api.models import KeyPublic, KeysPublic, WhoAmI
from api.problems import Problem, responses
from api.queries import format_time

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=responses(401, 403, 422, 429))
whoami_router = APIRouter(tags=["keys"], responses=responses(401, 429))


def _when(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return format_time(int(moment.timestamp() * 1_000_000) * 1000)


def key_public(record: KeyRecord) -> KeyPublic:
    """The API's view of a stored key."""
    return KeyPublic(
        id=record.id, name=record.name, role=record.role.value, municipality=record.municipality,
        prefix=record.prefix, created_at=_when(record.created_at) or "", expires_at=_when(record.expires_at),
        revoked_at=_when(record.revoked_at), last_used_at=_when(record.last_used_at),
    )


@router.get("", response_model=KeysPublic)
async def list_keys(_: AdminDep, store: KeyStoreDep) -> KeysPublic:
    """Every API key, revoked ones included, without their secrets."""
    keys = [key_public(r) for r in await run_in_threadpool(store.list)]
    return KeysPublic(data=keys, count=len(keys))


@router.delete("/{key_id}", response_model=KeyPublic, responses=responses(404))
async def revoke_key(
    key_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="The key's id")],
    _: AdminDep,
    store: KeyStoreDep,
    request: Request,
) -> KeyPublic:
    """Revoke a key; this server refuses it at once, other API processes within the key cache time."""
    try:
        record = await run_in_threadpool(store.revoke, key_id)
    except ApiKeyError as exc:
        raise Problem(404, str(exc), param="key_id") from exc
    cache: KeyCache = request.app.state.key_cache
    cache.forget(key_id)
    return key_public(record)


@whoami_router.get("/v1/whoami", response_model=WhoAmI)
async def whoami(principal: PrincipalDep) -> WhoAmI:
    """The key the request was made with: its role and municipality."""
    return WhoAmI(key_id=principal.key_id, name=principal.name,
                  role=principal.role.value if principal.role else None, municipality=principal.municipality)
