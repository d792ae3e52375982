"""The entity each of a subscriber's bus events is listed with in Activity.

Activity filtered to a device asks for the events of the device's entities, so every
``wgtwo_event`` names one: the entity its capability declares for the type, or the fallback
while that one is disabled. Looked up in the entity registry once per subscriber and type,
and again after the registry changed (an entity added, removed, renamed, enabled or
disabled), not on every event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er

from .capabilities import BUS_EVENTS
from .capabilities.base import ATTR_SUBSCRIBER, ATTR_TYPE
from .const import DOMAIN

# A subscriber's number, the (platform, key) of the entity that shows a bus event type,
# then the one that lists it while that one is disabled.
type _Key = tuple[str, tuple[str, str] | None, tuple[str, str] | None]
_UNKNOWN: Final = ""  # not looked up yet (an entity id is never empty)


class ActivityEntities:
    """The entity ids bus events are listed with, for one config entry."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Know nothing yet; :meth:`async_listen` follows the registry."""
        self._hass = hass
        self._entry_id = entry_id
        self._ids: dict[_Key, str | None] = {}
        # The same by what a bus event's data holds (its type and subscriber): one look-up
        # per event, no key of its own built for it.
        self._by_event: dict[tuple[object, object], str | None] = {}

    @callback
    def async_listen(self) -> CALLBACK_TYPE:
        """Forget what was looked up whenever the entity registry changes; returns the remover."""
        return self._hass.bus.async_listen(
            er.EVENT_ENTITY_REGISTRY_UPDATED, self._async_registry_updated
        )

    def entity_for(self, data: Mapping[str, Any]) -> str | None:
        """Return the entity the logbook lists a bus event with (None: none of its types)."""
        event_key = (data.get(ATTR_TYPE), data.get(ATTR_SUBSCRIBER))
        try:
            return self._by_event[event_key]
        except KeyError:
            pass
        entity_id = None
        if (described := BUS_EVENTS.get(str(event_key[0]))) is not None:
            key = (str(event_key[1]), described.entity, described.fallback)
            if (entity_id := self._ids.get(key, _UNKNOWN)) is _UNKNOWN:
                entity_id = self._ids[key] = self._find(*key)
        self._by_event[event_key] = entity_id
        return entity_id

    def _find(self, number: str, *candidates: tuple[str, str] | None) -> str | None:
        """Look up the first enabled entity of the subscriber among ``candidates``."""
        registry = er.async_get(self._hass)
        prefix = f"{self._entry_id}_{number}_"
        for candidate in candidates:
            if candidate is None:
                continue
            platform, key = candidate
            entity_id = registry.async_get_entity_id(platform, DOMAIN, prefix + key)
            if entity_id is not None and (
                (entry := registry.async_get(entity_id)) is not None and not entry.disabled
            ):
                return entity_id
        return None

    @callback
    def _async_registry_updated(self, _event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        self._ids.clear()
        self._by_event.clear()
