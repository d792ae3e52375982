"""The reference's entities: plain sensors showing the latest event they were given."""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import SensorEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType

from . import DATA, SENSORS_PER_SLOT, SUBSCRIBER_SLOTS


async def async_setup_platform(
    hass: HomeAssistant,
    config: ConfigType,
    async_add_entities: AddEntitiesCallback,
    discovery_info: DiscoveryInfoType | None = None,
) -> None:
    """Add the reference's entities and hand them to it."""
    entities = [ReferenceSensor(index) for index in range(SUBSCRIBER_SLOTS * SENSORS_PER_SLOT)]
    async_add_entities(entities)
    hass.data[DATA].reference.entities = entities


class ReferenceSensor(SensorEntity):
    """Shows the sequence number of its latest event, with the call's party as attributes.

    The attributes have the size of wgtwo's last caller sensor's (a number, a name, a call id
    and a time); the call id and time change with every event and are not recorded, the
    subscriber's number and name are few, so their recorded attributes are shared.
    """

    _attr_should_poll = False
    _unrecorded_attributes = frozenset({"call_id", "time"})

    def __init__(self, index: int) -> None:
        """Name it by index."""
        self._attr_name = f"wgtwo bench reference {index}"
        self._attr_unique_id = f"wgtwo_bench_{index}"

    @callback
    def show(self, payload: dict[str, Any]) -> None:
        """Write the event as the new state."""
        self._attr_native_value = payload["sequence"]
        self._attr_extra_state_attributes = {
            "subscriber": payload["subscriber"],
            "name": payload["to_name"],
            "call_id": payload["call_id"],
            "time": payload["timestamp"],
        }
        self.async_write_ha_state()
