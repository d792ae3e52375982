"""The entry's stored subscriber snapshots: one store per entry, saved a little later.

Version 1 of this store kept only handset and serving nodes per number (the facts no
entity could restore); version 2 keeps the whole snapshot of each subscriber, and the
entry's secret for the keys that stand for numbers in ids (``id_secret``, see
:mod:`.ids`), made and written at once the first time the store is loaded without one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN
from .ids import SECRET_BYTES, new_secret

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
        self._secret: bytes | None = None

    @property
    def secret(self) -> bytes:
        """The entry's secret for the keys of numbers in ids (once loaded)."""
        assert self._secret is not None, "the store is not loaded"
        return self._secret

    async def async_load(self) -> Snapshots:
        """Return the stored snapshots per number (empty when none or unreadable).

        The secret is read too; without one (a new entry, or one of an older version) a
        new one is made and written at once: ids made from it are handed out from now on.
        """
        stored = await self._store.async_load()
        data = stored if isinstance(stored, dict) else {}
        subscribers = data.get("subscribers")
        snapshots: Snapshots = (
            {k: v for k, v in subscribers.items() if isinstance(v, dict)}
            if isinstance(subscribers, dict)
            else {}
        )
        self._secret = _secret(data.get("id_secret"))
        if self._secret is None:
            self._secret = new_secret()
            await self._store.async_save(self._data(snapshots))
        return snapshots

    def _data(self, snapshots: Snapshots) -> dict[str, Any]:
        return {"id_secret": self.secret.hex(), "subscribers": snapshots}

    def schedule_save(self, data: Callable[[], Snapshots]) -> None:
        """Save soon (changes within the delay are written together)."""
        self._dirty = True
        self._store.async_delay_save(lambda: self._data(data()), self._save_delay)

    async def async_flush(self, data: Callable[[], Snapshots]) -> None:
        """Write pending changes now (on unload, or before an event is acknowledged)."""
        if self._dirty:
            self._dirty = False
            await self._store.async_save(self._data(data()))

    @staticmethod
    async def async_remove(hass: HomeAssistant, entry_id: str) -> None:
        """Delete an entry's snapshots (when the entry is removed)."""
        await Store[dict[str, Any]](hass, STORAGE_VERSION, _key(entry_id)).async_remove()


def _secret(value: Any) -> bytes | None:
    """Read a stored secret; None when it is missing or malformed."""
    if not isinstance(value, str):
        return None
    try:
        secret = bytes.fromhex(value)
    except ValueError:
        return None
    return secret if len(secret) == SECRET_BYTES else None
