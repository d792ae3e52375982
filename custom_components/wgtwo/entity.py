"""Base of a subscriber's entities: what a description declares, naming, update wiring."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .capabilities.base import SubscriberUpdate
from .const import device_identifier
from .coordinator import WgtwoCoordinator
from .runtime import WgtwoConfigEntry
from .subscriber import Aspect, Subscriber

NO_ASPECTS: Final = Aspect(0)


@dataclass(frozen=True, kw_only=True)
class WgtwoEntityDescription(EntityDescription):
    """What a subscriber entity shows: the aspects of the state, or the events it fires.

    ``aspects``: updates that change none of them are not written. ``fires``: the entity
    fires on the triggers of its own key (an event entity).
    """

    aspects: Aspect = NO_ASPECTS
    fires: bool = False


class WgtwoSubscriberEntity(Entity):
    """An entity of one subscriber number; redraws when an aspect it shows changed.

    Unique id: ``{entry_id}_{number}_{key}``; the device is the subscriber's.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: WgtwoEntityDescription

    def __init__(
        self,
        coordinator: WgtwoCoordinator,
        subscriber: Subscriber,
        description: WgtwoEntityDescription,
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
        """Listen for the subscriber's updates that concern this entity."""
        await super().async_added_to_hass()
        description = self.entity_description
        self.async_on_remove(
            self.coordinator.async_add_listener(
                self.subscriber.number,
                self._handle_update,
                description.aspects,
                description.key if description.fires else None,
            )
        )

    @callback
    def _handle_update(self, update: SubscriberUpdate) -> None:
        """Write the new state (the coordinator calls only when the update concerns it)."""
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
