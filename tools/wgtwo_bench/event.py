"""The reference's event entity: one event per call event, as wgtwo's call entity has."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType

from . import DATA, SUBSCRIBER_SLOTS

EVENT_TYPES: Final = [
    "initiated",
    "ringing",
    "answered",
    "ended",
    "missed",
    "forwarded_to_voicemail",
]


async def async_setup_platform(
    hass: HomeAssistant,
    config: ConfigType,
    async_add_entities: AddEntitiesCallback,
    discovery_info: DiscoveryInfoType | None = None,
) -> None:
    """Add a call event entity per subscriber and hand them to the reference."""
    entities = [ReferenceCallEvent(slot) for slot in range(SUBSCRIBER_SLOTS)]
    async_add_entities(entities)
    hass.data[DATA].reference.call_entities = entities


class ReferenceCallEvent(EventEntity):
    """Fires each call event of a subscriber with the call's fields as attributes.

    The fields that change with every event are left to the recorded bus event: the
    entity's history keeps the kind of each event.
    """

    _attr_should_poll = False
    _attr_event_types = EVENT_TYPES
    _unrecorded_attributes = frozenset({"call_id", "from_number", "to_number", "duration"})

    def __init__(self, slot: int) -> None:
        """Name it by its subscriber's slot."""
        self._attr_name = f"wgtwo bench reference call {slot}"
        self._attr_unique_id = f"wgtwo_bench_call_{slot}"

    @callback
    def show(self, event_type: str, payload: dict[str, Any]) -> None:
        """Trigger the event and write the state."""
        self._trigger_event(event_type, payload)
        self.async_write_ha_state()
