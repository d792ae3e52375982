"""Binary sensors: roaming and new voicemail per subscriber, connection status per entry."""

from __future__ import annotations

from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import MANUFACTURER, WgtwoCoordinator, service_identifier
from .data import WgtwoConfigEntry
from .entity import WgtwoSubscriberEntity, async_setup_subscriber_entities
from .subscriber import Aspect

PARALLEL_UPDATES = 0

ROAMING = BinarySensorEntityDescription(key="roaming", translation_key="roaming")
NEW_VOICEMAIL = BinarySensorEntityDescription(key="new_voicemail", translation_key="new_voicemail")
CONNECTED = BinarySensorEntityDescription(
    key="connected",
    translation_key="connected",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WgtwoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the connection sensor and every subscriber's binary sensors."""
    async_add_entities([WgtwoConnectedSensor(entry)])
    async_setup_subscriber_entities(
        entry,
        async_add_entities,
        lambda coordinator, sub: [
            WgtwoRoamingSensor(coordinator, sub, ROAMING),
            WgtwoVoicemailSensor(coordinator, sub, NEW_VOICEMAIL),
        ],
    )


class WgtwoRoamingSensor(WgtwoSubscriberEntity, BinarySensorEntity):
    """On while the subscriber is outside the home country.

    The home country comes from the options, else from the number's country calling code;
    without either the state is unknown.
    """

    aspects = Aspect.COUNTRY

    @property
    def is_on(self) -> bool | None:
        """Return whether the subscriber is roaming."""
        return self.subscriber.roaming

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the home and current country codes."""
        country = self.subscriber.country
        return {
            "home_country": self.subscriber.home_country,
            "country_code": country.code if country else None,
        }


class WgtwoVoicemailSensor(WgtwoSubscriberEntity, BinarySensorEntity):
    """On from a new voicemail until the user marks the voicemails heard."""

    aspects = Aspect.VOICEMAIL

    @property
    def is_on(self) -> bool:
        """Return whether there are unheard voicemails."""
        return bool(self.subscriber.voicemails)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the unheard count and the latest voicemail's caller and id."""
        latest = self.subscriber.latest_voicemail
        return {
            "unheard_count": len(self.subscriber.voicemails),
            "last_caller": latest.from_number if latest else None,
            "voicemail_id": latest.voicemail_id if latest else None,
        }


class WgtwoConnectedSensor(BinarySensorEntity):
    """Whether the event stream is connected (on the entry's service device)."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description = CONNECTED

    def __init__(self, entry: WgtwoConfigEntry) -> None:
        """Attach to the entry's service device."""
        self._coordinator: WgtwoCoordinator = entry.runtime_data.coordinator
        self._attr_unique_id = f"{entry.entry_id}_connected"
        self._attr_device_info = DeviceInfo(
            identifiers={service_identifier(entry.entry_id)},
            name=entry.title,
            manufacturer=MANUFACTURER,
            model="Events API",
            entry_type=DeviceEntryType.SERVICE,
        )

    async def async_added_to_hass(self) -> None:
        """Follow the stream state."""
        await super().async_added_to_hass()
        self.async_on_remove(self._coordinator.async_add_stream_listener(self._stream_changed))

    @callback
    def _stream_changed(self) -> None:
        self.async_write_ha_state()

    @property
    def is_on(self) -> bool:
        """Return whether the stream is up."""
        return self._coordinator.stream_up
