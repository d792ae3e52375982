"""Base of a subscriber's entities: what a description declares, naming, update wiring."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .capabilities.base import SubscriberUpdate
from .const import device_identifier
from .coordinator import WgtwoCoordinator
from .runtime import WgtwoConfigEntry
from .subscriber import NO_ASPECTS, Aspect, Subscriber


@dataclass(frozen=True, kw_only=True)
class WgtwoEntityDescription(EntityDescription):
    """What a subscriber entity shows: the aspects of the state, or the events it fires.

    ``aspects``: updates that change none of them are not written. ``fires``: the entity
    fires on the triggers of its own key (an event entity).
    """

    aspects: Aspect = NO_ASPECTS
    fires: bool = False
    # The feature's scopes: the entity exists only for a subscriber whose consent grants
    # one of them (or whose consent is not known). Empty: for every subscriber.
    scopes: frozenset[str] = frozenset()


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
            self.coordinator.listeners.async_add_listener(
                self.subscriber.number,
                self._handle_update,
                description.aspects,
                description.key if description.fires else None,
            )
        )

    @callback
    def _handle_update(self, update: SubscriberUpdate) -> None:
        """Write the new state (called only when the update concerns it)."""
        self.async_write_ha_state()


def async_setup_subscriber_entities(
    entry: WgtwoConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    create: Callable[[WgtwoCoordinator, Subscriber], Iterable[Entity]],
) -> None:
    """Add a platform's entities for known subscribers now and for new ones when they appear.

    Only the entities of features the subscriber's consent grants are added; when its
    scopes change, the entities of a feature no longer granted are removed and those of a
    newly granted one added.
    """
    coordinator = entry.runtime_data.coordinator
    # Per number: the subscriber (a forgotten one that comes back is a new object) and the
    # keys of the entities added for it.
    added: dict[str, tuple[Subscriber, dict[str, Entity]]] = {}

    def _keys(subscriber: Subscriber) -> dict[str, Entity]:
        known = added.get(subscriber.number)
        if known is None or known[0] is not subscriber:
            known = added[subscriber.number] = (subscriber, {})
        return known[1]

    @callback
    def _add(subscriber: Subscriber) -> None:
        keys = _keys(subscriber)
        new = []
        for entity in create(coordinator, subscriber):
            key = entity.entity_description.key
            if key not in keys and _granted(subscriber, entity):
                keys[key] = entity
                new.append(entity)
        if new:
            async_add_entities(new)

    @callback
    def _scopes_changed(subscriber: Subscriber) -> None:
        keys = _keys(subscriber)
        registry = er.async_get(coordinator.hass)
        for entity in create(coordinator, subscriber):
            key = entity.entity_description.key
            if key in keys and not _granted(subscriber, entity):
                shown = keys.pop(key)
                if shown.entity_id is not None and registry.async_get(shown.entity_id):
                    registry.async_remove(shown.entity_id)
        _add(subscriber)

    entry.async_on_unload(coordinator.listeners.async_add_subscriber_listener(_add))
    entry.async_on_unload(coordinator.listeners.async_add_scope_listener(_scopes_changed))
    for subscriber in list(coordinator.subscribers.values()):
        _add(subscriber)


def _granted(subscriber: Subscriber, entity: Entity) -> bool:
    description = entity.entity_description
    scopes = description.scopes if isinstance(description, WgtwoEntityDescription) else frozenset()
    return subscriber.grants(scopes)
