"""The reference's event entity: one event per call event, as wgtwo's call entity has."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType

from . import DATA

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
    """Add the event entity and hand it to the reference."""
    entity = ReferenceCallEvent()
    async_add_entities([entity])
    hass.data[DATA].reference.call_entity = entity


class ReferenceCallEvent(EventEntity):
    """Fires each call event with the bus event's fields as attributes.

    The fields that change with every event are left to the recorded bus event: the
    entity's history keeps the kind of each event.
    """

    _attr_should_poll = False
    _attr_name = "wgtwo bench reference call"
    _attr_unique_id = "wgtwo_bench_call"
    _attr_event_types = EVENT_TYPES
    _unrecorded_attributes = frozenset(
        {"timestamp", "sequence", "call_id", "from_number", "to_number", "duration"}
    )

    @callback
    def show(self, event_type: str, payload: dict[str, Any]) -> None:
        """Trigger the event and write the state."""
        self._trigger_event(event_type, payload)
        self.async_write_ha_state()
