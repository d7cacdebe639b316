"""Anomaly events for the report, read from a JSON file: a list of ``{start, end, kind, reason[, site]}`` objects
with ISO-8601 times, as ``stadtpuls process detect`` prints them (times without a zone are UTC).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reports.footfall.data import Anomaly
from stadtpuls.errors import DataError

MAX_FILE = 20_000_000  # bytes
MAX_REASON = 300  # characters of a reason shown in the report


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
