"""The one owner of an entry's per-subscriber state.

The hub hands every received event to :meth:`WgtwoCoordinator.async_handle_event`, which
dispatches on its type. Each subscriber number gets one device, created on its first event
and found again in the device registry after a restart; the coordinator keeps the
subscribers' state, fires the ``wgtwo_event`` bus events, raises and clears the repair
issues, runs the timers and tells the entities of a subscriber what changed. Duplicates
never reach it: the client drops redelivered events.

``call_missed`` is decided per incoming call (the subscriber is the called party, or the
caller is unknown): right away when the call is forwarded to voicemail without having been
answered, or ``missed_call_settle`` seconds (2 s) after ``call_ended`` of a call that was
never answered, so that a ``call_answered`` delivered late (out of order) cancels it. A call
known only from its ``call_ended`` (no initiated/ringing/forwarded event, e.g. answered before
a restart) is not missed. Each call is reported missed at most once; the ``call_missed`` bus
event carries the envelope (sequence, timestamp) of the event that decided it.

``call_ended`` tells whether the call was answered and for how long, from the events handled
before it: an answer delivered after the end (out of order) cannot change an event already
fired, it only cancels the pending ``call_missed``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from homeassistant.const import CONF_NAME
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.util import dt as dt_util

from . import bus_events as bus
from .actions import ScopedActions
from .call_forwarding import async_request_forwarding, forwarding_target
from .call_state import PHASES, CallDirection, CallPhase, call_direction
from .client import (
    ActionError,
    AuthenticationError,
    ConsentRevokeEvent,
    CountryChangeEvent,
    ForwardingMode,
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
from .client.event_types import SCOPE_VOICEMAIL_DELETE, SCOPE_VOICEMAIL_GET
from .const import (
    CONF_HOME_COUNTRY,
    CONF_PHONEBOOK,
    CONF_SHARE_SMS_TEXT,
    DOMAIN,
    EVENT_WGTWO,
    ISSUE_MISSING_SCOPES,
)
from .data import WgtwoConfigEntry
from .hub import UP_STATES, StreamState
from .phonebook import Phonebook
from .settings import WgtwoSettings
from .storage import SnapshotStore
from .subscriber import (
    ALL_ASPECTS,
    MAX_UNHEARD_VOICEMAILS,
    STORED_ASPECTS,
    Aspect,
    LastCaller,
    Subscriber,
    UnheardVoicemail,
)
from .voicemail import voicemail_error, voicemail_media_content_id

_LOGGER = logging.getLogger(__name__)

# Stands in for the creation time of a voicemail listed without one.
_NEVER: Final = datetime.min.replace(tzinfo=UTC)
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
    """What changed for a subscriber: the aspects to redraw and the events to fire."""

    aspects: Aspect = ALL_ASPECTS
    triggers: tuple[EntityTrigger, ...] = field(default=())


type SubscriberEvent = (
    VoiceEvent
    | VoicemailEvent
    | SmsEvent
    | SmsDeliveryReportEvent
    | CountryChangeEvent
    | LocationUpdateEvent
    | HandsetUpdateEvent
)
type UpdateListener = Callable[[SubscriberUpdate], None]
# A listener with what it shows: aspects as a plain int (a Flag's own operators are Python
# code, too slow to run for every entity on every event) and the trigger key it fires on.
type _Listening = tuple[int, str | None, UpdateListener]
_STORED_MASK: Final = int(STORED_ASPECTS)
type SubscriberListener = Callable[[Subscriber], None]


def device_identifier(entry_id: str, number: str) -> tuple[str, str]:
    """Device registry identifier of a subscriber's device."""
    return (DOMAIN, f"{entry_id}_{number}")


def service_identifier(entry_id: str) -> tuple[str, str]:
    """Device registry identifier of the entry's service device (connection status)."""
    return (DOMAIN, entry_id)


def scope_issue_id(entry_id: str) -> str:
    """Return the id of an entry's missing-scope repair issue."""
    return ISSUE_MISSING_SCOPES.format(entry_id=entry_id)


@callback
def async_create_scope_issue(
    hass: HomeAssistant, entry: WgtwoConfigEntry, scopes: Iterable[str]
) -> None:
    """Raise the fixable issue that names the scopes the OAuth client lacks."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        scope_issue_id(entry.entry_id),
        is_fixable=True,
        is_persistent=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="missing_scopes",
        translation_placeholders={"scopes": ", ".join(sorted(scopes)), "title": entry.title},
        data={"entry_id": entry.entry_id},
    )


class WgtwoCoordinator:
    """Per-subscriber state of one config entry, and what follows from each event."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WgtwoConfigEntry,
        actions: ScopedActions,
        settings: WgtwoSettings,
    ) -> None:
        """Prepare; nothing is read or registered until :meth:`async_setup`."""
        self.hass = hass
        self.entry = entry
        self.actions = actions
        self.subscribers: dict[str, Subscriber] = {}
        self.stream_state = StreamState.CONNECTING
        self.phonebook = Phonebook(entry.options.get(CONF_PHONEBOOK) or {})
        self._settings = settings
        self._share_sms_text = bool(entry.options.get(CONF_SHARE_SMS_TEXT, False))
        self._home_country: str | None = entry.options.get(CONF_HOME_COUNTRY)
        self._store = SnapshotStore(hass, entry.entry_id, settings.save_delay)
        self._listeners: dict[str, list[_Listening]] = {}
        self._stream_listeners: list[Callable[[], None]] = []
        self._new_subscriber_listeners: list[SubscriberListener] = []
        self._pending_missed: dict[tuple[str, str], CALLBACK_TYPE] = {}
        self._voicemail_sync: asyncio.Task[None] | None = None
        # Bumped per subscriber when an action changes its unheard voicemails, so a sync
        # whose list was asked for before does not bring them back.
        self._voicemail_actions: dict[str, int] = {}

    # -- lifecycle ---------------------------------------------------------------------

    async def async_setup(self) -> None:
        """Find the subscribers of the entry's devices, with their stored snapshots."""
        snapshots = await self._store.async_load()
        registry = dr.async_get(self.hass)
        prefix = f"{self.entry.entry_id}_"
        for device in dr.async_entries_for_config_entry(registry, self.entry.entry_id):
            for domain, identifier in device.identifiers:
                if domain != DOMAIN or not identifier.startswith(prefix):
                    continue
                number = identifier.removeprefix(prefix)
                name = self.phonebook.name_for(number) or number
                if device.name != name:
                    registry.async_update_device(device.id, name=name)
                subscriber = self._new_subscriber(number, device.id, name)
                if (snapshot := snapshots.get(number)) is not None:
                    subscriber.restore(snapshot)
                self.subscribers[number] = subscriber
        self.entry.async_on_unload(self._async_unload)
        self.entry.async_on_unload(
            async_track_time_interval(
                self.hass, self._async_expire_calls, CALL_SWEEP_INTERVAL, cancel_on_shutdown=True
            )
        )

    async def _async_unload(self) -> None:
        for cancel in self._pending_missed.values():
            cancel()
        self._pending_missed.clear()
        await self._store.async_flush(self._snapshots)
        await self.actions.close()

    # -- listeners (entities) --------------------------------------------------------

    @callback
    def async_add_listener(
        self,
        number: str,
        listener: UpdateListener,
        aspects: Aspect = ALL_ASPECTS,
        trigger_key: str | None = None,
    ) -> CALLBACK_TYPE:
        """Call ``listener`` with a subscriber's updates that concern it; returns the remover.

        An update concerns it when it changes one of ``aspects`` or carries a trigger for
        ``trigger_key`` (an event entity's key).
        """
        listeners = self._listeners.setdefault(number, [])
        listening = (int(aspects), trigger_key, listener)
        listeners.append(listening)

        @callback
        def _remove() -> None:
            listeners.remove(listening)

        return _remove

    @callback
    def async_add_stream_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call ``listener`` when the stream state changes; returns the remover."""
        self._stream_listeners.append(listener)
        return lambda: self._stream_listeners.remove(listener)

    @callback
    def async_add_subscriber_listener(self, listener: SubscriberListener) -> CALLBACK_TYPE:
        """Call ``listener`` with each subscriber seen for the first time; returns the remover."""
        self._new_subscriber_listeners.append(listener)
        return lambda: self._new_subscriber_listeners.remove(listener)

    @property
    def stream_up(self) -> bool:
        """Whether the stream counts as up (a loss within the grace period does not count)."""
        return self.stream_state in UP_STATES

    @property
    def stream_live(self) -> bool:
        """Whether live state (the call state) holds: the stream is not down for long."""
        return self.stream_state not in (StreamState.DOWN, StreamState.STOPPED)

    @callback
    def async_stream_changed(self, state: StreamState, error: WgtwoError | None) -> None:
        """Follow the hub: clear or raise the scope issue, redraw what depends on it."""
        self.stream_state = state
        if state is StreamState.CONNECTED:
            ir.async_delete_issue(self.hass, DOMAIN, scope_issue_id(self.entry.entry_id))
            self._schedule_voicemail_sync()
        elif isinstance(error, MissingScopeError):
            async_create_scope_issue(self.hass, self.entry, error.missing_scopes)
        for listener in list(self._stream_listeners):
            listener()
        update = SubscriberUpdate(Aspect.CONNECTION)
        for subscriber in self.subscribers.values():
            self._notify(subscriber, update)

    def _notify(self, subscriber: Subscriber, update: SubscriberUpdate) -> None:
        changed = int(update.aspects)
        keys = [trigger.key for trigger in update.triggers]
        for aspects, key, listener in self._listeners.get(subscriber.number, ()):
            if aspects & changed or (key is not None and key in keys):
                listener(update)
        if changed & _STORED_MASK:
            self._store.schedule_save(self._snapshots)

    def _snapshots(self) -> dict[str, dict[str, Any]]:
        return {number: sub.snapshot() for number, sub in self.subscribers.items()}

    # -- lookups -----------------------------------------------------------------------

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
        if (subscriber := self.subscriber_for_device(device.id)) is not None:
            self._forget(subscriber.number)
        return True

    # -- actions -----------------------------------------------------------------------

    @callback
    def async_reset_missed_calls(self, subscriber: Subscriber) -> None:
        """Set the missed calls count back to zero."""
        subscriber.missed_calls = 0
        self._notify(subscriber, SubscriberUpdate(Aspect.MISSED_CALLS))

    async def async_mark_voicemail_heard(self, subscriber: Subscriber) -> None:
        """Clear the unheard voicemails, marking them read at the operator when allowed.

        Marking read needs the voicemail.update scope; without it (or on any API error) the
        voicemails are only cleared here.
        """
        voicemails = list(subscriber.voicemails)
        subscriber.voicemails.clear()
        self._voicemail_acted(subscriber)
        self._notify(subscriber, SubscriberUpdate(Aspect.VOICEMAIL))
        for voicemail in voicemails:
            try:
                await self.actions.mark_voicemail_read(voicemail.voicemail_id)
            except (MissingScopeError, AuthenticationError) as err:
                _LOGGER.debug("Voicemails not marked read at the operator: %s", type(err).__name__)
                return
            except WgtwoError as err:
                _LOGGER.debug("Voicemail not marked read at the operator: %s", type(err).__name__)

    async def async_set_call_forwarding(
        self, subscriber: Subscriber, mode: ForwardingMode, number: str | None = None
    ) -> None:
        """Set where the subscriber's calls go and remember it (the API has no getter).

        ``number`` overrides the forwarding number of the subscriber's options. On any
        failure a translated error is raised and the remembered forwarding stays as it was.
        """
        target = forwarding_target(
            mode, number, self.entry.options, subscriber.number, subscriber.name
        )
        subscriber.forwarding = await async_request_forwarding(
            self.actions, subscriber.number, mode, target
        )
        self._notify(subscriber, SubscriberUpdate(Aspect.FORWARDING))

    async def async_delete_voicemail(self, subscriber: Subscriber, voicemail_id: str | None) -> str:
        """Delete a voicemail at the operator (default: the newest) and from the unheard list.

        Returns the deleted id. Errors are translated for the action that called it.
        """
        if voicemail_id is None:
            voicemail_id = await self._newest_voicemail_id(subscriber)
        try:
            await self.actions.delete_voicemail(voicemail_id)
        except ActionError as err:
            if err.not_found:  # gone already (deleted on the phone, or expired)
                self._drop_unheard(subscriber, voicemail_id)
            raise voicemail_error(
                err, SCOPE_VOICEMAIL_DELETE, HomeAssistantError, voicemail_id
            ) from err
        except WgtwoError as err:
            raise voicemail_error(
                err, SCOPE_VOICEMAIL_DELETE, HomeAssistantError, voicemail_id
            ) from err
        self._drop_unheard(subscriber, voicemail_id)
        return voicemail_id

    async def _newest_voicemail_id(self, subscriber: Subscriber) -> str:
        """Return the newest voicemail at the operator (without voicemail.get: newest unheard)."""
        found: str | None = None
        try:
            listed = await self.actions.list_voicemails(subscriber.number)
        except MissingScopeError:
            if (newest := subscriber.latest_voicemail) is not None:
                found = newest.voicemail_id
        except WgtwoError as err:
            raise voicemail_error(err, SCOPE_VOICEMAIL_GET, HomeAssistantError) from err
        else:
            if listed:
                found = max(listed, key=lambda v: v.created or _NEVER).voicemail_id
        if found is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="no_voicemail",
                translation_placeholders={CONF_NAME: subscriber.name},
            )
        return found

    def _drop_unheard(self, subscriber: Subscriber, voicemail_id: str) -> None:
        self._voicemail_acted(subscriber)
        kept = [v for v in subscriber.voicemails if v.voicemail_id != voicemail_id]
        if len(kept) != len(subscriber.voicemails):
            subscriber.voicemails[:] = kept
            self._notify(subscriber, SubscriberUpdate(Aspect.VOICEMAIL))

    def _voicemail_acted(self, subscriber: Subscriber) -> None:
        number = subscriber.number
        self._voicemail_actions[number] = self._voicemail_actions.get(number, 0) + 1

    @callback
    def _schedule_voicemail_sync(self) -> None:
        """Sync the unheard voicemails in the background (at most one sync at a time)."""
        if self._voicemail_sync is not None and not self._voicemail_sync.done():
            return
        self._voicemail_sync = self.entry.async_create_background_task(
            self.hass, self.async_sync_voicemails(), name=f"{DOMAIN} voicemail sync"
        )

    async def async_sync_voicemails(self) -> None:
        """Make each known subscriber's unheard voicemails the operator's unplayed ones.

        So they are right after a restart, or after a voicemail was heard on the phone.
        Without the voicemail.get scope (or while the operator cannot be reached) the
        list stays as the events made it.
        """
        for subscriber in list(self.subscribers.values()):
            before = {v.voicemail_id for v in subscriber.voicemails}
            acted = self._voicemail_actions.get(subscriber.number, 0)
            try:
                listed = await self.actions.list_voicemails(subscriber.number)
            except (MissingScopeError, AuthenticationError) as err:
                _LOGGER.debug("Unheard voicemails not synced: %s", type(err).__name__)
                return
            except WgtwoError as err:
                _LOGGER.debug(
                    "Unheard voicemails of a subscriber not synced: %s", type(err).__name__
                )
                continue
            if self.subscribers.get(subscriber.number) is not subscriber:
                continue  # forgotten meanwhile
            if self._voicemail_actions.get(subscriber.number, 0) != acted:
                continue  # marked heard or deleted meanwhile: the list is out of date
            known = {v.voicemail_id: v for v in subscriber.voicemails}
            synced = [
                known.get(v.voicemail_id)
                or UnheardVoicemail(
                    v.voicemail_id,
                    None if subscriber.caller_hidden(v.from_number) else v.from_number,
                    v.created or dt_util.utcnow(),
                )
                for v in listed
                if not v.played
            ]
            # Voicemails whose event arrived while the list was on its way stay.
            listed_ids = {v.voicemail_id for v in listed}
            synced += [
                v
                for v in subscriber.voicemails
                if v.voicemail_id not in before and v.voicemail_id not in listed_ids
            ]
            synced.sort(key=lambda v: v.time)
            synced = synced[-MAX_UNHEARD_VOICEMAILS:]
            if [v.voicemail_id for v in synced] != [v.voicemail_id for v in subscriber.voicemails]:
                subscriber.voicemails[:] = synced
                self._notify(subscriber, SubscriberUpdate(Aspect.VOICEMAIL))

    # -- events ------------------------------------------------------------------------

    async def async_handle_event(self, event: WgtwoEvent) -> None:
        """Handle one received event (the hub's handler)."""
        number = event.subscriber
        if not number:
            _LOGGER.debug("Event %s (%s) has no subscriber", event.sequence, event.kind)
            return
        _LOGGER.debug("Handling event %s (%s)", event.sequence, event.kind)
        match event:
            case ConsentRevokeEvent():
                self._consent_revoked(event, number)
            case (
                VoiceEvent()
                | VoicemailEvent()
                | SmsEvent()
                | SmsDeliveryReportEvent()
                | CountryChangeEvent()
                | LocationUpdateEvent()
                | HandsetUpdateEvent()
            ):
                sub = self._subscriber(number)
                update = self._apply(sub, event)
                if sub.seen(event.timestamp):
                    update = SubscriberUpdate(update.aspects | Aspect.LAST_EVENT, update.triggers)
                self._notify(sub, update)
            case _:
                _LOGGER.debug("Ignoring event kind %s", event.kind)

    def _apply(self, sub: Subscriber, event: SubscriberEvent) -> SubscriberUpdate:
        match event:
            case VoiceEvent():
                return self._voice(sub, event)
            case VoicemailEvent():
                return self._voicemail(sub, event)
            case SmsEvent():
                return self._sms(sub, event)
            case SmsDeliveryReportEvent():
                return self._delivery_report(sub, event)
            case CountryChangeEvent():
                return self._country(sub, event)
            case LocationUpdateEvent():
                return self._location(sub, event)
            case HandsetUpdateEvent():
                return self._handset(sub, event)

    def _fire(self, event: WgtwoEvent, event_type: str, sub: Subscriber, payload: Any) -> None:
        data = bus.envelope(event, event_type, sub.number, sub.device_id) | payload
        self.hass.bus.async_fire(EVENT_WGTWO, data)

    def _voice(self, sub: Subscriber, event: VoiceEvent) -> SubscriberUpdate:
        kind = event.call_event
        phase = PHASES.get(kind) if isinstance(kind, VoiceEventKind) else None
        if phase is None:
            _LOGGER.debug("Ignoring voice event %s of unknown type", event.sequence)
            return SubscriberUpdate(Aspect(0))
        existing = sub.calls.get(event.call_id)
        direction = (
            existing.direction
            if existing
            else call_direction(event.owner, event.from_number, event.to_number)
        )
        update = sub.calls.apply(event.call_id, phase, direction, event.timestamp)
        call = update.call
        aspects = Aspect.CALLS if update.advanced else Aspect(0)
        # Once any event of a call says the caller hid the number, it stays hidden.
        newly_hidden = event.caller_id_hidden and not call.hidden
        call.hidden = hidden = call.hidden or event.caller_id_hidden
        if direction == CallDirection.INCOMING and (update.new_call or newly_hidden):
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
                aspects |= Aspect.LAST_CALLER
        payload = bus.call_payload(event, direction, hidden) | bus.party_names(
            self.phonebook, event.from_number, event.to_number, hidden=hidden
        )
        bus_type, trigger_type = _CALL_TYPES[phase]
        fired = payload
        if phase == CallPhase.ENDED:
            fired = payload | bus.call_end_payload(call, event.timestamp)
        self._fire(event, bus_type, sub, fired)
        triggers = [EntityTrigger(EVENT_CALL, trigger_type, fired)]
        if update.advanced and call.unanswered_incoming:
            if phase == CallPhase.FORWARDED:
                if missed := self._report_missed(sub, event, payload):
                    triggers.append(missed)
                    aspects |= Aspect.MISSED_CALLS
            elif not call.missed:
                self._schedule_missed(sub, event, payload)
        return SubscriberUpdate(aspects, tuple(triggers))

    def _report_missed(
        self, sub: Subscriber, event: VoiceEvent, payload: dict[str, Any]
    ) -> EntityTrigger | None:
        """Count the call as missed and fire ``call_missed`` (once per call)."""
        if (cancel := self._pending_missed.pop((sub.number, event.call_id), None)) is not None:
            cancel()
        if not sub.calls.mark_missed(event.call_id):
            return None
        sub.missed_calls += 1
        self._fire(event, bus.TYPE_CALL_MISSED, sub, payload)
        return EntityTrigger(EVENT_CALL, "missed", payload)

    def _schedule_missed(self, sub: Subscriber, event: VoiceEvent, payload: dict[str, Any]) -> None:
        key = (sub.number, event.call_id)
        if key in self._pending_missed:
            return

        @callback
        def _settled(_now: datetime) -> None:
            self._pending_missed.pop(key, None)
            if trigger := self._report_missed(sub, event, payload):
                self._notify(sub, SubscriberUpdate(Aspect.MISSED_CALLS, (trigger,)))

        self._pending_missed[key] = async_call_later(
            self.hass, self._settings.missed_call_settle, _settled
        )

    @callback
    def _async_expire_calls(self, now: datetime) -> None:
        """End calls whose CALL_ENDED never came (lost, or older than the server's history)."""
        for subscriber in self.subscribers.values():
            if subscriber.calls.expire(now):
                self._notify(subscriber, SubscriberUpdate(Aspect.CALLS))

    def _voicemail(self, sub: Subscriber, event: VoicemailEvent) -> SubscriberUpdate:
        hidden = sub.caller_hidden(event.from_number)
        payload = bus.voicemail_payload(event, hidden) | bus.party_names(
            self.phonebook, event.from_number, event.to_number, hidden=hidden
        )
        payload["media_content_id"] = voicemail_media_content_id(
            self.entry.entry_id, sub.number, event.voicemail_id
        )
        sub.add_voicemail(
            UnheardVoicemail(event.voicemail_id, payload["from_number"], event.timestamp)
        )
        self._fire(event, bus.TYPE_VOICEMAIL_NEW, sub, payload)
        return SubscriberUpdate(Aspect.VOICEMAIL, (EntityTrigger(EVENT_VOICEMAIL, "new", payload),))

    def _sms(self, sub: Subscriber, event: SmsEvent) -> SubscriberUpdate:
        if event.direction == SmsDirection.FROM_SUBSCRIBER:
            sent = True
        elif event.direction == SmsDirection.TO_SUBSCRIBER:
            sent = False
        else:
            sent = event.from_address == sub.number
        payload = bus.sms_payload(event, self._share_sms_text) | bus.party_names(
            self.phonebook, event.from_address, event.to_address
        )
        self._fire(event, bus.TYPE_SMS_SENT if sent else bus.TYPE_SMS_RECEIVED, sub, payload)
        # Entity attributes are recorded in history: the text only ever goes on the bus.
        attributes = {key: value for key, value in payload.items() if key not in ("text", "data")}
        trigger = EntityTrigger(EVENT_SMS, "sent" if sent else "received", attributes)
        return SubscriberUpdate(Aspect(0), (trigger,))

    def _delivery_report(self, sub: Subscriber, event: SmsDeliveryReportEvent) -> SubscriberUpdate:
        payload = bus.delivery_report_payload(event) | bus.party_names(
            self.phonebook, event.from_address, event.to_address
        )
        self._fire(event, bus.TYPE_SMS_DELIVERY_REPORT, sub, payload)
        return SubscriberUpdate(Aspect(0), (EntityTrigger(EVENT_SMS, "delivery_report", payload),))

    def _country(self, sub: Subscriber, event: CountryChangeEvent) -> SubscriberUpdate:
        if event.current is not None:
            sub.previous_country = event.previous or sub.country
            sub.country = event.current
        self._fire(event, bus.TYPE_ROAMING, sub, bus.country_payload(event, sub.roaming))
        return SubscriberUpdate(Aspect.COUNTRY if event.current is not None else Aspect(0))

    def _location(self, sub: Subscriber, event: LocationUpdateEvent) -> SubscriberUpdate:
        if event.current is not None:
            sub.location = event.current
        self._fire(event, bus.TYPE_LOCATION, sub, bus.location_payload(event))
        return SubscriberUpdate(Aspect.LOCATION if event.current is not None else Aspect(0))

    def _handset(self, sub: Subscriber, event: HandsetUpdateEvent) -> SubscriberUpdate:
        if event.current is not None:
            sub.handset = event.current
        self._fire(event, bus.TYPE_HANDSET, sub, bus.handset_payload(event))
        return SubscriberUpdate(Aspect.HANDSET if event.current is not None else Aspect(0))

    # -- subscribers and devices -----------------------------------------------------

    def _new_subscriber(self, number: str, device_id: str, name: str) -> Subscriber:
        return Subscriber(number, device_id, name, self._home_country)

    def _subscriber(self, number: str) -> Subscriber:
        """Return the subscriber of a number, creating its device on its first event."""
        if (subscriber := self.subscribers.get(number)) is not None:
            return subscriber
        name = self.phonebook.name_for(number) or number
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
        for listener in list(self._new_subscriber_listeners):
            listener(subscriber)
        return subscriber

    def _forget(self, number: str) -> None:
        self.subscribers.pop(number, None)
        for key in [key for key in self._pending_missed if key[0] == number]:
            self._pending_missed.pop(key)()
        self._store.schedule_save(self._snapshots)

    def _consent_issue_id(self, number: str) -> str:
        # A digest stands in for the number: issue ids end up in storage and logs.
        digest = hashlib.sha256(number.encode()).hexdigest()[:16]
        return CONSENT_REVOKED_ISSUE_ID.format(entry_id=self.entry.entry_id, digest=digest)

    def _consent_revoked(self, event: ConsentRevokeEvent, number: str) -> None:
        """Fire the bus event, remove the device and raise a repair issue."""
        registry = dr.async_get(self.hass)
        device = registry.async_get_device_by_identifier(
            device_identifier(self.entry.entry_id, number), self.entry.entry_id
        )
        envelope = bus.envelope(
            event, bus.TYPE_CONSENT_REVOKED, number, device.id if device else None
        )
        self.hass.bus.async_fire(EVENT_WGTWO, envelope)
        self._forget(number)
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
                CONF_NAME: self.phonebook.name_for(number) or number,
                "entry_title": self.entry.title,
            },
        )
        _LOGGER.info("A subscriber revoked consent; its device was removed")
