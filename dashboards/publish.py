"""``stadtpuls dashboards publish``: push the boards (and the data source) to a running Grafana over its HTTP API.

Idempotent: every object keeps its uid, and a board is saved again only when the stored one differs from the
built one, so an unchanged board gets no new version in Grafana's history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards.boards import build_all
from dashboards.common import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID
from dashboards.provisioning import datasource
from stadtpuls.errors import StadtpulsError

# keys Grafana sets on a stored dashboard itself; they never count as a change
_SERVER_KEYS = frozenset({"id", "version"})


class PublishError(StadtpulsError):
    """Grafana refused a request or could not be reached; the message says which and why."""


@dataclass(frozen=True, slots=True)
class InfluxSource:
    """Where Grafana's data source reads InfluxDB, as Grafana (not this machine) reaches it."""

    url: str
    database: str
    user: str
    password: str | None  # None: leave an existing data source as it is, and never create one


@dataclass(slots=True)
class PublishReport:
    """What a publish did: uids of boards saved and left unchanged, and what happened to the data source."""

    saved: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    datasource: str = "unchanged"  # created | updated | unchanged


def publish(url: str, token: str, *, influx: InfluxSource | None = None, timeout: float = 30.0) -> PublishReport:
    """Publish every board (and, with ``influx``, the data source) to the Grafana at ``url``.

    Args:
        url: Grafana's base URL, e.g. ``https://grafana.example.org``.
        token: a service-account token with the Editor role (Admin to manage the data source).
        influx: the data source to create or update; without it the data source must already exist.
        timeout: seconds per HTTP request.

    Raises:
        PublishError: Grafana could not be reached or refused a request.
    """
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    report = PublishReport()
    try:
        report.datasource = _ensure_datasource(api, influx)
        _ensure_folder(api)
        for model in build_all().values():
            uid = str(model["uid"])
            if _stored(api, uid) == _comparable(model):
                report.unchanged.append(uid)
                continue
            api.dashboard.update_dashboard(
                {"dashboard": {**model, "id": None}, "folderUid": FOLDER_UID, "overwrite": True,
                 "message": "published by stadtpuls dashboards publish"}
            )
            report.saved.append(uid)
    except GrafanaException as exc:
        raise PublishError(f"Grafana at {url} refused a request: {exc}") from exc
    except OSError as exc:  # connection refused, DNS, TLS
        raise PublishError(f"Grafana at {url} is unreachable: {exc}") from exc
    except Exception as exc:
        if type(exc).__module__.startswith(("niquests", "urllib3")):
            raise PublishError(f"Grafana at {url} is unreachable: {exc}") from exc
        raise
    return report


def _stored(api: GrafanaApi, uid: str) -> dict[str, Any] | None:
    try:
        found = api.dashboard.get_dashboard(uid)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return None
        raise
    stored = found.get("dashboard") if isinstance(found, dict) else None
    meta = found.get("meta", {}) if isinstance(found, dict) else {}
    if not isinstance(stored, dict) or meta.get("folderUid", FOLDER_UID) != FOLDER_UID:
        return None  # elsewhere or unreadable: save it where it belongs
    return _comparable(stored)


def _comparable(model: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in model.items() if key not in _SERVER_KEYS}


def _ensure_folder(api: GrafanaApi) -> None:
    try:
        api.folder.get_folder(FOLDER_UID)
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)


def _ensure_datasource(api: GrafanaApi, influx: InfluxSource | None) -> str:
    try:
        current = api.datasource.get_datasource_by_uid(DATASOURCE_UID)
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        current = None
    if influx is None or influx.password is None:
        if current is None:
            raise PublishError(
                f"Grafana has no data source with uid {DATASOURCE_UID!r}: give --influx-url and --influx-password "
                "to create it"
            )
        return "unchanged"
    wanted = datasource(url=influx.url, database=influx.database, user=influx.user, password=influx.password)
    if current is None:
        api.datasource.create_datasource(wanted)
        return "created"
    api.datasource.update_datasource_by_uid(DATASOURCE_UID, wanted)  # the password cannot be read back to compare
    return "updated"
