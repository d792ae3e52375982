"""What every capability is made of, and what it may use of the coordinator (its room).

A capability owns one concern: the event types it handles, the change each makes to a
subscriber's state, the ``wgtwo_event`` payload it fires, the event-entity trigger, the
logbook sentence of each bus event type and the actions on it. The coordinator owns the
subscribers and hands each event to the capability that declared its type.

Every bus event carries ``type``, ``subscriber`` (E.164), ``device_id``, ``entity_id`` (the
subscriber's entity the logbook lists it with, see ``BusEvent``), ``timestamp`` (ISO 8601,
UTC, from the network) and ``sequence`` (the stream's sequence number), then the
capability's payload fields. Numbers of callers that hid their number are never included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Final, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Context, HomeAssistant

from ..access import async_check_owner
from ..api import OperatorApi
from ..client import WgtwoEvent
from ..phonebook import Phonebook
from ..settings import WgtwoSettings
from ..subscriber import ALL_ASPECTS, NO_ASPECTS, Aspect, Subscriber

_LOGGER = logging.getLogger(__name__)

ATTR_TYPE: Final = "type"
ATTR_SUBSCRIBER: Final = "subscriber"
ATTR_DEVICE_ID: Final = "device_id"
ATTR_ENTITY_ID: Final = "entity_id"
ATTR_TIMESTAMP: Final = "timestamp"
ATTR_SEQUENCE: Final = "sequence"

# The entity the logbook lists a serving node or handset change with while the sensor that
# shows it is disabled (as it is by default).
ROAMING_COUNTRY_ENTITY: Final = ("sensor", "roaming_country")

# A logbook sentence: the key of its ``common`` string and the placeholders. A None
# placeholder stands for "an unknown number" (translated when the sentence is rendered).
type Sentence = tuple[str, dict[str, str | None]]


@dataclass(frozen=True, slots=True)
class EntityTrigger:
    """An event for one of the subscriber's event entities."""

    key: str
    event_type: str
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SubscriberUpdate:
    """What changed for a subscriber: the aspects to redraw and the events to fire."""

    aspects: Aspect = ALL_ASPECTS
    triggers: tuple[EntityTrigger, ...] = field(default=())


NO_CHANGE: Final = SubscriberUpdate(NO_ASPECTS)


@dataclass(frozen=True, slots=True, kw_only=True)
class BusEvent:
    """A ``wgtwo_event`` type: its logbook sentence and the entity that shows it.

    ``entity`` is the (platform, entity key) the logbook entry links to, if any, while it is
    enabled. The bus event's ``entity_id`` names it, else ``fallback`` (an entity enabled by
    default): Activity filtered to a device asks for the events of the device's entities,
    by the ``entity_id`` in their data. ``icon`` is the entry's own icon, for a sentence
    whose entity may be disabled (the logbook shows no icon without one).
    """

    sentence: Callable[[Mapping[str, Any]], Sentence]
    entity: tuple[str, str] | None = None
    fallback: tuple[str, str] | None = None
    icon: str | None = None


class Room(Protocol):
    """What a capability may use of the coordinator of its entry."""

    hass: HomeAssistant
    entry: ConfigEntry[Any]
    api: OperatorApi
    settings: WgtwoSettings
    phonebook: Phonebook
    subscribers: dict[str, Subscriber]
    share_sms_text: bool

    def subscriber(self, number: str, scopes: frozenset[str] | None = None) -> Subscriber | None:
        """Return the subscriber of a number, creating its device on its first event.

        None for a number the entry's subscriber filter leaves out (no device).
        """

    def notify(
        self, subscriber: Subscriber, update: SubscriberUpdate, *, newest: bool = False
    ) -> None:
        """Tell the subscriber's entities what changed (and store what lasts).

        ``newest``: the update comes from the subscriber's newest event so far, which
        changes its last event time too.
        """

    def forget(self, number: str) -> None:
        """Drop a subscriber: its state and every capability's pending work."""

    def save(self, number: str, *, before_ack: bool = False) -> None:
        """Store a subscriber's snapshot soon; before the ack if asked."""

    def number_key(self, number: str) -> str:
        """Return the key that stands for a number in ids (media ids, issue ids)."""

    def fire(self, data: dict[str, Any], event_type: str = ...) -> None:
        """Fire one ``wgtwo_event`` (or another of the integration's bus events)."""

    def set_scopes(self, subscriber: Subscriber, scopes: frozenset[str] | None) -> None:
        """Take the scopes a subscriber's consent grants; entities follow them."""

    def moved(self, subscriber: Subscriber) -> None:
        """Tell every capability that a subscriber's phone moved (country or serving node)."""


def envelope(
    event: WgtwoEvent, event_type: str, subscriber: str, device_id: str | None
) -> dict[str, Any]:
    """Fields every bus event carries."""
    return envelope_of(event_type, subscriber, device_id, event.timestamp, event.sequence)


def envelope_of(
    event_type: str, subscriber: str, device_id: str | None, timestamp: datetime, sequence: int
) -> dict[str, Any]:
    """Fields every bus event carries, from the time and sequence of the deciding event."""
    return {
        ATTR_TYPE: event_type,
        ATTR_SUBSCRIBER: subscriber,
        ATTR_DEVICE_ID: device_id,
        ATTR_TIMESTAMP: timestamp.isoformat(),
        ATTR_SEQUENCE: sequence,
    }


def party_names(
    phonebook: Phonebook, from_number: str | None, to_number: str | None, *, hidden: bool = False
) -> dict[str, Any]:
    """Names of both parties (None when unknown); a hidden caller is never named."""
    return {
        "from_name": None if hidden else phonebook.name_for(from_number),
        "to_name": phonebook.name_for(to_number),
    }


def party(data: Mapping[str, Any], side: str) -> str | None:
    """Name ``side`` of a bus event by its phonebook name, else its number or address.

    None when the event has neither: a hidden caller (whose number the bus event leaves
    out), or an address the network did not give.
    """
    number_key = f"{side}_number" if f"{side}_number" in data else f"{side}_address"
    for value in (data.get(f"{side}_name"), data.get(number_key)):
        if isinstance(value, str) and value:
            return value
    return None


def enum_text(value: object) -> str | None:
    """Enum members as their lower-case value; unknown wire numbers as a string."""
    return None if value is None else str(value)


class Capability:
    """One concern of a subscriber's line; one instance per config entry."""

    # The client's event classes this capability handles.
    events: ClassVar[tuple[type[WgtwoEvent], ...]] = ()
    # The bus event types it fires.
    bus_events: ClassVar[Mapping[str, BusEvent]] = {}

    def __init__(self, room: Room) -> None:
        """Bind to the entry's coordinator."""
        self.room = room

    def handle(self, number: str, event: WgtwoEvent) -> None:
        """Apply one event of a subscriber, then tell its entities what changed."""
        subscriber = self.room.subscriber(number)
        if subscriber is None:
            return  # filtered out: the coordinator drops its events before they come here
        update = self.apply(subscriber, event)
        self.room.notify(subscriber, update, newest=subscriber.seen(event.timestamp))

    def handle_unowned(self, event: WgtwoEvent) -> None:
        """Take an event that names no subscriber (most capabilities have nothing to do)."""
        _LOGGER.debug("Event %s (%s) has no subscriber", event.sequence, event.kind)

    def apply(self, subscriber: Subscriber, event: Any) -> SubscriberUpdate:
        """Change the subscriber's state, fire the bus event; return what changed."""
        raise NotImplementedError

    def fire(self, event: WgtwoEvent, event_type: str, sub: Subscriber, payload: Any) -> None:
        """Fire the bus event of ``event`` for a subscriber."""
        data = envelope(event, event_type, sub.number, sub.device_id)
        data.update(payload)
        self.room.fire(data)

    async def async_check_owner(self, subscriber: Subscriber, context: Context | None) -> None:
        """Refuse an action a person started unless an administrator or an owner (access.py)."""
        await async_check_owner(self.room.hass, context, self.room.entry.options, subscriber.number)

    async def async_setup(self) -> None:
        """Start what runs for the entry's lifetime (the entry's unload stops it)."""

    def subscriber_added(self, subscriber: Subscriber) -> None:
        """Take note of a subscriber that got its device (its first event, or consent)."""

    def subscriber_moved(self, subscriber: Subscriber) -> None:
        """Take note that a subscriber's phone moved: another country or serving node."""

    def started(self) -> None:
        """Resume what the snapshots kept pending: the entry's entities are set up."""

    def stream_connected(self) -> None:
        """Catch up with what may have been missed: the event stream (re)connected."""

    def forget(self, number: str) -> None:
        """Drop what is pending for a subscriber that is gone."""

    def unload(self) -> None:
        """Cancel what is pending; the entry unloads."""
