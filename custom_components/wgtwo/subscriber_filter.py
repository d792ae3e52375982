"""The entry's subscriber filter (an option): the numbers that get a device, and what it dropped.

By default every subscriber gets a device. With the option set, only the chosen numbers do:
the events of one left out are counted and dropped before any capability sees them (the hub
still acknowledges them), no device is created for one, and a device of one left out when
the option changed is removed as the entry is set up again (see :mod:`.coordinator`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class SubscriberFilter:
    """Which subscriber numbers an entry follows; counts the events of the others."""

    __slots__ = ("_chosen", "events_dropped")

    def __init__(self, chosen: Iterable[str] | None) -> None:
        """Follow the ``chosen`` numbers (the option's value); None follows every number."""
        self._chosen = None if chosen is None else frozenset(chosen)
        # Events of subscribers the filter leaves out, dropped (for diagnostics).
        self.events_dropped = 0

    def follows(self, number: str) -> bool:
        """Whether this number gets a device (all do by default)."""
        return self._chosen is None or number in self._chosen

    def drops(self, number: str) -> bool:
        """Whether an event of this number is dropped (left out); counts those that are."""
        if self._chosen is None or number in self._chosen:
            return False
        self.events_dropped += 1
        return True

    def diagnostics(self) -> dict[str, Any]:
        """Return the filter and what it dropped, as counts (never the numbers)."""
        return {
            "all": self._chosen is None,
            "chosen": None if self._chosen is None else len(self._chosen),
            "events_dropped": self.events_dropped,
        }
