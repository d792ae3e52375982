"""Turns received events into per-subscriber state, devices, entity updates and bus events.

The hub calls :meth:`SubscriberTracker.async_handle_event` for every event. Each subscriber
number gets one device, created on its first event and found again in the device registry
after a restart. Events are handled once per sequence number (and SMS once per uuid and
direction) even if the stream redelivers them.

``call_missed`` is decided per incoming call (the subscriber is the called party, or the
caller is unknown): right away when the call is forwarded to voicemail without having been
answered, or ``missed_call_settle`` seconds (2 s) after ``call_ended`` of a call that was
never answered, so that a ``call_answered`` delivered late (out of order) cancels it. A call
known only from its ``call_ended`` (no initiated/ringing/forwarded event, e.g. answered before
a restart) is not missed. Each call is reported missed at most once; the ``call_missed`` bus
event carries the envelope (sequence, timestamp) of the event that decided it.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later, async_track_time_interval

from . import bus_events as bus
from .call_state import PHASES, CallDirection, CallPhase, call_direction
from .client import (
    AuthenticationError,
    ConsentRevokeEvent,
    CountryChangeEvent,
    HandsetUpdateEvent,
    LocationUpdateEvent,
    MissingScopeError,
    SmsDeliveryReportEvent,
    SmsDirection,
    SmsEvent,
    VoiceEvent,
    VoiceEventKind,
    VoicemailEvent,
    WgtwoError,
    WgtwoEvent,
)
from .const import (
    CONF_HOME_COUNTRY,
    CONF_PHONEBOOK,
    CONF_SHARE_SMS_TEXT,
    DOMAIN,
    EVENT_WGTWO,
    SIGNAL_NEW_SUBSCRIBER,
    SIGNAL_SUBSCRIBER_UPDATE,
)
from .facts import SubscriberFacts
from .settings import get_settings
from .subscriber import LastCaller, Subscriber, UnheardVoicemail

if TYPE_CHECKING:
    from datetime import datetime

    from .data import WgtwoConfigEntry

_LOGGER = logging.getLogger(__name__)

DEDUP_CAPACITY: Final = 4096
# How often calls whose end never arrived are looked for.
CALL_SWEEP_INTERVAL: Final = timedelta(minutes=1)
MANUFACTURER: Final = "Working Group Two"
CONSENT_REVOKED_ISSUE_KEY: Final = "consent_revoked"  # translation key in "issues"
CONSENT_REVOKED_ISSUE_ID: Final = "consent_revoked_{entry_id}_{digest}"

# Event entity keys and their event types.
EVENT_CALL: Final = "call"
EVENT_SMS: Final = "sms"
EVENT_VOICEMAIL: Final = "voicemail"
CALL_EVENT_TYPES: Final = [
    "initiated",
    "ringing",
    "answered",
    "ended",
    "missed",
    "forwarded_to_voicemail",
]
SMS_EVENT_TYPES: Final = ["received", "sent", "delivery_report"]
VOICEMAIL_EVENT_TYPES: Final = ["new"]

_CALL_TYPES: Final[dict[CallPhase, tuple[str, str]]] = {
    CallPhase.INITIATED: (bus.TYPE_CALL_INITIATED, "initiated"),
    CallPhase.RINGING: (bus.TYPE_CALL_RINGING, "ringing"),
    CallPhase.ANSWERED: (bus.TYPE_CALL_ANSWERED, "answered"),
    CallPhase.FORWARDED: (bus.TYPE_CALL_FORWARDED, "forwarded_to_voicemail"),
    CallPhase.ENDED: (bus.TYPE_CALL_ENDED, "ended"),
}


@dataclass(frozen=True, slots=True)
class EntityTrigger:
    """An event for one of the subscriber's event entities."""

    key: str
    event_type: str
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SubscriberUpdate:
    """Sent to a subscriber's entities when its state changed."""

    triggers: tuple[EntityTrigger, ...] = field(default=())


class _BoundedSet[T]:
    """Remembers the most recent ``capacity`` keys."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._keys: OrderedDict[T, None] = OrderedDict()

    def __contains__(self, key: T) -> bool:
        return key in self._keys

    def add(self, key: T) -> bool:
        """Add a key; False if it was already there."""
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self._capacity:
            self._keys.popitem(last=False)
        return True


def device_identifier(entry_id: str, number: str) -> tuple[str, str]:
    """Device registry identifier of a subscriber's device."""
    return (DOMAIN, f"{entry_id}_{number}")


def service_identifier(entry_id: str) -> tuple[str, str]:
    """Device registry identifier of the entry's service device (connection status)."""
    return (DOMAIN, entry_id)


def _normalize_number(number: str) -> str:
    return "".join(ch for ch in number if ch not in " -()")


class SubscriberTracker:
    """Per-subscriber state of one config entry."""

    def __init__(self, hass: HomeAssistant, entry: WgtwoConfigEntry) -> None:
        """Find the subscribers known from before (device registry) and prepare cleanup."""
        self.hass = hass
        self.entry = entry
        self.subscribers: dict[str, Subscriber] = {}
        self._missed_call_settle = get_settings(hass).missed_call_settle
        self._sequences: _BoundedSet[int] = _BoundedSet(DEDUP_CAPACITY)
        self._sms_seen: _BoundedSet[tuple[str, str, str]] = _BoundedSet(DEDUP_CAPACITY)
        self._pending_missed: dict[tuple[str, str], Callable[[], None]] = {}
        phonebook = entry.options.get(CONF_PHONEBOOK) or {}
        self._phonebook = {_normalize_number(k): str(v) for k, v in phonebook.items() if v}
        self._facts = SubscriberFacts(hass, entry.entry_id)
        self._restore_devices()
        entry.async_on_unload(self._cancel_pending)
        entry.async_on_unload(self._facts.async_flush)
        entry.async_on_unload(
            async_track_time_interval(
                hass, self._async_expire_calls, CALL_SWEEP_INTERVAL, cancel_on_shutdown=True
            )
        )

    @callback
    def _async_expire_calls(self, now: datetime) -> None:
        """End calls whose CALL_ENDED never came (lost, or older than the server's history)."""
        for subscriber in self.subscribers.values():
            if subscriber.calls.expire(now):
                self.async_notify(subscriber)

    # -- public API ------------------------------------------------------------------

    async def async_load(self) -> None:
        """Give known subscribers their stored handset and serving nodes (before entities)."""
        for number, facts in (await self._facts.async_load()).items():
            if (subscriber := self.subscribers.get(number)) is None:
                continue
            if handset := SubscriberFacts.handset(facts):
                subscriber.restore_handset(handset)
            if location := SubscriberFacts.location(facts):
                subscriber.restore_location(location)

    @property
    def new_subscriber_signal(self) -> str:
        """Dispatcher signal sent with a new :class:`Subscriber`."""
        return SIGNAL_NEW_SUBSCRIBER.format(entry_id=self.entry.entry_id)

    def update_signal(self, number: str) -> str:
        """Dispatcher signal sent with a :class:`SubscriberUpdate` when a subscriber changed."""
        return SIGNAL_SUBSCRIBER_UPDATE.format(entry_id=self.entry.entry_id, number=number)

    def name_for(self, number: str | None) -> str | None:
        """Phonebook name of a number."""
        if number is None:
            return None
        return self._phonebook.get(_normalize_number(number))

    def subscriber_for_device(self, device_id: str) -> Subscriber | None:
        """Return the subscriber whose device this is."""
        for subscriber in self.subscribers.values():
            if subscriber.device_id == device_id:
                return subscriber
        return None

    @callback
    def async_forget_device(self, device: dr.DeviceEntry) -> bool:
        """Forget a subscriber whose device the user removes; False for the service device.

        The device comes back with the subscriber's next event.
        """
        if service_identifier(self.entry.entry_id) in device.identifiers:
            return False
        subscriber = self.subscriber_for_device(device.id)
        if subscriber is not None:
            self._forget(subscriber)
        return True

    @callback
    def async_notify(self, subscriber: Subscriber, update: SubscriberUpdate | None = None) -> None:
        """Tell a subscriber's entities to refresh (and fire event entity triggers)."""
        async_dispatcher_send(
            self.hass, self.update_signal(subscriber.number), update or SubscriberUpdate()
        )

    @callback
    def async_reset_missed_calls(self, subscriber: Subscriber) -> None:
        """Set the missed calls count back to zero."""
        subscriber.missed_calls = 0
        self.async_notify(subscriber)

    async def async_mark_voicemail_heard(self, subscriber: Subscriber) -> None:
        """Clear the unheard voicemails, marking them read at the operator when allowed.

        Marking read needs the voicemail.update scope; without it (or on any API error) the
        voicemails are only cleared here.
        """
        voicemails = list(subscriber.voicemails)
        subscriber.voicemails.clear()
        self.async_notify(subscriber)
        if not voicemails:
            return
        actions = self.entry.runtime_data.hub.actions
        for voicemail in voicemails:
            try:
                await actions.mark_voicemail_read(voicemail.voicemail_id)
            except (MissingScopeError, AuthenticationError) as err:
                _LOGGER.debug("Voicemails not marked read at the operator: %s", type(err).__name__)
                return
            except WgtwoError as err:
                _LOGGER.debug("Voicemail not marked read at the operator: %s", type(err).__name__)

    async def async_handle_event(self, event: WgtwoEvent) -> None:
        """Handle one received event (the hub's subscription handler)."""
        if event.sequence and event.sequence in self._sequences:
            _LOGGER.debug("Event %s already handled", event.sequence)
            return
        self._handle_event(event)
        # Only once handled: an event whose handling failed is redelivered and tried again.
        if event.sequence:
            self._sequences.add(event.sequence)

    def _handle_event(self, event: WgtwoEvent) -> None:
        number = event.owner or getattr(event, "number", None)
        if not number:
            _LOGGER.debug("Event %s (%s) has no subscriber", event.sequence, event.kind)
            return
        _LOGGER.debug("Handling event %s (%s)", event.sequence, event.kind)
        if isinstance(event, ConsentRevokeEvent):
            self._consent_revoked(event, number)
            return
        handler = self._handlers.get(type(event))
        if handler is None:
            _LOGGER.debug("Ignoring event kind %s", event.kind)
            return
        subscriber = self._subscriber(number)
        subscriber.seen(event.timestamp)
        update = handler(self, subscriber, event)
        self.async_notify(subscriber, update)

    # -- subscribers and devices -----------------------------------------------------

    def _restore_devices(self) -> None:
        """Re-create subscribers for the devices this entry already has."""
        registry = dr.async_get(self.hass)
        entry_id = self.entry.entry_id
        prefix = f"{entry_id}_"
        for device in dr.async_entries_for_config_entry(registry, entry_id):
            for domain, identifier in device.identifiers:
                if domain == DOMAIN and identifier.startswith(prefix):
                    number = identifier.removeprefix(prefix)
                    name = self.name_for(number) or number
                    if device.name != name:
                        registry.async_update_device(device.id, name=name)
                    self.subscribers[number] = self._new_subscriber(number, device.id, name)

    def _new_subscriber(self, number: str, device_id: str, name: str) -> Subscriber:
        return Subscriber(number, device_id, name, self.entry.options.get(CONF_HOME_COUNTRY))

    def _subscriber(self, number: str) -> Subscriber:
        """Return the subscriber of a number, creating its device on its first event."""
        if (subscriber := self.subscribers.get(number)) is not None:
            return subscriber
        name = self.name_for(number) or number
        device = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={device_identifier(self.entry.entry_id, number)},
            name=name,
            manufacturer=MANUFACTURER,
            model="Mobile subscription",
        )
        subscriber = self._new_subscriber(number, device.id, name)
        self.subscribers[number] = subscriber
        ir.async_delete_issue(self.hass, DOMAIN, self._consent_issue_id(number))
        _LOGGER.debug("New subscriber device (%d in total)", len(self.subscribers))
        async_dispatcher_send(self.hass, self.new_subscriber_signal, subscriber)
        return subscriber

    def _forget(self, subscriber: Subscriber) -> None:
        self.subscribers.pop(subscriber.number, None)
        self._facts.forget(subscriber.number)
        for key in [key for key in self._pending_missed if key[0] == subscriber.number]:
            self._pending_missed.pop(key)()

    def _consent_issue_id(self, number: str) -> str:
        # A digest stands in for the number: issue ids end up in storage and logs.
        digest = hashlib.sha256(number.encode()).hexdigest()[:16]
        return CONSENT_REVOKED_ISSUE_ID.format(entry_id=self.entry.entry_id, digest=digest)

    def _consent_revoked(self, event: ConsentRevokeEvent, number: str) -> None:
        """Fire the bus event, remove the device and raise a repair issue."""
        registry = dr.async_get(self.hass)
        subscriber = self.subscribers.get(number)
        device = registry.async_get_device_by_identifier(
            device_identifier(self.entry.entry_id, number), self.entry.entry_id
        )
        device_id = device.id if device else None
        self._fire(bus.envelope(event, bus.TYPE_CONSENT_REVOKED, number, device_id))
        if subscriber is not None:
            self._forget(subscriber)
        self._facts.forget(number)
        if device is not None:
            registry.async_remove_device(device.id)
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._consent_issue_id(number),
            is_fixable=False,
            is_persistent=True,
            severity=ir.IssueSeverity.WARNING,
            translation_key=CONSENT_REVOKED_ISSUE_KEY,
            translation_placeholders={
                CONF_NAME: self.name_for(number) or number,
                "entry_title": self.entry.title,
            },
        )
        _LOGGER.info("A subscriber revoked consent; its device was removed")

    # -- events ----------------------------------------------------------------------

    def _fire(self, data: dict[str, Any]) -> None:
        self.hass.bus.async_fire(EVENT_WGTWO, data)

    def _envelope(self, event: WgtwoEvent, event_type: str, sub: Subscriber) -> dict[str, Any]:
        return bus.envelope(event, event_type, sub.number, sub.device_id)

    def _voice(self, sub: Subscriber, event: WgtwoEvent) -> SubscriberUpdate | None:
        assert isinstance(event, VoiceEvent)
        kind = event.call_event
        phase = PHASES.get(kind) if isinstance(kind, VoiceEventKind) else None
        if phase is None:
            _LOGGER.debug("Ignoring voice event %s of unknown type", event.sequence)
            return None
        existing = sub.calls.get(event.call_id)
        direction = (
            existing.direction
            if existing
            else call_direction(event.owner, event.from_number, event.to_number)
        )
        update = sub.calls.apply(event.call_id, phase, direction, event.timestamp)
        call = update.call
        # Once any event of a call says the caller hid the number, it stays hidden.
        newly_hidden = event.caller_id_hidden and not call.hidden
        call.hidden = hidden = call.hidden or event.caller_id_hidden
        incoming = direction == CallDirection.INCOMING
        if incoming and (update.new_call or newly_hidden):
            if event.from_number:
                sub.remember_caller(event.from_number, hidden)
            last = sub.last_caller
            if (update.new_call and (last is None or event.timestamp >= last.time)) or (
                last is not None and last.call_id == call.call_id
            ):
                sub.last_caller = LastCaller(
                    number=None if hidden else event.from_number,
                    hidden=hidden,
                    call_id=event.call_id,
                    time=event.timestamp if update.new_call or last is None else last.time,
                )
        payload = bus.call_payload(event, direction, hidden)
        bus_type, trigger_type = _CALL_TYPES[phase]
        self._fire(self._envelope(event, bus_type, sub) | payload)
        triggers = [EntityTrigger(EVENT_CALL, trigger_type, payload)]
        if update.advanced and call.unanswered_incoming:
            if phase == CallPhase.FORWARDED:
                if missed := self._report_missed(sub, event, payload):
                    triggers.append(missed)
            elif not call.missed:
                self._schedule_missed(sub, event, payload)
        return SubscriberUpdate(tuple(triggers))

    def _report_missed(
        self, sub: Subscriber, event: VoiceEvent, payload: dict[str, Any]
    ) -> EntityTrigger | None:
        """Count the call as missed and fire ``call_missed`` (once per call)."""
        self._pending_missed.pop((sub.number, event.call_id), lambda: None)()
        if not sub.calls.mark_missed(event.call_id):
            return None
        sub.missed_calls += 1
        self._fire(self._envelope(event, bus.TYPE_CALL_MISSED, sub) | payload)
        return EntityTrigger(EVENT_CALL, "missed", payload)

    def _schedule_missed(self, sub: Subscriber, event: VoiceEvent, payload: dict[str, Any]) -> None:
        key = (sub.number, event.call_id)
        if key in self._pending_missed:
            return

        @callback
        def _settled(_now: datetime) -> None:
            self._pending_missed.pop(key, None)
            if self.subscribers.get(sub.number) is not sub:
                return
            if trigger := self._report_missed(sub, event, payload):
                self.async_notify(sub, SubscriberUpdate((trigger,)))

        self._pending_missed[key] = async_call_later(self.hass, self._missed_call_settle, _settled)

    @callback
    def _cancel_pending(self) -> None:
        for cancel in self._pending_missed.values():
            cancel()
        self._pending_missed.clear()

    def _voicemail(self, sub: Subscriber, event: WgtwoEvent) -> SubscriberUpdate:
        assert isinstance(event, VoicemailEvent)
        hidden = sub.caller_hidden(event.from_number)
        payload = bus.voicemail_payload(event, hidden)
        sub.add_voicemail(
            UnheardVoicemail(event.voicemail_id, payload["from_number"], event.timestamp)
        )
        self._fire(self._envelope(event, bus.TYPE_VOICEMAIL_NEW, sub) | payload)
        return SubscriberUpdate((EntityTrigger(EVENT_VOICEMAIL, "new", payload),))

    def _sms(self, sub: Subscriber, event: WgtwoEvent) -> SubscriberUpdate | None:
        assert isinstance(event, SmsEvent)
        if event.direction == SmsDirection.FROM_SUBSCRIBER:
            sent = True
        elif event.direction == SmsDirection.TO_SUBSCRIBER:
            sent = False
        else:
            sent = event.from_address == sub.number
        seen_key = (sub.number, event.uuid, str(sent))
        if event.uuid and seen_key in self._sms_seen:
            _LOGGER.debug("SMS of event %s already handled", event.sequence)
            return None
        share = bool(self.entry.options.get(CONF_SHARE_SMS_TEXT, False))
        payload = bus.sms_payload(event, share)
        bus_type = bus.TYPE_SMS_SENT if sent else bus.TYPE_SMS_RECEIVED
        self._fire(self._envelope(event, bus_type, sub) | payload)
        if event.uuid:
            self._sms_seen.add(seen_key)
        trigger_type = "sent" if sent else "received"
        # Entity attributes are recorded in history: the text only ever goes on the bus.
        attributes = {key: value for key, value in payload.items() if key not in ("text", "data")}
        return SubscriberUpdate((EntityTrigger(EVENT_SMS, trigger_type, attributes),))

    def _delivery_report(self, sub: Subscriber, event: WgtwoEvent) -> SubscriberUpdate:
        assert isinstance(event, SmsDeliveryReportEvent)
        payload = bus.delivery_report_payload(event)
        self._fire(self._envelope(event, bus.TYPE_SMS_DELIVERY_REPORT, sub) | payload)
        return SubscriberUpdate((EntityTrigger(EVENT_SMS, "delivery_report", payload),))

    def _country(self, sub: Subscriber, event: WgtwoEvent) -> SubscriberUpdate:
        assert isinstance(event, CountryChangeEvent)
        if event.current is not None:
            sub.set_country(event.current, event.previous or sub.country)
        self._fire(
            self._envelope(event, bus.TYPE_ROAMING, sub) | bus.country_payload(event, sub.roaming)
        )
        return SubscriberUpdate()

    def _location(self, sub: Subscriber, event: WgtwoEvent) -> SubscriberUpdate:
        assert isinstance(event, LocationUpdateEvent)
        if event.current is not None:
            sub.location = event.current
            self._facts.update(sub.number, "location", event.current)
        self._fire(self._envelope(event, bus.TYPE_LOCATION, sub) | bus.location_payload(event))
        return SubscriberUpdate()

    def _handset(self, sub: Subscriber, event: WgtwoEvent) -> SubscriberUpdate:
        assert isinstance(event, HandsetUpdateEvent)
        if event.current is not None:
            sub.handset = event.current
            self._facts.update(sub.number, "handset", event.current)
        self._fire(self._envelope(event, bus.TYPE_HANDSET, sub) | bus.handset_payload(event))
        return SubscriberUpdate()

    _handlers: Final[
        dict[
            type[WgtwoEvent],
            Callable[[SubscriberTracker, Subscriber, WgtwoEvent], SubscriberUpdate | None],
        ]
    ] = {
        VoiceEvent: _voice,
        VoicemailEvent: _voicemail,
        SmsEvent: _sms,
        SmsDeliveryReportEvent: _delivery_report,
        CountryChangeEvent: _country,
        LocationUpdateEvent: _location,
        HandsetUpdateEvent: _handset,
    }
