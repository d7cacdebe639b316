"""The simulated town: sensors that behave like a real town's, with known ground truth.

``town`` (data) → ``world`` (calendar, weather, demand) → ``firmware`` (frames per device model, encoded with
the model's codec) → ``radio`` (gateways, loss, duplicates, envelopes) → ``live`` (MQTT) or ``backfill``
(straight through the ingest pipeline into InfluxDB). ``faults`` injects labelled faults and writes the
ground truth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firmware_sim.live import LiveResult
    from stadtpuls.settings import Settings


async def run_live(settings: Settings, **kwargs: Any) -> LiveResult:
    """Publish the simulated town to MQTT (see :func:`firmware_sim.live.run_live`)."""
    from firmware_sim.live import run_live as _run_live

    return await _run_live(settings, **kwargs)
