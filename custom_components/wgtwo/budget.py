"""The text budget: at most so many paid sends per subscriber in any rolling hour.

A looping automation, or one triggered by the texts it sends, would otherwise send without
end, and every text costs money. Each send handed to the operator is counted at the moment
it is handed over, whatever the answer: a text refused or failed may have cost money too,
and an automation that keeps failing must be stopped all the same. Past the limit a send is
refused before anything reaches the operator.

The times of the sends within the hour are kept in a small store of the entry's own, written
before each send goes out, so neither a restart nor a crash gives the budget back. Only the
times are kept, under the subscriber's key (the entry's keyed digest of its number): no
text, no number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import CONF_SMS_BUDGET, DEFAULT_SMS_BUDGET, DOMAIN

BUDGET_WINDOW: Final = timedelta(hours=1)
STORAGE_VERSION: Final = 1


def budget_limit(options: Mapping[str, Any]) -> int:
    """Return the entry's budget: texts per subscriber and hour (0: no limit)."""
    value = options.get(CONF_SMS_BUDGET, DEFAULT_SMS_BUDGET)
    return max(0, int(value)) if isinstance(value, int | float) else DEFAULT_SMS_BUDGET


def _key(entry_id: str) -> str:
    return f"{DOMAIN}.{entry_id}.budget"


class TextBudget:
    """The send times of an entry's subscribers within the last hour, by subscriber key."""

    def __init__(self, hass: HomeAssistant, entry_id: str, key_of: Callable[[str], str]) -> None:
        """Prepare the store; nothing is read until :meth:`async_load`.

        ``key_of`` gives the key that stands for a subscriber's number.
        """
        self._key_of = key_of
        self._store = Store[dict[str, Any]](hass, STORAGE_VERSION, _key(entry_id))
        self._sent: dict[str, list[datetime]] = {}

    async def async_load(self) -> None:
        """Read the stored send times (malformed entries are dropped)."""
        stored = await self._store.async_load()
        sent = stored.get("sent") if isinstance(stored, dict) else None
        if not isinstance(sent, dict):
            return
        for key, times in sent.items():
            parsed = sorted(
                when
                for value in (times if isinstance(times, list) else [])
                if isinstance(value, str)
                and (when := dt_util.parse_datetime(value)) is not None
                and when.tzinfo is not None
            )
            if parsed:
                self._sent[str(key)] = parsed

    def _recent(self, number: str, now: datetime) -> list[datetime]:
        """Return (and keep) only the send times of the last hour."""
        key = self._key_of(number)
        times = [when for when in self._sent.get(key, ()) if when > now - BUDGET_WINDOW]
        if times:
            self._sent[key] = times
        else:
            self._sent.pop(key, None)
        return times

    def free_at(self, number: str, limit: int, now: datetime) -> datetime | None:
        """Return when the subscriber may send again, or None when it may send now.

        ``limit`` 0 means no limit.
        """
        times = self._recent(number, now)
        if limit <= 0 or len(times) < limit:
            return None
        # Enough of the oldest sends must leave the hour to make room for one more.
        return times[len(times) - limit] + BUDGET_WINDOW

    def spend(self, number: str, limit: int, now: datetime) -> datetime | None:
        """Count one send now, unless the budget is spent: then return when it is free.

        Check and count happen at once (no await in between), so sends that race cannot
        both take the last text of the budget.
        """
        if (free := self.free_at(number, limit, now)) is not None:
            return free
        self._sent.setdefault(self._key_of(number), []).append(now)
        return None

    async def async_save(self) -> None:
        """Write the send times now (before the send they count goes out)."""
        await self._store.async_save(
            {
                "sent": {
                    key: [when.isoformat() for when in times] for key, times in self._sent.items()
                }
            }
        )

    @staticmethod
    async def async_remove(hass: HomeAssistant, entry_id: str) -> None:
        """Delete an entry's send times (when the entry is removed)."""
        await Store[dict[str, Any]](hass, STORAGE_VERSION, _key(entry_id)).async_remove()
