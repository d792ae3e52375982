"""The entry's stored subscriber snapshots, in shards, each saved a little after it changed.

Version 1 of this store kept only handset and serving nodes per number (the facts no
entity could restore); version 2 kept the whole snapshot of each subscriber in the one
file, rewritten whole on every save, however few subscribers had changed. Version 3 keeps
only the entry's secret for the keys that stand for numbers in ids (``id_secret``, see
:mod:`.ids`; made and written at once the first time the store is loaded without one) in
the entry's store, and the snapshots in :data:`SHARDS` stores beside it
(``wgtwo.<entry>.facts.<n>``), each holding the subscribers whose number falls into it:
a save writes only the shards of the subscribers that changed. The snapshots of an older
version are moved into the shards when the store is loaded (the secret kept).
"""

from __future__ import annotations

import asyncio
import functools
import zlib
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN
from .ids import SECRET_BYTES, new_secret

STORAGE_VERSION: Final = 3
SHARD_VERSION: Final = 1
# A thousand subscribers make about sixty per shard: one save writes a sixteenth of them.
SHARDS: Final = 16

type Snapshots = dict[str, dict[str, Any]]


class Snapshotting(Protocol):
    """What a stored subscriber offers: its lasting facts as JSON types."""

    def snapshot(self) -> dict[str, Any]:
        """Return the lasting facts."""


def _key(entry_id: str) -> str:
    return f"{DOMAIN}.{entry_id}.facts"


def shard_key(entry_id: str, shard: int) -> str:
    """Return the store key of one shard of an entry's snapshots."""
    return f"{_key(entry_id)}.{shard}"


@functools.lru_cache(maxsize=4096)
@functools.lru_cache(maxsize=4096)
def shard_of(number: str) -> int:
    """Return the shard a number's snapshot is kept in (the same in every run).

    Remembered per number: a save is asked for on nearly every event.
    """
    return zlib.crc32(number.encode()) % SHARDS


class _SnapshotStore(Store[dict[str, Any]]):
    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: dict[str, Any]
    ) -> dict[str, Any]:
        """Version 1 was {number: {handset, location}}; version 2 held every snapshot.

        Both come back with their snapshots under ``subscribers``, which loading moves into
        the shards.
        """
        if old_major_version == 1:
            return {"subscribers": {k: v for k, v in old_data.items() if isinstance(v, dict)}}
        if old_major_version == 2:
            return old_data
        raise NotImplementedError


class SnapshotStore:
    """Load the snapshots once; save the shards of the subscribers that changed, debounced."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        save_delay: float,
        subscribers: Callable[[], Mapping[str, Snapshotting]],
    ) -> None:
        """Prepare the stores; nothing is read until :meth:`async_load`.

        ``subscribers`` returns the subscribers to store, by number, when a shard is written.
        """
        self._store = _SnapshotStore(hass, STORAGE_VERSION, _key(entry_id))
        self._shards = [
            Store[dict[str, Any]](hass, SHARD_VERSION, shard_key(entry_id, shard))
            for shard in range(SHARDS)
        ]
        self._subscribers = subscribers
        self._save_delay = save_delay
        self._dirty: set[int] = set()
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
        Snapshots of an older version are written into the shards, then dropped from the
        entry's store.
        """
        stored = await self._store.async_load()
        data = stored if isinstance(stored, dict) else {}
        older = _snapshots(data.get("subscribers"))
        snapshots: Snapshots = {}
        for shard in await asyncio.gather(*(store.async_load() for store in self._shards)):
            snapshots.update(_snapshots(shard.get("subscribers") if shard else None))
        self._secret = _secret(data.get("id_secret"))
        if self._secret is None:
            self._secret = new_secret()
        elif "subscribers" not in data:
            return snapshots
        if older:
            snapshots |= older
            shards = {shard_of(number) for number in older}
            await asyncio.gather(
                *(
                    self._shards[shard].async_save(_shard_data(snapshots, shard))
                    for shard in sorted(shards)
                )
            )
        await self._store.async_save({"id_secret": self.secret.hex()})
        return snapshots

    def schedule_save(self, number: str) -> None:
        """Save a subscriber's snapshot soon.

        A shard is written the delay after its first unsaved change, with every change
        made meanwhile: a steady stream of events neither puts the write off nor re-arms
        its timer on each event.
        """
        if (shard := shard_of(number)) in self._dirty:
            return  # on nearly every event: a write is due already
        self._dirty.add(shard)
        self._shards[shard].async_delay_save(
            functools.partial(self._delayed_data, shard), self._save_delay
        )

    def _delayed_data(self, shard: int) -> dict[str, Any]:
        """Return a shard's data for its delayed write (nothing of it is pending then)."""
        self._dirty.discard(shard)
        return self._data(shard)

    def _data(self, shard: int) -> dict[str, Any]:
        return {
            "subscribers": {
                number: subscriber.snapshot()
                for number, subscriber in self._subscribers().items()
                if shard_of(number) == shard
            }
        }

    async def async_flush(self) -> None:
        """Write pending changes now (on unload, or before an event is acknowledged)."""
        dirty, self._dirty = sorted(self._dirty), set()
        await asyncio.gather(
            *(self._shards[shard].async_save(self._data(shard)) for shard in dirty)
        )

    @staticmethod
    async def async_remove(hass: HomeAssistant, entry_id: str) -> None:
        """Delete an entry's snapshots and secret (when the entry is removed)."""
        keys = [_key(entry_id), *(shard_key(entry_id, shard) for shard in range(SHARDS))]
        for key in keys:
            await Store[dict[str, Any]](hass, STORAGE_VERSION, key).async_remove()


def _snapshots(value: Any) -> Snapshots:
    """Read stored snapshots per number; what is not a snapshot is left out."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, dict)}


def _shard_data(snapshots: Snapshots, shard: int) -> dict[str, Any]:
    return {"subscribers": {n: s for n, s in snapshots.items() if shard_of(n) == shard}}


def _secret(value: Any) -> bytes | None:
    """Read a stored secret; None when it is missing or malformed."""
    if not isinstance(value, str):
        return None
    try:
        secret = bytes.fromhex(value)
    except ValueError:
        return None
    return secret if len(secret) == SECRET_BYTES else None
