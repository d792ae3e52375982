"""The entry's stored subscriber snapshots: one store per entry, saved a little later.

Version 1 of this store kept only handset and serving nodes per number (the facts no
entity could restore); version 2 keeps the whole snapshot of each subscriber.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN

STORAGE_VERSION: Final = 2

type Snapshots = dict[str, dict[str, Any]]


def _key(entry_id: str) -> str:
    return f"{DOMAIN}.{entry_id}.facts"


class _SnapshotStore(Store[dict[str, Any]]):
    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: dict[str, Any]
    ) -> dict[str, Any]:
        """Version 1 was {number: {handset, location}}: those become snapshot fields."""
        if old_major_version == 1:
            return {"subscribers": {k: v for k, v in old_data.items() if isinstance(v, dict)}}
        raise NotImplementedError


class SnapshotStore:
    """Load the snapshots once; save what ``data`` returns, debounced."""

    def __init__(self, hass: HomeAssistant, entry_id: str, save_delay: float) -> None:
        """Prepare the store; nothing is read until :meth:`async_load`."""
        self._store = _SnapshotStore(hass, STORAGE_VERSION, _key(entry_id))
        self._save_delay = save_delay
        self._dirty = False

    async def async_load(self) -> Snapshots:
        """Return the stored snapshots per number (empty when none or unreadable)."""
        stored = await self._store.async_load()
        subscribers = stored.get("subscribers") if isinstance(stored, dict) else None
        if not isinstance(subscribers, dict):
            return {}
        return {k: v for k, v in subscribers.items() if isinstance(v, dict)}

    def schedule_save(self, data: Callable[[], Snapshots]) -> None:
        """Save soon (changes within the delay are written together)."""
        self._dirty = True
        self._store.async_delay_save(lambda: {"subscribers": data()}, self._save_delay)

    async def async_flush(self, data: Callable[[], Snapshots]) -> None:
        """Write pending changes now (on unload)."""
        if self._dirty:
            self._dirty = False
            await self._store.async_save({"subscribers": data()})

    @staticmethod
    async def async_remove(hass: HomeAssistant, entry_id: str) -> None:
        """Delete an entry's snapshots (when the entry is removed)."""
        await Store[dict[str, Any]](hass, STORAGE_VERSION, _key(entry_id)).async_remove()
