"""An async client for InfluxDB's v1 HTTP API: line protocol to ``/write``, InfluxQL to ``/query``.

The v1 API is served by InfluxDB 1.x natively and by 2.x and 3.x through their compatibility endpoints, and it
is what Grafana's InfluxQL data source reads. Errors are classified so callers can decide: a
:class:`InfluxRejected` (4xx) will fail again if retried; an :class:`InfluxUnavailable` (5xx, network) may not.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import orjson

from stadtpuls.errors import ConfigError, UnavailableError
from stadtpuls.lineprotocol import quote_identifier, quote_string

_PRECISIONS = frozenset({"ns", "u", "ms", "s", "m", "h"})  # what /write accepts as ``precision``
_DURATION = re.compile(r"INF|(\d+(ns|u|µ|ms|s|m|h|d|w))+")

if TYPE_CHECKING:
    from stadtpuls.settings import InfluxSettings

T = TypeVar("T")


class InfluxError(UnavailableError):
    """Base of InfluxDB client errors."""


class InfluxUnavailable(InfluxError):
    """InfluxDB cannot be reached or answered 5xx: retry later."""


class InfluxRejected(InfluxError):
    """InfluxDB refused the request (4xx): retrying the same request will fail again."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"InfluxDB rejected the request (HTTP {status}): {message}")
        self.status = status
        self.message = message

    @property
    def is_data_error(self) -> bool:
        """True when InfluxDB refused the data itself (a line that does not parse, a field type conflict)."""
        return self.status == 400 and any(marker in self.message for marker in _DATA_ERRORS)


class InfluxRefused(InfluxUnavailable):
    """InfluxDB refused a write for a reason other than its data (401/403, 404 database not found, 413, 429).

    The data is fine; an operator must fix InfluxDB (credentials, the database, limits). Retry later.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"InfluxDB refused the write (HTTP {status}), not because of its data: {message}")
        self.status = status
        self.message = message


ACCOUNT_PRIVILEGES = ("READ", "WRITE", "ALL")  # what a service account may get on the database


class InfluxAccessError(ConfigError):
    """InfluxDB refuses our account what it needs (wrong credentials, no right to create the database).

    Retrying does not help: an operator must fix the account or the settings; the text names which.
    """


_DATA_ERRORS = ("partial write", "unable to parse", "field type conflict", "invalid field", "bad timestamp")


# what InfluxDB answers (HTTP 200) for a query in flight when it stops or the query is killed: not the query's fault
STOPPING = frozenset({"query engine shutdown", "query interrupted"})


class InfluxClient:
    """A connection pool to one InfluxDB database."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.username = username
        self.last_write: float | None = None  # time.time() of the last write InfluxDB acknowledged
        self.refusal: InfluxRefused | None = None  # the last write's refusal; None once a write succeeds again
        auth = (username, password or "") if username else None
        # a plain-HTTP address needs no TLS context (building one loads the CA bundle: ~50 ms per client)
        tls = self.url.lower().startswith("https://")
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout, auth=auth, verify=tls)

    @classmethod
    def from_settings(cls, settings: InfluxSettings, *, timeout: float = 30.0) -> InfluxClient:
        """The one way to build a client from the ``STADTPULS_INFLUX_*`` settings."""
        return cls(
            settings.url, settings.db, username=settings.username, password=settings.password, timeout=timeout
        )

    async def __aenter__(self) -> InfluxClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise InfluxUnavailable(f"InfluxDB at {self.url} is unreachable: {exc!r}") from exc
        if response.status_code >= 500:
            raise InfluxUnavailable(
                f"InfluxDB at {self.url} answered HTTP {response.status_code}: {response.text[:300]}"
            )
        if response.status_code >= 400:
            raise InfluxRejected(response.status_code, _error_text(response))
        return response

    async def ping(self) -> str:
        """The server's version; raises InfluxUnavailable if it does not answer."""
        response = await self._request("GET", "/ping")
        return str(response.headers.get("X-Influxdb-Version", "unknown"))

    async def database_exists(self) -> bool:
        """Whether the database exists and this account may use it (``SHOW DATABASES`` lists it).

        InfluxDB lists to an account without admin rights only the databases it has a privilege on.
        """
        response = await self._request("GET", "/query", params={"q": "SHOW DATABASES"})
        results = orjson.loads(response.content).get("results", [])
        names = {row[0] for r in results for s in r.get("series", []) for row in s.get("values", []) if row}
        return self.database in names

    async def create_database(self) -> None:
        """Make sure the database exists: look first, and create it only when it is missing.

        Creating a database is for InfluxDB admins only; an account that may write to an existing database
        needs no more than that, so nothing is created (or tried) when the database is there already.

        Raises:
            InfluxAccessError: InfluxDB refuses the credentials, or the database is missing and this account
                may not create it. The text says which setting or which InfluxDB command fixes it.
            InfluxUnavailable: InfluxDB is unreachable or answers 5xx.
        """
        statement = f"CREATE DATABASE {quote_identifier(self.database)}"
        try:
            if await self.database_exists():
                return
            await self._command(statement)
        except InfluxRejected as exc:
            raise InfluxAccessError(self._access_problem(exc, statement)) from exc

    def _access_problem(self, exc: InfluxRejected, statement: str) -> str:
        where = f"InfluxDB at {self.url}"
        if exc.status == 401:
            return (
                f"{where} refused the credentials ({exc.message}): check STADTPULS_INFLUX_USERNAME and "
                "STADTPULS_INFLUX_PASSWORD"
            )
        if exc.status == 403:
            return (
                f"database {self.database!r} does not exist at {where}, or account {self.username!r} has no "
                f"rights on it, and the account may not create it ({exc.message}). Either let an InfluxDB admin "
                f"run {statement} and GRANT ALL ON {quote_identifier(self.database)} TO <account>, or set "
                "STADTPULS_INFLUX_DB to a database the account can write to (or STADTPULS_INFLUX_USERNAME and "
                "STADTPULS_INFLUX_PASSWORD to an admin account)"
            )
        return f"{where} refused to check or create database {self.database!r} (HTTP {exc.status}): {exc.message}"

    async def ensure_account(self, user: str, password: str, privilege: str) -> str:
        """Make ``user`` an account without admin rights that has ``password`` and exactly ``privilege``
        (``READ``, ``WRITE`` or ``ALL``) on this database; needs an admin account. Safe to run again: an existing
        account gets the password and privilege given (any other grant on this database is revoked).

        Returns:
            ``"created"`` or ``"updated"``.

        Raises:
            ValueError: an unknown privilege, an empty name or password.
            InfluxAccessError: this client's account may not manage accounts, or ``user`` is an admin account
                (which a database grant would not restrict). The password never appears in the text.
            InfluxUnavailable: InfluxDB is unreachable or answers 5xx.
        """
        if privilege not in ACCOUNT_PRIVILEGES:
            raise ValueError(f"privilege must be one of {', '.join(ACCOUNT_PRIVILEGES)}, got {privilege!r}")
        if not user or not password:
            raise ValueError("an account needs a name and a password")
        name, database = quote_identifier(user), quote_identifier(self.database)
        try:
            users = await self._users()
            if users.get(user):
                raise InfluxAccessError(
                    f"InfluxDB account {user!r} is an admin: a grant on {self.database!r} would not restrict it; "
                    "give the service an account of its own"
                )
            verb = f"SET PASSWORD FOR {name} =" if user in users else f"CREATE USER {name} WITH PASSWORD"
            await self._secret_command(f"{verb} {quote_string(password)}", f"{verb} '…'")
            await self._command(f"REVOKE ALL PRIVILEGES ON {database} FROM {name}")
            await self._command(f"GRANT {privilege} ON {database} TO {name}")
        except InfluxRejected as exc:
            if exc.status in (401, 403):
                raise InfluxAccessError(
                    f"InfluxDB at {self.url} refused to manage accounts to account {self.username!r} "
                    f"({exc.message}): STADTPULS_INFLUX_USERNAME and STADTPULS_INFLUX_PASSWORD must name an admin"
                ) from exc
            raise
        return "updated" if user in users else "created"

    async def _users(self) -> dict[str, bool]:
        """InfluxDB's accounts: name → whether it is an admin."""
        response = await self._request("POST", "/query", data={"q": "SHOW USERS"})
        results = response.json().get("results", [])
        for result in results:
            if "error" in result:
                raise InfluxRejected(403 if "authoriz" in str(result["error"]) else 400, str(result["error"]))
        return {str(row[0]): bool(row[1]) for r in results for s in r.get("series", []) for row in s.get("values", [])}

    async def _secret_command(self, statement: str, shown: str) -> None:
        """:meth:`_command` for a statement with a password in it: an error names ``shown`` instead."""
        response = await self._request("POST", "/query", data={"q": statement})
        for result in response.json().get("results", []):
            if "error" in result:
                raise InfluxRejected(400, f"{shown!r}: {result['error']}")

    async def drop_database(self) -> None:
        """Drop the database with all its data (nothing happens if it does not exist)."""
        await self._command(f"DROP DATABASE {quote_identifier(self.database)}")

    async def create_retention_policy(self, name: str, *, duration: str, shard_duration: str | None = None) -> None:
        """Create a retention policy of the database keeping ``duration`` (an InfluxQL duration or ``INF``).

        ``shard_duration`` is the time span of one shard group (InfluxDB's default is one week for policies kept
        longer than six months, so a query over a year opens 53 shards). An existing policy of that name keeps
        its duration; given ``shard_duration``, its shard groups from now on get that span.
        """
        if not _DURATION.fullmatch(duration):
            raise ValueError(f"not an InfluxQL duration: {duration!r}")
        if shard_duration is not None and (shard_duration == "INF" or not _DURATION.fullmatch(shard_duration)):
            raise ValueError(f"not an InfluxQL shard duration: {shard_duration!r}")
        shards = f" SHARD DURATION {shard_duration}" if shard_duration else ""
        statement = (
            f"CREATE RETENTION POLICY {quote_identifier(name)} ON {quote_identifier(self.database)} "
            f"DURATION {duration} REPLICATION 1{shards}"
        )
        try:
            await self._command(statement)
        except InfluxRejected as exc:
            if "already exists" not in exc.message:
                raise
            if shard_duration:
                await self._command(
                    f"ALTER RETENTION POLICY {quote_identifier(name)} ON {quote_identifier(self.database)}{shards}"
                )

    async def _command(self, statement: str) -> None:
        response = await self._request("POST", "/query", data={"q": statement})
        for result in response.json().get("results", []):
            if "error" in result:
                raise InfluxRejected(400, f"{statement!r}: {result['error']}")

    async def write(self, body: str | bytes, *, retention_policy: str = "", precision: str = "ns") -> None:
        """Write line protocol (newline-separated lines), to the default or the named policy.

        ``precision`` is the unit of the lines' timestamps (``ns``, ``u``, ``ms``, ``s``, ``m`` or ``h``).

        Raises:
            InfluxRejected: InfluxDB refused the data itself (e.g. a field type conflict); retrying fails again.
            InfluxUnavailable: unreachable, 5xx, or :class:`InfluxRefused` (a 4xx not about the data).
        """
        content = body.encode() if isinstance(body, str) else body
        if precision not in _PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(_PRECISIONS)}, got {precision!r}")
        params = {"db": self.database, "precision": precision}
        if retention_policy:
            params["rp"] = retention_policy
        try:
            await self._request("POST", "/write", params=params, content=content)
        except InfluxRejected as exc:
            if not exc.is_data_error:
                self.refusal = InfluxRefused(exc.status, exc.message)
                raise self.refusal from exc
            raise
        self.last_write = time.time()
        self.refusal = None

    async def query(self, influxql: str, *, epoch: str = "ns", compressed: bool = True) -> list[dict[str, Any]]:
        """Run InfluxQL and return the series of the first statement.

        Each series is ``{"name", "tags", "columns", "values"}``. Raises InfluxRejected for a query error.
        ``compressed=False`` asks for the answer without gzip: for big answers from an InfluxDB on the same host or
        network, compressing costs InfluxDB more time than the transfer saves.
        """
        headers = None if compressed else {"Accept-Encoding": "identity"}
        response = await self._request(
            "GET", "/query", params={"db": self.database, "q": influxql, "epoch": epoch}, headers=headers
        )
        results = orjson.loads(response.content).get("results", [])  # a few times faster than json for big answers
        if not results:
            return []
        first = results[0]
        if "error" in first:
            if str(first["error"]) in STOPPING:
                raise InfluxUnavailable(f"InfluxDB at {self.url} cut the query off: {first['error']}")
            raise InfluxRejected(400, str(first["error"]))
        return list(first.get("series", []))


def run_blocking(
    action: Callable[[InfluxClient], Awaitable[T]],
    url: str,
    database: str,
    *,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 10.0,
) -> T:
    """Run one client call from synchronous code, with a client of its own that is closed afterwards.

    The call runs in a fresh event loop; when this thread already runs one, in a helper thread.

    Raises:
        InfluxError: what the call raises.
    """

    async def run() -> T:
        async with InfluxClient(url, database, username=username, password=password, timeout=timeout) as client:
            return await action(client)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def ensure_database(settings: InfluxSettings, *, timeout: float = 10.0) -> None:
    """Create the database of ``settings`` if it does not exist, from synchronous code.

    Raises:
        InfluxAccessError: the credentials are refused, or the database is missing and may not be created.
        InfluxError: InfluxDB is unreachable or refuses otherwise.
    """
    run_blocking(
        InfluxClient.create_database,
        settings.url,
        settings.db,
        username=settings.username,
        password=settings.password,
        timeout=timeout,
    )


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))[:500]
    except ValueError:
        return response.text[:500]
