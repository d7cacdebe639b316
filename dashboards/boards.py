"""The boards: one module each, each with ``build() -> dict``; this is the list of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dashboards import air_quality, fleet_health, footfall, parking

# file name (without .json) → build function
BOARDS: dict[str, Callable[[], dict[str, Any]]] = {
    "parking": parking.build,
    "footfall": footfall.build,
    "air-quality": air_quality.build,
    "fleet-health": fleet_health.build,
}


def build_all() -> dict[str, dict[str, Any]]:
    """Every board's JSON model, by file name."""
    return {name: build() for name, build in BOARDS.items()}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels of a dashboard model, rows' panels included."""
    found: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return [panel for panel in found if panel.get("type") != "row"]
