"""The one place where the report reads InfluxDB: hourly footfall per counting line from the processed data.

Reads ``"r1h"."footfall"`` as the processing service writes it: one series per counter, line (``channel``) and
``direction``; points stamped with the start of their hour (UTC); ``count`` is absent and ``complete`` is 0 in a
gap. Every identifier and literal is quoted by :mod:`stadtpuls.lineprotocol`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stadtpuls.influx import InfluxClient, InfluxRejected
from stadtpuls.lineprotocol import quote_identifier, quote_string

POLICY = "r1h"
MEASUREMENT = "footfall"
SERIES_TAGS = ("site", "dev_eui", "channel", "direction")
MAX_ROWS = 2_000_000  # rows one report reads at most: a large town's three weeks are far below


@dataclass(frozen=True, slots=True)
class Line:
    """One counting line and direction: the key of a series."""

    site: str
    dev_eui: str
    channel: str
    direction: str


@dataclass(frozen=True, slots=True)
class HourCount:
    """One stored hour of one line: its start (ns) and count, ``None`` in a gap."""

    line: Line
    start: int
    count: float | None


class QueryError(ValueError):
    """The database answered with more rows than a report reads."""


def footfall_query(municipality: str, sites: tuple[str, ...], start: int, end: int) -> str:
    """The InfluxQL of the hourly counts of every line of ``municipality`` (and ``sites``, if any) in [start, end)."""
    where = [f"{quote_identifier('municipality')} = {quote_string(municipality)}"]
    if sites:
        where.append("(" + " OR ".join(f"{quote_identifier('site')} = {quote_string(s)}" for s in sites) + ")")
    where.append(f"time >= {int(start)} AND time < {int(end)}")
    return (
        f"SELECT {quote_identifier('count')}, {quote_identifier('complete')} "
        f"FROM {quote_identifier(POLICY)}.{quote_identifier(MEASUREMENT)} "
        f"WHERE {' AND '.join(where)} GROUP BY {', '.join(quote_identifier(t) for t in SERIES_TAGS)}"
    )


async def hourly_counts(
    client: InfluxClient, municipality: str, *, sites: tuple[str, ...] = (), start: int, end: int
) -> list[HourCount]:
    """Every stored hour of every counting line in [start, end).

    Raises:
        QueryError: more than :data:`MAX_ROWS` rows.
        stadtpuls.influx.InfluxError: InfluxDB is unreachable or refuses the query.
    """
    out: list[HourCount] = []
    try:
        found = await client.query(footfall_query(municipality, sites, start, end), epoch="ns")
    except InfluxRejected as exc:
        if "retention policy not found" in exc.message:  # processing has not run yet: no counts
            return out
        raise
    for series in found:
        tags = series.get("tags") or {}
        line = Line(*(str(tags.get(t) or "") for t in SERIES_TAGS))
        columns = series.get("columns") or []
        at_count, at_complete = columns.index("count"), columns.index("complete")
        for row in series.get("values") or []:
            out.append(HourCount(line, int(row[0]), _count(row[at_count], row[at_complete])))
        if len(out) > MAX_ROWS:
            raise QueryError(f"more than {MAX_ROWS} hourly footfall rows: choose fewer sites")
    return out


def _count(count: object, complete: object) -> float | None:
    if not isinstance(count, int | float) or not math.isfinite(count) or complete == 0:
        return None
    return float(count)
