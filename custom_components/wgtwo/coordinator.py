"""The one owner of an entry's subscribers: their state, their devices, their listeners.

The hub hands every received event to :meth:`WgtwoCoordinator.handle_event`, which
passes it to the capability that handles its type (see :mod:`.capabilities`). Each
subscriber number gets one device, created on its first event and found again in the
device registry after a restart. The coordinator stores the subscribers' lasting facts and
tells the entities of a subscriber what changed (see :mod:`.listeners`). Duplicates never
reach it: the client drops redelivered events. A subscriber the entry's subscriber filter
leaves out (see :mod:`.subscriber_filter`) gets no device, and its events are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .activity import ActivityEntities
from .api import OperatorApi
from .capabilities import Capabilities
from .capabilities.base import ATTR_ENTITY_ID, Capability, SubscriberUpdate
from .client import WgtwoEvent
from .const import (
    CONF_HOME_COUNTRY,
    CONF_PHONEBOOK,
    CONF_SHARE_SMS_TEXT,
    CONF_SUBSCRIBER_FILTER,
    DOMAIN,
    EVENT_WGTWO,
    MANUFACTURER,
    device_identifier,
    service_identifier,
)
from .hub import UP_STATES, StreamState, WgtwoHub
from .ids import NumberKeys
from .listeners import Listeners
from .phonebook import Phonebook
from .settings import WgtwoSettings
from .storage import SnapshotStore
from .subscriber import STORED_ASPECTS, Aspect, Subscriber
from .subscriber_filter import SubscriberFilter

_LOGGER = logging.getLogger(__name__)
# Aspects kept in the snapshots, as a plain int (tested on every event).
_STORED_MASK: Final = int(STORED_ASPECTS)
_LAST_EVENT: Final = int(Aspect.LAST_EVENT)


class WgtwoCoordinator:
    """The subscribers of one config entry, and the capabilities that act on them."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        api: OperatorApi,
        settings: WgtwoSettings,
        hub: WgtwoHub,
    ) -> None:
        """Prepare; nothing is read or registered until :meth:`async_setup`."""
        self.hass = hass
        self.entry = entry
        self.api = api
        self.settings = settings
        self.hub = hub
        self.subscribers: dict[str, Subscriber] = {}
        self.phonebook = Phonebook(entry.options.get(CONF_PHONEBOOK) or {})
        self.share_sms_text = bool(entry.options.get(CONF_SHARE_SMS_TEXT, False))
        self._home_country: str | None = entry.options.get(CONF_HOME_COUNTRY)
        self.subscriber_filter = SubscriberFilter(entry.options.get(CONF_SUBSCRIBER_FILTER))
        self._store = SnapshotStore(
            hass, entry.entry_id, settings.save_delay, lambda: self.subscribers
        )
        self.listeners = Listeners()
        self._save_before_ack = False
        self.number_key = NumberKeys(lambda: self._store.secret)
        self._activity = ActivityEntities(hass, entry.entry_id)
        self.capabilities = Capabilities(self)
        self._handlers: dict[type[WgtwoEvent], Capability] = {
            event_class: capability
            for capability in self.capabilities.all
            for event_class in capability.events
        }

    # -- lifecycle ---------------------------------------------------------------------

    async def async_setup(self) -> None:
        """Find the subscribers of the entry's devices, with their stored snapshots."""
        snapshots = await self._store.async_load()
        registry = dr.async_get(self.hass)
        prefix = f"{self.entry.entry_id}_"
        left_out: list[tuple[str, str]] = []
        for device in dr.async_entries_for_config_entry(registry, self.entry.entry_id):
            for domain, identifier in device.identifiers:
                if domain != DOMAIN or not identifier.startswith(prefix):
                    continue
                number = identifier.removeprefix(prefix)
                if not self.subscriber_filter.follows(number):
                    left_out.append((number, device.id))
                    continue
                name = self.phonebook.name_for(number) or number
                if device.name != name:
                    registry.async_update_device(device.id, name=name)
                subscriber = self._new_subscriber(number, device.id, name)
                if (snapshot := snapshots.get(number)) is not None:
                    subscriber.restore(snapshot)
                self.subscribers[number] = subscriber
        for number, device_id in left_out:
            # The subscriber filter changed: the device goes, and with it what is stored.
            registry.async_remove_device(device_id)
            self.forget(number)
        if left_out:
            _LOGGER.info(
                "Removed %d subscriber device(s) the subscriber filter leaves out", len(left_out)
            )
        self.entry.async_on_unload(self._async_unload)
        self.entry.async_on_unload(self._activity.async_listen())
        for capability in self.capabilities.all:
            await capability.async_setup()

    @callback
    def async_start(self) -> None:
        """Resume what the snapshots kept pending (the platforms are set up)."""
        for capability in self.capabilities.all:
            capability.started()

    async def _async_unload(self) -> None:
        for capability in self.capabilities.all:
            capability.unload()
        await self.async_save_now()
        await self.api.close()

    # -- what changed: scopes, stream, store, bus -------------------------------------

    def set_scopes(self, subscriber: Subscriber, scopes: frozenset[str] | None) -> None:
        """Take the scopes a subscriber's consent grants; entities follow them."""
        if subscriber.scopes == scopes:
            return
        subscriber.scopes = scopes
        self.save(subscriber.number)
        self.listeners.scopes_changed(subscriber)

    @property
    def stream_up(self) -> bool:
        """Whether the stream counts as up (a loss within the grace period does not count)."""
        return self.hub.state in UP_STATES

    @property
    def stream_live(self) -> bool:
        """Whether live state (the call state) holds: the stream is not down for long."""
        return self.hub.state not in (StreamState.DOWN, StreamState.STOPPED)

    @callback
    def async_stream_changed(self, state: StreamState) -> None:
        """Follow the hub: catch up once connected, redraw what depends on the stream."""
        if state is StreamState.CONNECTED:
            for capability in self.capabilities.all:
                capability.stream_connected()
        self.listeners.stream_changed()
        update = SubscriberUpdate(Aspect.CONNECTION)
        for subscriber in self.subscribers.values():
            self.notify(subscriber, update)

    def notify(
        self, subscriber: Subscriber, update: SubscriberUpdate, *, newest: bool = False
    ) -> None:
        """Tell the subscriber's entities what changed; store what lasts.

        ``newest``: from the subscriber's newest event so far (its last event time moved).
        """
        changed = int(update.aspects)
        if newest:
            changed |= _LAST_EVENT
        self.listeners.notify(subscriber.number, update, changed)
        if changed & _STORED_MASK:
            self.save(subscriber.number)

    def save(self, number: str, *, before_ack: bool = False) -> None:
        """Store a subscriber's snapshot soon; before the event being handled is acked if asked."""
        self._store.schedule_save(number)
        self._save_before_ack = self._save_before_ack or before_ack

    async def async_save_now(self) -> None:
        """Write the changes a save was asked for now, rather than after the delay."""
        await self._store.async_flush()

    def fire(self, data: dict[str, Any], event_type: str = EVENT_WGTWO) -> None:
        """Fire one ``wgtwo_event`` (or another of the integration's bus events).

        A ``wgtwo_event`` names the subscriber's entity the logbook lists it with, so
        Activity filtered to the subscriber's device (which asks for its entities' events)
        shows it too.
        """
        if event_type == EVENT_WGTWO:
            data[ATTR_ENTITY_ID] = self._activity.entity_for(data)
        self.hass.bus.async_fire(event_type, data)

    # -- events ------------------------------------------------------------------------

    def handle_event(self, event: WgtwoEvent) -> Awaitable[None] | None:
        """Handle one received event (the hub's handler).

        Returns the save to await before the event is acknowledged when what it changed
        must survive a crash; ``None`` (most events) when it is done.
        """
        number = event.subscriber
        capability = self._handlers.get(type(event))
        if capability is None:
            _LOGGER.debug("Ignoring event kind %s", event.kind)
            return None
        if not number:
            capability.handle_unowned(event)
            return None
        if self.subscriber_filter.drops(number):
            # Left out by the subscriber filter: acknowledged (by the hub) and dropped.
            _LOGGER.debug("Dropping event %s (%s): filtered out", event.sequence, event.kind)
            return None
        _LOGGER.debug("Handling event %s (%s)", event.sequence, event.kind)
        capability.handle(number, event)
        if self._save_before_ack:
            # What must survive a crash is on disk before the event is acknowledged.
            self._save_before_ack = False
            return self.async_save_now()
        return None

    def caller_name(self, number: str, recipient: str | None) -> str | None:
        """Name a caller from the phonebook, unless the call is for another product's line."""
        if recipient is not None and recipient not in self.subscribers:
            return None
        return self.phonebook.name_for(number)

    # -- subscribers and devices -----------------------------------------------------

    def subscriber_for_device(self, device_id: str) -> Subscriber | None:
        """Return the subscriber whose device this is."""
        for subscriber in self.subscribers.values():
            if subscriber.device_id == device_id:
                return subscriber
        return None

    def _new_subscriber(self, number: str, device_id: str, name: str) -> Subscriber:
        return Subscriber(number, device_id, name, self._home_country)

    def subscriber(self, number: str, scopes: frozenset[str] | None = None) -> Subscriber | None:
        """Return the subscriber of a number, creating its device on its first event.

        ``scopes``: what its consent grants, when known (a new device gets only the
        entities of granted features; a known subscriber's entities follow). None for a
        number the subscriber filter leaves out: it gets no device.
        """
        if (subscriber := self.subscribers.get(number)) is not None:
            if scopes is not None:
                self.set_scopes(subscriber, scopes)
            return subscriber
        if not self.subscriber_filter.follows(number):
            return None
        name = self.phonebook.name_for(number) or number
        device = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={device_identifier(self.entry.entry_id, number)},
            name=name,
            manufacturer=MANUFACTURER,
            model="Mobile subscription",
        )
        subscriber = self._new_subscriber(number, device.id, name)
        subscriber.scopes = scopes
        self.subscribers[number] = subscriber
        _LOGGER.debug("New subscriber device (%d in total)", len(self.subscribers))
        for capability in self.capabilities.all:
            capability.subscriber_added(subscriber)
        self.listeners.subscriber_added(subscriber)
        return subscriber

    def moved(self, subscriber: Subscriber) -> None:
        """Tell every capability that a subscriber's phone moved (country or serving node)."""
        for capability in self.capabilities.all:
            capability.subscriber_moved(subscriber)

    def forget(self, number: str) -> None:
        """Drop a subscriber and what its capabilities have pending for it."""
        self.subscribers.pop(number, None)
        for capability in self.capabilities.all:
            capability.forget(number)
        self.save(number)

    @callback
    def async_forget_device(self, device: dr.DeviceEntry) -> bool:
        """Forget a subscriber whose device the user removes; False for the service device.

        The device comes back with the subscriber's next event.
        """
        if service_identifier(self.entry.entry_id) in device.identifiers:
            return False
        if (subscriber := self.subscriber_for_device(device.id)) is not None:
            self.forget(subscriber.number)
        return True
