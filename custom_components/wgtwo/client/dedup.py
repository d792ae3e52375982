"""Bounded memory of handled events, so redeliveries are acked but not handled twice."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class BoundedLRU[V]:
    """A mapping of at most ``capacity`` entries that forgets the least recently set one.

    Setting a key refreshes it; reading does not (a redelivery must not keep an old entry
    alive).
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._items: OrderedDict[Hashable, V] = OrderedDict()

    def __contains__(self, key: Hashable) -> bool:
        """Whether ``key`` is remembered (does not refresh it)."""
        return key in self._items

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._items)

    def get(self, key: Hashable, default: V) -> V:
        """Return the value of ``key``, or ``default`` (does not refresh it)."""
        return self._items.get(key, default)

    def set(self, key: Hashable, value: V) -> None:
        """Remember ``key`` as the most recent entry, forgetting the oldest when full."""
        items = self._items
        items[key] = value
        items.move_to_end(key)
        if len(items) > self._capacity:
            items.popitem(last=False)

    def discard(self, key: Hashable) -> None:
        """Forget ``key`` if it is remembered."""
        self._items.pop(key, None)


class RecentKeys(BoundedLRU[None]):
    """An LRU set of at most ``capacity`` keys."""

    def add(self, key: Hashable) -> None:
        """Remember ``key``, forgetting the oldest key when full."""
        # set() written out: this runs for every event.
        items = self._items
        if key in items:
            items.move_to_end(key)
            return
        items[key] = None
        if len(items) > self._capacity:
            items.popitem(last=False)


class FailureCounts(BoundedLRU[int]):
    """Handler failures per event, bounded like :class:`RecentKeys`."""

    def increment(self, key: Hashable) -> int:
        """Count one more failure for ``key`` and return the total."""
        count = self.get(key, 0) + 1
        self.set(key, count)
        return count

    def clear(self, key: Hashable) -> None:
        """Forget ``key`` (handled or given up)."""
        if self._items:  # almost always empty: no failures
            self._items.pop(key, None)
