"""Anomaly events for the report: from the anomaly events store (``stadtpuls process anomalies`` and the
processing service keep it in the registry database, :mod:`processing.events`), or from a JSON file: a list of
``{start, end, kind, reason[, site]}`` objects with ISO-8601 times, as ``stadtpuls process detect`` prints them
(times without a zone are UTC).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from processing.events import EventStore
from reports.footfall.data import Anomaly
from reports.footfall.weeks import BERLIN, NS, IsoWeek
from stadtpuls.errors import DataError, UnavailableError

MAX_FILE = 20_000_000  # bytes
MAX_REASON = 300  # characters of a reason shown in the report
MAX_EVENTS = 500  # events of one municipality and week read from the store at most


class AnomalyFileError(DataError, ValueError):
    """An anomaly file that cannot be read or is not a list of events."""


def load_anomalies(path: Path) -> list[Anomaly]:
    """The events of a JSON file.

    Raises:
        AnomalyFileError: names the file and, for a bad entry, its position and what is wrong.
    """
    try:
        if path.stat().st_size > MAX_FILE:
            raise AnomalyFileError(f"{path}: larger than {MAX_FILE} bytes")
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnomalyFileError(f"{path}: {exc}") from exc
    if not isinstance(document, list):
        raise AnomalyFileError(f"{path}: must hold a JSON list of events")
    out = []
    for n, item in enumerate(document):
        try:
            out.append(_anomaly(item))
        except (KeyError, TypeError, ValueError) as exc:
            raise AnomalyFileError(f"{path}: event {n}: {exc}") from exc
    return out


def _anomaly(item: Any) -> Anomaly:
    if not isinstance(item, dict):
        raise TypeError("an event must be an object")
    return Anomaly(start=_time(item["start"]), end=_time(item["end"]), site=str(item.get("site", "")),
                   kind=str(item["kind"]), reason=str(item.get("reason", ""))[:MAX_REASON])


def _time(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@lru_cache(maxsize=4)
def _store(registry_url: str) -> EventStore:
    return EventStore(registry_url)  # opens (and migrates) the database once per process and URL


def stored_anomalies(registry_url: str, municipality: str, week: IsoWeek, zone: ZoneInfo = BERLIN) -> list[Anomaly]:
    """The stored anomaly events of ``municipality`` that overlap ``week``, of every device (the report keeps
    those of its counters). Blocking: call it from a thread in async code.

    Raises:
        stadtpuls.errors.UnavailableError: the registry database cannot be read.
    """
    start, end = (datetime.fromtimestamp(ns / NS, tz=UTC) for ns in week.bounds(zone))
    try:
        events = _store(registry_url).list(municipality=municipality, since=start, until=end, limit=MAX_EVENTS)
    except SQLAlchemyError as exc:
        raise UnavailableError(f"anomaly events not readable from the registry database: {exc}") from exc
    return [Anomaly(start=e.start, end=e.end, site=e.site, kind=e.kind, reason=e.reason[:MAX_REASON],
                    dev_eui=e.dev_eui) for e in events]
