"""Base entity of a subscriber's device: naming, unique id and update wiring."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import SubscriberUpdate, WgtwoCoordinator, device_identifier
from .data import WgtwoConfigEntry
from .subscriber import Aspect, Subscriber


class WgtwoSubscriberEntity(Entity):
    """An entity of one subscriber number; redraws when an aspect it shows changed.

    Unique id: ``{entry_id}_{number}_{key}``; the device is the subscriber's.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False
    # What this entity shows; updates that change none of it are not written.
    aspects = Aspect(0)
    # The trigger key an event entity fires on (None: it fires on none).
    trigger_key: str | None = None

    def __init__(
        self, coordinator: WgtwoCoordinator, subscriber: Subscriber, description: EntityDescription
    ) -> None:
        """Bind the entity to its subscriber."""
        self.entity_description = description
        self.coordinator = coordinator
        self.subscriber = subscriber
        entry_id = coordinator.entry.entry_id
        self._attr_unique_id = f"{entry_id}_{subscriber.number}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={device_identifier(entry_id, subscriber.number)}
        )

    async def async_added_to_hass(self) -> None:
        """Listen for the subscriber's updates."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.coordinator.async_add_listener(
                self.subscriber.number, self._handle_update, self.aspects, self.trigger_key
            )
        )

    @callback
    def _handle_update(self, update: SubscriberUpdate) -> None:
        """Write the new state (the coordinator calls only when one of ``aspects`` changed)."""
        self.async_write_ha_state()


def async_setup_subscriber_entities(
    entry: WgtwoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    create: Callable[[WgtwoCoordinator, Subscriber], Iterable[Entity]],
) -> None:
    """Add a platform's entities for known subscribers now and for new ones when they appear."""
    coordinator = entry.runtime_data.coordinator

    @callback
    def _add(subscriber: Subscriber) -> None:
        async_add_entities(create(coordinator, subscriber))

    entry.async_on_unload(coordinator.async_add_subscriber_listener(_add))
    for subscriber in list(coordinator.subscribers.values()):
        _add(subscriber)
