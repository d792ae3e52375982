"""The reference's entities: plain sensors showing the latest event they were given."""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import SensorEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType

from . import DATA, ENTITY_COUNT


async def async_setup_platform(
    hass: HomeAssistant,
    config: ConfigType,
    async_add_entities: AddEntitiesCallback,
    discovery_info: DiscoveryInfoType | None = None,
) -> None:
    """Add the reference's entities and hand them to it."""
    entities = [ReferenceSensor(index) for index in range(ENTITY_COUNT)]
    async_add_entities(entities)
    hass.data[DATA].reference.entities = entities


class ReferenceSensor(SensorEntity):
    """Shows the sequence number of its latest event, with the event's fields as attributes."""

    _attr_should_poll = False

    def __init__(self, index: int) -> None:
        """Name it by index."""
        self._attr_name = f"wgtwo bench reference {index}"
        self._attr_unique_id = f"wgtwo_bench_{index}"

    @callback
    def show(self, payload: dict[str, Any]) -> None:
        """Write the event as the new state."""
        self._attr_native_value = payload["sequence"]
        self._attr_extra_state_attributes = payload
        self.async_write_ha_state()
