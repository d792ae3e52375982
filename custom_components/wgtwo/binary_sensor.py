"""Binary sensors: roaming and new voicemail per subscriber, connection status per entry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .compat import BinarySensorDeviceClass
from .const import MANUFACTURER, SCOPES_COUNTRY, SCOPES_VOICEMAIL, service_identifier
from .coordinator import WgtwoCoordinator
from .entity import WgtwoEntityDescription, WgtwoSubscriberEntity, async_setup_subscriber_entities
from .runtime import WgtwoConfigEntry
from .subscriber import Aspect, Subscriber

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class WgtwoBinarySensorDescription(BinarySensorEntityDescription, WgtwoEntityDescription):
    """How a binary sensor reads the subscriber state."""

    is_on_fn: Callable[[Subscriber], bool | None]
    attrs_fn: Callable[[Subscriber], dict[str, Any]]


def _roaming_attrs(sub: Subscriber) -> dict[str, Any]:
    """Return the home and current country codes."""
    return {
        "home_country": sub.home_country,
        "country_code": sub.country.code if sub.country else None,
    }


def _voicemail_attrs(sub: Subscriber) -> dict[str, Any]:
    """Return the unheard count and the latest voicemail's caller and id."""
    latest = sub.latest_voicemail
    return {
        "unheard_count": len(sub.voicemails),
        "last_caller": latest.from_number if latest else None,
        "voicemail_id": latest.voicemail_id if latest else None,
    }


BINARY_SENSORS: tuple[WgtwoBinarySensorDescription, ...] = (
    # On while the subscriber is outside the home country (the options' home country, else
    # the number's country calling code; without either the state is unknown).
    WgtwoBinarySensorDescription(
        key="roaming",
        translation_key="roaming",
        scopes=SCOPES_COUNTRY,
        aspects=Aspect.COUNTRY,
        is_on_fn=lambda sub: sub.roaming,
        attrs_fn=_roaming_attrs,
    ),
    # On from a new voicemail until the user marks the voicemails heard.
    WgtwoBinarySensorDescription(
        key="new_voicemail",
        translation_key="new_voicemail",
        scopes=SCOPES_VOICEMAIL,
        aspects=Aspect.VOICEMAIL,
        is_on_fn=lambda sub: bool(sub.voicemails),
        attrs_fn=_voicemail_attrs,
    ),
)
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
            WgtwoBinarySensor(coordinator, sub, description) for description in BINARY_SENSORS
        ],
    )


class WgtwoBinarySensor(WgtwoSubscriberEntity, BinarySensorEntity):
    """A binary sensor showing part of the subscriber's state."""

    entity_description: WgtwoBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        """Return the state."""
        return self.entity_description.is_on_fn(self.subscriber)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the attributes."""
        return self.entity_description.attrs_fn(self.subscriber)


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
        self.async_on_remove(
            self._coordinator.listeners.async_add_stream_listener(self._stream_changed)
        )

    @callback
    def _stream_changed(self) -> None:
        self.async_write_ha_state()

    @property
    def is_on(self) -> bool:
        """Return whether the stream is up."""
        return self._coordinator.stream_up
