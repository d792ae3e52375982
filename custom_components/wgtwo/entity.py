"""Base entity of a subscriber's device: naming, unique id and update wiring."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .data import WgtwoConfigEntry
from .subscriber import Subscriber
from .tracker import SubscriberTracker, SubscriberUpdate, device_identifier


class WgtwoSubscriberEntity(Entity):
    """An entity of one subscriber number; refreshes when the tracker reports a change.

    Unique id: ``{entry_id}_{number}_{key}``; the device is the subscriber's.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(
        self, tracker: SubscriberTracker, subscriber: Subscriber, description: EntityDescription
    ) -> None:
        """Bind the entity to its subscriber."""
        self.entity_description = description
        self.tracker = tracker
        self.subscriber = subscriber
        entry_id = tracker.entry.entry_id
        self._attr_unique_id = f"{entry_id}_{subscriber.number}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={device_identifier(entry_id, subscriber.number)}
        )

    async def async_added_to_hass(self) -> None:
        """Listen for the subscriber's updates."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, self.tracker.update_signal(self.subscriber.number), self._handle_update
            )
        )

    @callback
    def _handle_update(self, update: SubscriberUpdate) -> None:
        """Write the new state."""
        self.async_write_ha_state()

    @callback
    def _restored(self, changed: bool) -> None:
        """Let the subscriber's other entities see a restored value."""
        if changed:
            self.tracker.async_notify(self.subscriber)


async def async_setup_subscriber_entities(
    hass: HomeAssistant,
    entry: WgtwoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    create: Callable[[SubscriberTracker, Subscriber], Iterable[Entity]],
) -> None:
    """Add a platform's entities for known subscribers now and for new ones when they appear."""
    tracker = entry.runtime_data.tracker
    await tracker.async_load()

    @callback
    def _add(subscriber: Subscriber) -> None:
        async_add_entities(create(tracker, subscriber))

    entry.async_on_unload(async_dispatcher_connect(hass, tracker.new_subscriber_signal, _add))
    for subscriber in list(tracker.subscribers.values()):
        _add(subscriber)
