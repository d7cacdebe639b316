"""The relational store (device registry, quarantine): SQLAlchemy 2 engine, declarative base, migrations.

SQLite by default, PostgreSQL in production. The schema is managed by Alembic (``stadtpuls/migrations``);
:func:`open_database` brings a database to the newest revision before it is used. A database already at the
newest revision is recognised without loading Alembic (its version table against the revisions named in the
migration scripts), so a start with a current database costs one query.
"""

from __future__ import annotations

import ast
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
CONNECT_TIMEOUT = 10  # s to reach a database server at most (an unreachable host must not hang a retry loop)
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


class Base(DeclarativeBase):
    """Base of every table Stadtpuls keeps in its relational store."""


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL mode and a busy timeout (several ingest workers share it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {"connect_timeout": CONNECT_TIMEOUT} if parsed.get_backend_name() == "postgresql" else {}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def alembic_config(url: str) -> Config:
    """The Alembic configuration for ``url`` (no ini file needed)."""
    from alembic.config import Config  # Alembic loads only when a database is migrated

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database behind ``engine`` to the newest schema revision."""
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@cache
def head_revisions() -> frozenset[str]:
    """The newest revision(s) of the migration scripts, read from their ``revision`` and ``down_revision`` lines
    (as Alembic finds them: the revisions no other script revises). Empty when a script cannot be read so.
    """
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        found = {match.group(1): match.group(2) for match in _REVISION_LINE.finditer(text)}
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found.get("down_revision", "None"))
        except (KeyError, ValueError, SyntaxError):
            return frozenset()
        if not isinstance(revision, str):
            return frozenset()
        revisions.add(revision)
        revised.update([down] if isinstance(down, str) else (down or ()))
    return frozenset(revisions - revised)


def is_current(engine: Engine) -> bool:
    """Whether the database behind ``engine`` is at the newest revision (False when it has no version table)."""
    heads = head_revisions()
    try:
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError:
        return False
    return bool(heads) and set(stored) == heads


@lru_cache(maxsize=8)
def open_database(url: str) -> sessionmaker:  # type: ignore[type-arg]
    """A session factory for ``url``, migrated to the newest revision (once per process and URL)."""
    engine = make_engine(url)
    if not is_current(engine):
        upgrade(engine)
    return sessionmaker(engine, expire_on_commit=False)
