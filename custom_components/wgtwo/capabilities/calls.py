"""Calls: voice events, the call state, the last caller and missed calls.

``call_missed`` is decided per incoming call (the subscriber is the called party, or the
caller is unknown): right away when the call is forwarded to voicemail without having been
answered, or ``missed_call_settle`` seconds (2 s) after ``call_ended`` of a call that was
never answered, so that a ``call_answered`` delivered late (out of order) cancels it. A call
known only from its ``call_ended`` (no initiated/ringing/forwarded event, e.g. answered before
a restart) is not missed. Each call is reported missed at most once; the ``call_missed`` bus
event carries the envelope (sequence, timestamp) of the event that decided it.

A decision waiting for its settle time is part of the subscriber's snapshot, written before
the ``call_ended`` that started it is acknowledged (not with the debounced save): after a
restart or a crash it settles at the same time (at once when that time passed meanwhile),
once the entry's entities are set up again, and a late ``call_answered`` still cancels it.
Like every event across a crash, it is reported at least once: a crash after ``call_missed``
was fired but before the count was saved reports it again at the next start. A crash while
the decision is being written leaves the ``call_ended`` unacknowledged: the operator
delivers it again, alone, and a call known only from its end is not missed.

``call_ended`` tells whether the call was answered and for how long, from the events handled
before it: an answer delivered after the end (out of order) cannot change an event already
fired, it only cancels the pending ``call_missed``. Calls whose end never arrives are ended
by a sweep once a minute (see :mod:`..call_state`).

Bus events: ``call_initiated``, ``call_ringing``, ``call_answered``,
``call_forwarded_to_voicemail``, ``call_ended`` (adds ``answered`` and ``duration``) and
``call_missed``, each with ``call_id``, ``direction``, ``from_number`` (None if hidden),
``to_number``, ``caller_id_hidden``, ``from_name`` and ``to_name``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.util import dt as dt_util

from ..call_state import PHASES, Call, CallDirection, CallPhase, call_direction
from ..client import VoiceEvent, VoiceEventKind
from ..phonebook import Phonebook
from ..subscriber import NO_ASPECTS, Aspect, LastCaller, PendingMissed, Subscriber
from .base import (
    NO_CHANGE,
    BusEvent,
    Capability,
    EntityTrigger,
    Sentence,
    SubscriberUpdate,
    envelope_of,
    party,
)

_LOGGER = logging.getLogger(__name__)

# How often calls whose end never arrived are looked for.
CALL_SWEEP_INTERVAL: Final = timedelta(minutes=1)

EVENT_CALL: Final = "call"  # the call event entity's key
CALL_EVENT_TYPES: Final = [
    "initiated",
    "ringing",
    "answered",
    "ended",
    "missed",
    "forwarded_to_voicemail",
]

TYPE_CALL_INITIATED: Final = "call_initiated"
TYPE_CALL_RINGING: Final = "call_ringing"
TYPE_CALL_ANSWERED: Final = "call_answered"
TYPE_CALL_ENDED: Final = "call_ended"
TYPE_CALL_MISSED: Final = "call_missed"
TYPE_CALL_FORWARDED: Final = "call_forwarded_to_voicemail"

# Phase -> (bus event type, event entity type, logbook sentence stem).
_PHASE_TYPES: Final[dict[CallPhase, tuple[str, str, str]]] = {
    CallPhase.INITIATED: (TYPE_CALL_INITIATED, "initiated", "call_initiated"),
    CallPhase.RINGING: (TYPE_CALL_RINGING, "ringing", "call_ringing"),
    CallPhase.ANSWERED: (TYPE_CALL_ANSWERED, "answered", "call_answered"),
    CallPhase.FORWARDED: (TYPE_CALL_FORWARDED, "forwarded_to_voicemail", "call_forwarded"),
    CallPhase.ENDED: (TYPE_CALL_ENDED, "ended", "call_ended"),
}


def call_payload(
    event: VoiceEvent, direction: CallDirection, hidden: bool, phonebook: Phonebook
) -> dict[str, Any]:
    """Call fields: call_id, direction, from_number (None if hidden), to_number, hidden flag.

    Then both parties' names, as :func:`party_names` gives them (one dict, on every call
    event): a hidden caller is never named.
    """
    from_number = event.from_number
    to_number = event.to_number
    return {
        "call_id": event.call_id,
        "direction": str(direction),
        "from_number": None if hidden else from_number,
        "to_number": to_number,
        "caller_id_hidden": hidden,
        "from_name": None if hidden else phonebook.name_for(from_number),
        "to_name": phonebook.name_for(to_number),
    }


def call_end_payload(call: Call, ended: datetime) -> dict[str, Any]:
    """End-of-call fields: whether it was answered, and seconds from answer to end.

    Both come from what was handled before the end: an answer delivered after it (out of
    order) is not reflected, so ``answered`` is False and ``duration`` None then.
    """
    return {"answered": call.answered, "duration": call.duration(ended)}


def format_duration(seconds: float) -> str:
    """Seconds as a clock reading, the same in every language: ``m:ss`` or ``h:mm:ss``."""
    minutes, secs = divmod(max(round(seconds), 0), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _sentence(stem: str) -> Any:
    """Return the sentence of a call phase: the caller (or hidden), or the callee if outgoing."""

    def sentence(data: Mapping[str, Any]) -> Sentence:
        placeholders: dict[str, str | None] = {}
        key_stem = stem
        duration = data.get("duration")
        if stem == "call_ended" and isinstance(duration, int | float):
            key_stem = "call_ended_after"
            placeholders["duration"] = format_duration(duration)
        if data.get("direction") == "outgoing":
            return f"logbook_{key_stem}_outgoing", placeholders | {"party": party(data, "to")}
        key = f"logbook_{key_stem}_incoming"
        if caller := party(data, "from"):
            return key, placeholders | {"party": caller}
        return f"{key}_hidden", placeholders

    return sentence


def _missed_sentence(data: Mapping[str, Any]) -> Sentence:
    if caller := party(data, "from"):
        return "logbook_call_missed", {"party": caller}
    return "logbook_call_missed_hidden", {}


_CALL_ENTITY: Final = ("event", EVENT_CALL)


class Calls(Capability):
    """Voice events of a subscriber's calls; the missed calls they add up to."""

    events = (VoiceEvent,)
    bus_events = {
        **{
            bus_type: BusEvent(sentence=_sentence(stem), entity=_CALL_ENTITY)
            for bus_type, _trigger, stem in _PHASE_TYPES.values()
        },
        TYPE_CALL_MISSED: BusEvent(sentence=_missed_sentence, entity=_CALL_ENTITY),
    }

    def __init__(self, *args: Any) -> None:
        """Start with no pending missed call."""
        super().__init__(*args)
        self._pending_missed: dict[tuple[str, str], CALLBACK_TYPE] = {}

    async def async_setup(self) -> None:
        """Sweep, once a minute, calls whose end never came."""
        self.room.entry.async_on_unload(
            async_track_time_interval(
                self.room.hass,
                self._async_expire_calls,
                CALL_SWEEP_INTERVAL,
                cancel_on_shutdown=True,
            )
        )

    def apply(self, sub: Subscriber, event: VoiceEvent) -> SubscriberUpdate:
        """Move the call on, name the last caller, fire the call's event; maybe a missed call."""
        kind = event.call_event
        phase = PHASES.get(kind) if isinstance(kind, VoiceEventKind) else None
        if phase is None:
            _LOGGER.debug("Ignoring voice event %s of unknown type", event.sequence)
            return NO_CHANGE
        existing = sub.calls.get(event.call_id)
        direction = (
            existing.direction
            if existing
            else call_direction(event.owner, event.from_number, event.to_number)
        )
        update = sub.calls.apply(event.call_id, phase, direction, event.timestamp)
        call = update.call
        aspects = Aspect.CALLS if update.advanced else NO_ASPECTS
        # Once any event of a call says the caller hid the number, it stays hidden.
        newly_hidden = event.caller_id_hidden and not call.hidden
        call.hidden = hidden = call.hidden or event.caller_id_hidden
        if direction == CallDirection.INCOMING and (update.new_call or newly_hidden):
            if event.from_number:
                sub.remember_caller(self.room.number_key(event.from_number), hidden)
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
        payload = call_payload(event, direction, hidden, self.room.phonebook)
        bus_type, trigger_type, _stem = _PHASE_TYPES[phase]
        fired = payload
        if phase == CallPhase.ENDED:
            fired = payload | call_end_payload(call, event.timestamp)
        self.fire(event, bus_type, sub, fired)
        triggers = [EntityTrigger(EVENT_CALL, trigger_type, fired)]
        if update.advanced and call.unanswered_incoming:
            decided = PendingMissed(
                event.call_id,
                dt_util.utcnow(),
                event.timestamp,
                event.sequence,
                payload,
            )
            if phase == CallPhase.FORWARDED:
                if missed := self._report_missed(sub, decided):
                    triggers.append(missed)
                    aspects |= Aspect.MISSED_CALLS
            elif not call.missed:
                self._schedule_missed(sub, decided)
        return SubscriberUpdate(aspects, tuple(triggers))

    def _report_missed(self, sub: Subscriber, decided: PendingMissed) -> EntityTrigger | None:
        """Count the call as missed and fire ``call_missed`` (once per call)."""
        call_id = decided.call_id
        if (cancel := self._pending_missed.pop((sub.number, call_id), None)) is not None:
            cancel()
        sub.pending_missed.pop(call_id, None)
        if not sub.calls.mark_missed(call_id):
            return None
        sub.missed_calls += 1
        self.room.fire(
            envelope_of(
                TYPE_CALL_MISSED, sub.number, sub.device_id, decided.timestamp, decided.sequence
            )
            | decided.payload
        )
        return EntityTrigger(EVENT_CALL, "missed", decided.payload)

    def _schedule_missed(self, sub: Subscriber, decided: PendingMissed) -> None:
        """Decide after the settle time; the decision is stored before the event is acked."""
        settle = timedelta(seconds=self.room.settings.missed_call_settle)
        pending = replace(decided, settles=decided.settles + settle)
        sub.pending_missed[pending.call_id] = pending
        self._arm(sub, pending)
        self.room.save(sub.number, before_ack=True)

    def _arm(self, sub: Subscriber, pending: PendingMissed) -> None:
        key = (sub.number, pending.call_id)
        if key in self._pending_missed:
            return

        @callback
        def _settled(_now: datetime) -> None:
            self._pending_missed.pop(key, None)
            self._settle(sub, pending)

        delay = (pending.settles - dt_util.utcnow()).total_seconds()
        self._pending_missed[key] = async_call_later(self.room.hass, max(delay, 0.0), _settled)

    def _settle(self, sub: Subscriber, pending: PendingMissed) -> None:
        if trigger := self._report_missed(sub, pending):
            self.room.notify(sub, SubscriberUpdate(Aspect.MISSED_CALLS, (trigger,)))
        else:  # answered late: the stored decision goes
            self.room.save(sub.number)

    @callback
    def started(self) -> None:
        """Settle the decisions restored from the snapshots (the entities are set up).

        One whose time passed while Home Assistant was stopped settles at once.
        """
        now = dt_util.utcnow()
        for subscriber in self.room.subscribers.values():
            for pending in list(subscriber.pending_missed.values()):
                if pending.settles <= now:
                    self._settle(subscriber, pending)
                else:
                    self._arm(subscriber, pending)

    @callback
    def _async_expire_calls(self, now: datetime) -> None:
        """End calls whose CALL_ENDED never came (lost, or older than the server's history)."""
        for subscriber in self.room.subscribers.values():
            if subscriber.calls.expire(now):
                self.room.notify(subscriber, SubscriberUpdate(Aspect.CALLS))

    @callback
    def async_reset_missed_calls(self, subscriber: Subscriber) -> None:
        """Set the missed calls count back to zero (an action and a button)."""
        subscriber.missed_calls = 0
        self.room.notify(subscriber, SubscriberUpdate(Aspect.MISSED_CALLS))

    def forget(self, number: str) -> None:
        """Cancel the pending missed calls of a subscriber that is gone."""
        for key in [key for key in self._pending_missed if key[0] == number]:
            self._pending_missed.pop(key)()

    def unload(self) -> None:
        """Cancel every pending missed call's timer (the decisions stay in the snapshots)."""
        for cancel in self._pending_missed.values():
            cancel()
        self._pending_missed.clear()
