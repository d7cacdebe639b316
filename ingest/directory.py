"""An in-memory view of the device registry for the hot path, refreshed in the background."""

from __future__ import annotations

import asyncio
import logging

from devices.records import DeviceInfo
from devices.registry import DeviceRegistry

log = logging.getLogger(__name__)


class DeviceDirectory:
    """Answers "which device is this DevEUI?" from memory; reloads the registry every ``refresh`` seconds.

    A device registered while ingest runs is known after the next reload; uplinks that arrive before that
    are quarantined as unknown and can be replayed.
    """

    def __init__(self, registry: DeviceRegistry, *, refresh: float = 10.0) -> None:
        self._registry = registry
        self._refresh = refresh
        self._devices: dict[str, DeviceInfo] = {}

    def load(self) -> set[str]:
        """Reload all devices; returns the DevEUIs that were added, changed or removed."""
        fresh = {d.dev_eui: d for d in self._registry.list()}
        changed = {
            eui for eui in fresh.keys() | self._devices.keys() if fresh.get(eui) != self._devices.get(eui)
        }
        self._devices = fresh
        return changed

    def get(self, dev_eui: str) -> DeviceInfo | None:
        """The device, or None if it is not registered."""
        return self._devices.get(dev_eui)

    def __len__(self) -> int:
        return len(self._devices)

    async def keep_fresh(self, on_change: asyncio.Queue[set[str]] | None = None) -> None:
        """Reload forever; report changed DevEUIs to ``on_change``."""
        while True:
            await asyncio.sleep(self._refresh)
            try:
                changed = await asyncio.to_thread(self.load)
            except Exception as exc:  # noqa: BLE001 - the registry may be briefly locked or down; keep the last view
                log.warning("device registry reload failed, keeping the last view: %s", exc)
                continue
            if changed and on_change is not None:
                on_change.put_nowait(changed)
