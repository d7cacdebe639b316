"""InfluxQL for the API, built without any web framework; every name and value is quoted here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from stadtpuls.lineprotocol import quote_identifier, quote_string
from stadtpuls.schema import QUANTITIES, UPLINK_MEASUREMENT


def latest_values_query(dev_eui: str, quantities: Iterable[str]) -> str:
    """The newest value of each quantity (and channel) of one device."""
    names = sorted(set(quantities))
    if not names:
        raise ValueError("no quantities to query")
    sources = ",".join(quote_identifier(n) for n in names)
    return (
        f'SELECT last("value") AS "value" FROM {sources} WHERE "dev_eui" = {quote_string(dev_eui)} GROUP BY "channel"'
    )


def latest_uplink_query(dev_eui: str) -> str:
    """The device's newest radio record."""
    # one row, not several last() selectors: with more than one selector InfluxQL reports time 0
    return (
        f'SELECT "rssi", "snr", "f_cnt" FROM {quote_identifier(UPLINK_MEASUREMENT)} '
        f'WHERE "dev_eui" = {quote_string(dev_eui)} ORDER BY time DESC LIMIT 1'
    )


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat().replace("+00:00", "Z")


def parse_latest(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Series from :func:`latest_values_query` → one record per quantity and channel, sorted."""
    values = []
    for s in series:
        quantity = s["name"]
        row = dict(zip(s["columns"], s["values"][0], strict=False))
        if row.get("value") is None:
            continue
        values.append(
            {
                "quantity": quantity,
                "channel": (s.get("tags") or {}).get("channel") or None,
                "value": row["value"],
                "unit": QUANTITIES[quantity].unit if quantity in QUANTITIES else "",
                "time": _iso(int(row["time"])),
            }
        )
    return sorted(values, key=lambda v: (v["quantity"], v["channel"] or ""))


def parse_uplink(series: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The radio record from :func:`latest_uplink_query`, or None if the device was never heard."""
    if not series or not series[0]["values"]:
        return None
    row = dict(zip(series[0]["columns"], series[0]["values"][0], strict=False))
    return {
        "time": _iso(int(row["time"])),
        "rssi": row.get("rssi"),
        "snr": row.get("snr"),
        "f_cnt": int(row["f_cnt"]) if row.get("f_cnt") is not None else None,
    }
