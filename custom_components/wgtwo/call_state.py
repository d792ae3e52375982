"""Per-subscriber call state machine that tolerates reordered and repeated voice events.

Each call moves forward through INITIATED < RINGING < ANSWERED < FORWARDED < ENDED. An event
whose phase is not ahead of the call's current phase is stale (a reordered or repeated
delivery) and does not change the state, so an ENDED delivered before the ANSWERED of the
same call leaves the subscriber idle, not talking. A late ANSWERED is still remembered on a
finished call so a pending "missed call" decision can be cancelled.

The time of the first ANSWERED is kept, so an ENDED that follows it gives the call's duration
(from answer to end, both as the network stamped them). An ENDED handled before the call's
ANSWERED (reordered delivery) has no duration: what happens later cannot be told then.

Memory is bounded: at most ``max_active`` calls in progress (the oldest are dropped),
calls in progress without news for ``max_age`` (answered) or ``max_unanswered_age`` (still
ringing or dialling) are dropped, also by a periodic sweep, so a lost CALL_ENDED cannot
leave the phone "talking" for good, and at most
``max_finished`` finished calls are remembered to recognise stale events.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum

from .client import VoiceEventKind


class CallPhase(IntEnum):
    """How far a call has progressed; events only move a call forward."""

    INITIATED = 1
    RINGING = 2
    ANSWERED = 3
    FORWARDED = 4
    ENDED = 5


PHASES: dict[VoiceEventKind, CallPhase] = {
    VoiceEventKind.CALL_INITIATED: CallPhase.INITIATED,
    VoiceEventKind.CALL_RINGING: CallPhase.RINGING,
    VoiceEventKind.CALL_ANSWERED: CallPhase.ANSWERED,
    VoiceEventKind.CALL_FWD_VOICEMAIL: CallPhase.FORWARDED,
    VoiceEventKind.CALL_ENDED: CallPhase.ENDED,
}


class CallDirection(StrEnum):
    """Direction of a call seen from the subscriber."""

    INCOMING = "incoming"
    OUTGOING = "outgoing"


class CallState(StrEnum):
    """Aggregate state of a subscriber's phone (the `call_state` sensor's options)."""

    IDLE = "idle"
    RINGING = "ringing"
    DIALING = "dialing"
    TALKING = "talking"


def call_direction(
    owner: str | None, from_number: str | None, to_number: str | None
) -> CallDirection:
    """Return the direction of a call for its owner.

    The owner is the calling subscriber when it is the caller and not also the callee;
    every other case (including anonymous calls without a caller number) counts as incoming.
    """
    if owner is not None and owner == from_number and owner != to_number:
        return CallDirection.OUTGOING
    return CallDirection.INCOMING


@dataclass(slots=True)
class Call:
    """What is known about one call of the subscriber."""

    call_id: str
    direction: CallDirection
    phase: CallPhase
    updated: datetime
    answered: bool = False
    missed: bool = False
    hidden: bool = False
    # Whether an event showed the phone was reached (initiated, ringing or forwarded):
    # a call known only from its CALL_ENDED (e.g. answered before a restart) is not missed.
    reached: bool = False
    # When the network said the call was answered (the earliest such event).
    answered_at: datetime | None = None

    @property
    def finished(self) -> bool:
        """Whether the subscriber's phone is done with this call."""
        return self.phase >= CallPhase.FORWARDED

    @property
    def unanswered_incoming(self) -> bool:
        """Whether this is an incoming call that finished without being answered."""
        return self.direction == CallDirection.INCOMING and self.finished and not self.answered

    def duration(self, ended: datetime) -> float | None:
        """Seconds from the answer to ``ended`` (ms precision); None if no answer is known.

        Clocks of different network nodes may disagree slightly: never negative.
        """
        if self.answered_at is None:
            return None
        return round(max((ended - self.answered_at).total_seconds(), 0.0), 3)


@dataclass(frozen=True, slots=True)
class CallUpdate:
    """Outcome of applying one voice event."""

    call: Call
    new_call: bool
    advanced: bool


class CallTracker:
    """Calls of one subscriber, keyed by call id, with an aggregate state."""

    def __init__(
        self,
        *,
        max_active: int = 16,
        max_finished: int = 256,
        max_age: timedelta = timedelta(hours=6),
        max_unanswered_age: timedelta = timedelta(minutes=5),
    ) -> None:
        """Set the memory bounds."""
        self._max_active = max_active
        self._max_finished = max_finished
        self._max_age = max_age
        self._max_unanswered_age = max_unanswered_age
        self._active: OrderedDict[str, Call] = OrderedDict()
        # No call in progress can be stale before this time (None: none is in progress), so
        # that most events need no look for stale calls.
        self._sweep_at: datetime | None = None
        self._shortest_age = min(max_age, max_unanswered_age)
        self._finished: OrderedDict[str, Call] = OrderedDict()

    @property
    def state(self) -> CallState:
        """Aggregate state: talking > ringing > dialing > idle."""
        if not self._active:
            return CallState.IDLE
        state = CallState.DIALING
        for call in self._active.values():
            if call.answered:
                return CallState.TALKING
            if call.direction == CallDirection.INCOMING:
                state = CallState.RINGING
        return state

    @property
    def active_calls(self) -> int:
        """Number of calls in progress."""
        return len(self._active)

    def get(self, call_id: str) -> Call | None:
        """Return a known call (active or finished)."""
        return self._active.get(call_id) or self._finished.get(call_id)

    def apply(
        self, call_id: str, phase: CallPhase, direction: CallDirection, timestamp: datetime
    ) -> CallUpdate:
        """Apply one voice event; stale phases leave the call unchanged."""
        self._expire(timestamp)
        call = self.get(call_id)
        if call is None:
            call = Call(call_id, direction, phase, timestamp)
            self._store(call)
            self._note(call, phase, timestamp)
            return CallUpdate(call, new_call=True, advanced=True)
        # Remembered even when stale, so a "missed" decision can be revisited.
        self._note(call, phase, timestamp)
        if phase <= call.phase:
            return CallUpdate(call, new_call=False, advanced=False)
        call.phase = phase
        call.updated = max(call.updated, timestamp)
        if call.finished and call_id in self._active:
            del self._active[call_id]
            self._remember_finished(call)
        return CallUpdate(call, new_call=False, advanced=True)

    @staticmethod
    def _note(call: Call, phase: CallPhase, timestamp: datetime) -> None:
        if phase == CallPhase.ANSWERED:
            call.answered = True
            if call.answered_at is None or timestamp < call.answered_at:
                call.answered_at = timestamp
        elif phase != CallPhase.ENDED:
            call.reached = True

    def restore_unanswered(self, call_id: str, ended: datetime, *, hidden: bool) -> None:
        """Know again an incoming call that rang and ended unanswered (before a restart).

        A missed-call decision still pending for it can then be cancelled by a late answer.
        """
        if self.get(call_id) is None:
            self._remember_finished(
                Call(
                    call_id,
                    CallDirection.INCOMING,
                    CallPhase.ENDED,
                    ended,
                    hidden=hidden,
                    reached=True,
                )
            )

    def mark_missed(self, call_id: str) -> bool:
        """Record that a call is reported missed.

        False when it already was, was answered, or is known only from its end.
        """
        call = self.get(call_id)
        if call is None or call.missed or not call.reached or not call.unanswered_incoming:
            return False
        call.missed = True
        return True

    def _store(self, call: Call) -> None:
        if call.finished:
            self._remember_finished(call)
            return
        self._active[call.call_id] = call
        # A call's updated time only moves on: this one is stale at the earliest then.
        earliest = call.updated + self._shortest_age
        if self._sweep_at is None or earliest < self._sweep_at:
            self._sweep_at = earliest
        while len(self._active) > self._max_active:
            _, oldest = self._active.popitem(last=False)
            self._remember_finished(oldest)

    def _remember_finished(self, call: Call) -> None:
        self._finished[call.call_id] = call
        self._finished.move_to_end(call.call_id)
        while len(self._finished) > self._max_finished:
            self._finished.popitem(last=False)

    def expire(self, now: datetime) -> bool:
        """Forget calls in progress whose end never arrived; True if the state changed.

        A call that rang or dialled without an answer for ``max_unanswered_age`` is over
        (networks stop ringing within minutes); an answered one after ``max_age``.
        """
        if not self._active:
            self._sweep_at = None
            return False
        # Compared with the two cut-off times: no subtraction per call.
        answered_cut = now - self._max_age
        unanswered_cut = now - self._max_unanswered_age
        stale = [
            call_id
            for call_id, call in self._active.items()
            if call.updated < (answered_cut if call.answered else unanswered_cut)
        ]
        for call_id in stale:
            self._remember_finished(self._active.pop(call_id))
        self._sweep_at = (
            min(call.updated for call in self._active.values()) + self._shortest_age
            if self._active
            else None
        )
        return bool(stale)

    def _expire(self, now: datetime) -> None:
        """Forget stale calls before an event is applied, once one may be stale."""
        if self._sweep_at is not None and now >= self._sweep_at:
            self.expire(now)
