"""Rarely reported subscriber facts (handset, serving nodes) kept on disk per entry.

Handset and location events can be months apart, and their sensors are disabled by
default: an entity that did not exist cannot restore its state, so a sensor enabled later
would stay unknown until the next such event. The tracker keeps these facts here instead.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .client import Handset, Locations
from .const import DOMAIN

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 10.0

type FactsData = dict[str, dict[str, Any]]


def _key(entry_id: str) -> str:
    return f"{DOMAIN}.{entry_id}.facts"


async def async_remove_facts(hass: HomeAssistant, entry_id: str) -> None:
    """Delete an entry's stored facts (when the entry is removed)."""
    await Store[FactsData](hass, STORAGE_VERSION, _key(entry_id)).async_remove()


class SubscriberFacts:
    """Handset and serving nodes per subscriber number, loaded once and saved lazily."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Prepare the store; nothing is read until :meth:`async_load`."""
        self._store = Store[FactsData](hass, STORAGE_VERSION, _key(entry_id))
        self._data: FactsData = {}
        self._lock = asyncio.Lock()
        self._loaded = False
        self._dirty = False

    async def async_load(self) -> FactsData:
        """Read the stored facts (once; later calls return the same data)."""
        async with self._lock:
            if not self._loaded:
                stored = await self._store.async_load()
                self._data = stored if isinstance(stored, dict) else {}
                self._loaded = True
        return self._data

    @staticmethod
    def handset(facts: dict[str, Any]) -> Handset | None:
        """Return the stored handset of one subscriber."""
        value = facts.get("handset")
        if not isinstance(value, dict) or not isinstance(value.get("imei"), str):
            return None
        return Handset(imei=value["imei"], software_version=str(value.get("software_version", "")))

    @staticmethod
    def location(facts: dict[str, Any]) -> Locations | None:
        """Return the stored serving nodes of one subscriber."""
        value = facts.get("location")
        if not isinstance(value, dict):
            return None

        def _get(key: str) -> str | None:
            item = value.get(key)
            return item if isinstance(item, str) else None

        return Locations(msc=_get("msc"), vlr=_get("vlr"), sgsn=_get("sgsn"), mme=_get("mme"))

    def update(self, number: str, key: str, value: Handset | Locations) -> None:
        """Remember a fact and save soon."""
        self._data.setdefault(number, {})[key] = value.as_dict()
        self._schedule_save()

    def forget(self, number: str) -> None:
        """Drop a subscriber's facts (device removed or consent revoked)."""
        if self._data.pop(number, None) is not None:
            self._schedule_save()

    def _schedule_save(self) -> None:
        self._dirty = True
        self._store.async_delay_save(lambda: self._data, SAVE_DELAY)

    async def async_flush(self) -> None:
        """Write pending changes now (on unload)."""
        if self._dirty:
            self._dirty = False
            await self._store.async_save(self._data)
