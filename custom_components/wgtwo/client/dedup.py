"""Bounded memory of handled events, so redeliveries are acked but not handled twice."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class RecentKeys:
    """An LRU set of at most ``capacity`` keys."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def __contains__(self, key: Hashable) -> bool:
        """Whether ``key`` was added recently (does not refresh it)."""
        return key in self._keys

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._keys)

    def add(self, key: Hashable) -> None:
        """Remember ``key``, forgetting the oldest key when full."""
        keys = self._keys
        if key in keys:
            keys.move_to_end(key)
            return
        keys[key] = None
        if len(keys) > self._capacity:
            keys.popitem(last=False)


class FailureCounts:
    """Handler failures per event, bounded like :class:`RecentKeys`."""

    def __init__(self, capacity: int) -> None:
        self._capacity = max(1, capacity)
        self._counts: OrderedDict[Hashable, int] = OrderedDict()

    def increment(self, key: Hashable) -> int:
        """Count one more failure for ``key`` and return the total."""
        count = self._counts.pop(key, 0) + 1
        self._counts[key] = count
        if len(self._counts) > self._capacity:
            self._counts.popitem(last=False)
        return count

    def clear(self, key: Hashable) -> None:
        """Forget ``key`` (handled or given up)."""
        self._counts.pop(key, None)
