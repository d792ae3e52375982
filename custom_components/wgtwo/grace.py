"""How long a lost event stream still counts as up: the grace period, across reloads.

A loss shorter than the grace period is not shown. Stopping for an unload is not a loss: a
stream that was up hands over to the entry's next hub (a reload), which starts counted up
and shows a loss only if it does not connect within the grace period, counted from the stop.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN

# Entry id -> when (the event loop's clock) an up stream was stopped for an unload.
_HANDOVER: Final[HassKey[dict[str, float]]] = HassKey(f"{DOMAIN}_stream_handover")


class Grace:
    """One entry's grace timer; ``on_over`` runs when a loss outlasted it."""

    def __init__(
        self, hass: HomeAssistant, entry_id: str, grace: float, on_over: Callable[[], None]
    ) -> None:
        """Take over what the entry's previous hub handed over, if it stopped moments ago."""
        self._hass = hass
        self._entry_id = entry_id
        self._grace = grace
        self._on_over = on_over
        self._timer: CALLBACK_TYPE | None = None
        self._left: float | None = None
        stopped_at = hass.data.get(_HANDOVER, {}).pop(entry_id, None)
        if stopped_at is not None:
            left = grace - (hass.loop.time() - stopped_at)
            if left > 0:
                self._left = left

    @property
    def handed_over(self) -> bool:
        """Whether the previous hub's up stream counts until the rest of its grace is over."""
        return self._left is not None

    def start(self) -> None:
        """Count a loss from now (or what is left of a handed-over one); over at once if 0."""
        if self._timer is not None:
            return
        grace, self._left = (self._grace if self._left is None else self._left), None
        if grace <= 0:
            self._on_over()
        else:
            self._timer = async_call_later(self._hass, grace, self._over)

    def cancel(self) -> None:
        """Stop counting: the stream connected, or stopped (no loss to show)."""
        if self._timer is not None:
            self._timer()
            self._timer = None

    def hand_over(self) -> None:
        """Let the next hub count the stream up: it was up when stopped for an unload."""
        self._hass.data.setdefault(_HANDOVER, {})[self._entry_id] = self._hass.loop.time()

    @callback
    def _over(self, _now: datetime) -> None:
        self._timer = None
        self._on_over()
