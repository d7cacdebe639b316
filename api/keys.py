"""API keys: created, listed and revoked in the relational store, where only their SHA-256 is kept.

A key is 32 random bytes (``sp_`` and 43 URL-safe characters). With that much entropy a fast hash is as safe as a
slow one and costs microseconds per lookup; the lookup goes by the hash, so no key is ever compared in clear.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from stadtpuls.db import open_database
from stadtpuls.errors import DataError
from stadtpuls.lineprotocol import LineProtocolError, check_name
from stadtpuls.tables import ApiKey

KEY_PREFIX = "sp_"
SHOWN_PREFIX = 10  # characters of a key kept in clear, to recognise it in listings
MAX_KEY_LENGTH = 200  # longer header values are refused without hashing


class Role(StrEnum):
    """What a key may do; each role can do everything of the roles before it."""

    READER = "reader"  # the data of its municipality
    TECHNICIAN = "technician"  # also devices, health, alarms and quarantine of its municipality
    ADMIN = "admin"  # keys, and every municipality

    @property
    def rank(self) -> int:
        """0 for reader, 1 for technician, 2 for admin."""
        return list(Role).index(self)

    def covers(self, other: Role) -> bool:
        """Whether this role may do what ``other`` may."""
        return self.rank >= other.rank


class ApiKeyError(DataError, ValueError):
    """A key cannot be created or revoked as asked (unknown role, missing municipality, unknown id)."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A stored key without its secret: who holds it, what it may do, and its dates."""

    id: int
    name: str
    role: Role
    municipality: str | None  # None: every municipality (admin)
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def usable(self, now: datetime) -> bool:
        """Neither revoked nor expired at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def hash_key(secret: str) -> str:
    """The SHA-256 hex digest under which a key is stored."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret() -> str:
    """A fresh random key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; they were stored in UTC
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _record(row: ApiKey) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        municipality=row.municipality,
        prefix=row.prefix,
        created_at=_aware(row.created_at) or datetime.now(UTC),
        expires_at=_aware(row.expires_at),
        revoked_at=_aware(row.revoked_at),
        last_used_at=_aware(row.last_used_at),
    )


def _check_scope(role: Role, municipality: str | None) -> str | None:
    if role is Role.ADMIN:
        if municipality:
            raise ApiKeyError("an admin key covers every municipality: leave out --municipality")
        return None
    if not municipality or not municipality.strip():
        raise ApiKeyError(f"a {role.value} key belongs to one municipality: give --municipality")
    value = municipality.strip()
    if len(value) > 200:
        raise ApiKeyError("municipality must be at most 200 characters")
    try:
        return check_name(value)
    except LineProtocolError as exc:
        raise ApiKeyError(f"municipality: {exc}") from exc


class KeyStore:
    """The API keys in the relational store (synchronous: call it from a thread pool in async code)."""

    def __init__(self, url: str) -> None:
        self._sessions: sessionmaker[Session] = open_database(url)

    def create(
        self,
        role: Role | str,
        *,
        municipality: str | None = None,
        name: str = "",
        expires_at: datetime | None = None,
    ) -> tuple[KeyRecord, str]:
        """Store a new key; returns its record and the secret, which is not kept anywhere.

        Raises:
            ApiKeyError: unknown role, a municipality missing or given where it must not be, expiry in the past.
        """
        try:
            role = Role(role)
        except ValueError as exc:
            raise ApiKeyError(f"role must be one of {', '.join(r.value for r in Role)}, got {role!r}") from exc
        scope = _check_scope(role, municipality)
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise ApiKeyError("the expiry needs a time zone")
            if expires_at <= datetime.now(UTC):
                raise ApiKeyError(f"the expiry {expires_at.isoformat()} is in the past")
        secret = new_secret()
        row = ApiKey(
            name=name.strip()[:200] or f"{role.value} key",
            role=role.value,
            municipality=scope,
            prefix=secret[:SHOWN_PREFIX],
            key_hash=hash_key(secret),
            expires_at=expires_at,
        )
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            return _record(row), secret

    def list(self) -> list[KeyRecord]:
        """Every key, revoked ones included, oldest first."""
        with self._sessions() as session:
            return [_record(r) for r in session.scalars(select(ApiKey).order_by(ApiKey.id))]

    def revoke(self, key_id: int) -> KeyRecord:
        """Revoke a key for good (revoking twice keeps the first time).

        Raises:
            ApiKeyError: no key has this id.
        """
        with self._sessions.begin() as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                raise ApiKeyError(f"no API key has the id {key_id}")
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
            session.flush()
            return _record(row)

    def lookup(self, secret: str) -> KeyRecord | None:
        """The key whose secret this is, revoked or expired ones included; None for an unknown key."""
        if not secret.startswith(KEY_PREFIX) or len(secret) > MAX_KEY_LENGTH:
            return None
        with self._sessions() as session:
            row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(secret))).first()
            return _record(row) if row else None

    def touch(self, used: dict[int, datetime]) -> None:
        """Record the last use of several keys in one transaction."""
        if not used:
            return
        with self._sessions.begin() as session:
            for key_id, moment in used.items():
                session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=moment))
