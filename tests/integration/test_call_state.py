"""The call state machine alone: order independence, simultaneous calls, bounded memory."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from custom_components.wgtwo.call_state import (
    CallDirection,
    CallPhase,
    CallState,
    CallTracker,
    call_direction,
)
from custom_components.wgtwo.countries import country_from_number, normalize_country_code

T0 = datetime(2026, 1, 1, tzinfo=UTC)
IN = CallDirection.INCOMING
OUT = CallDirection.OUTGOING


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def state(calls: CallTracker) -> CallState:
    """Read the aggregate state (a call, so type checkers do not pin it)."""
    return calls.state


def test_direction_from_owner() -> None:
    assert call_direction("+47a", "+47b", "+47a") is IN
    assert call_direction("+47a", "+47a", "+47b") is OUT
    # Anonymous caller without a number, and a call to oneself, count as incoming.
    assert call_direction("+47a", None, "+47a") is IN
    assert call_direction("+47a", "+47a", "+47a") is IN
    assert call_direction(None, "+47a", "+47b") is IN


def test_incoming_call_lifecycle() -> None:
    calls = CallTracker()
    assert state(calls) is CallState.IDLE
    calls.apply("c", CallPhase.INITIATED, IN, t(0))
    assert state(calls) is CallState.RINGING
    calls.apply("c", CallPhase.RINGING, IN, t(1))
    assert state(calls) is CallState.RINGING
    calls.apply("c", CallPhase.ANSWERED, IN, t(2))
    assert state(calls) is CallState.TALKING
    update = calls.apply("c", CallPhase.ENDED, IN, t(3))
    assert update.advanced
    assert state(calls) is CallState.IDLE
    assert calls.active_calls == 0
    assert not update.call.unanswered_incoming


def test_outgoing_call_is_dialing_until_answered() -> None:
    calls = CallTracker()
    calls.apply("c", CallPhase.INITIATED, OUT, t(0))
    calls.apply("c", CallPhase.RINGING, OUT, t(1))
    assert state(calls) is CallState.DIALING
    calls.apply("c", CallPhase.ANSWERED, OUT, t(2))
    assert state(calls) is CallState.TALKING


KINDS = [CallPhase.INITIATED, CallPhase.RINGING, CallPhase.ANSWERED, CallPhase.ENDED]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_any_delivery_order_ends_idle_and_answered(order: tuple[int, ...]) -> None:
    calls = CallTracker()
    for index in order:
        calls.apply("c", KINDS[index], IN, t(index))
    assert state(calls) is CallState.IDLE
    call = calls.get("c")
    assert call is not None
    assert call.answered
    assert not calls.mark_missed("c")


def test_stale_events_do_not_move_a_call_back() -> None:
    calls = CallTracker()
    calls.apply("c", CallPhase.ANSWERED, IN, t(2))
    update = calls.apply("c", CallPhase.RINGING, IN, t(1))
    assert not update.advanced
    assert state(calls) is CallState.TALKING
    # A repeated event is stale too.
    assert not calls.apply("c", CallPhase.ANSWERED, IN, t(2)).advanced


def test_simultaneous_calls_aggregate_by_precedence() -> None:
    calls = CallTracker()
    calls.apply("out", CallPhase.INITIATED, OUT, t(0))
    assert state(calls) is CallState.DIALING
    calls.apply("in", CallPhase.RINGING, IN, t(1))
    assert state(calls) is CallState.RINGING
    calls.apply("out", CallPhase.ANSWERED, OUT, t(2))
    assert state(calls) is CallState.TALKING
    calls.apply("out", CallPhase.ENDED, OUT, t(3))
    assert state(calls) is CallState.RINGING
    calls.apply("in", CallPhase.ENDED, IN, t(4))
    assert state(calls) is CallState.IDLE


def test_missed_call_is_reported_once() -> None:
    calls = CallTracker()
    calls.apply("c", CallPhase.RINGING, IN, t(0))
    assert not calls.mark_missed("c")  # still ringing
    calls.apply("c", CallPhase.FORWARDED, IN, t(1))
    assert state(calls) is CallState.IDLE
    assert calls.mark_missed("c")
    calls.apply("c", CallPhase.ENDED, IN, t(2))
    assert not calls.mark_missed("c")
    assert not calls.mark_missed("unknown")


def test_late_answer_cancels_missed() -> None:
    calls = CallTracker()
    calls.apply("c", CallPhase.ENDED, IN, t(3))
    calls.apply("c", CallPhase.ANSWERED, IN, t(2))
    assert state(calls) is CallState.IDLE
    assert not calls.mark_missed("c")


def test_outgoing_unanswered_is_not_missed() -> None:
    calls = CallTracker()
    calls.apply("c", CallPhase.INITIATED, OUT, t(0))
    calls.apply("c", CallPhase.ENDED, OUT, t(1))
    assert not calls.mark_missed("c")


def test_memory_is_bounded() -> None:
    calls = CallTracker(max_active=2, max_finished=3, max_age=timedelta(hours=1))
    for i in range(3):
        calls.apply(f"a{i}", CallPhase.RINGING, IN, t(i))
    assert calls.active_calls == 2
    for i in range(5):
        calls.apply(f"f{i}", CallPhase.ENDED, IN, t(10 + i))
    assert calls.get("f0") is None
    assert calls.get("f4") is not None
    # A call without news for longer than max_age is dropped from the state.
    calls = CallTracker(max_age=timedelta(hours=1))
    calls.apply("old", CallPhase.ANSWERED, IN, t(0))
    calls.apply("new", CallPhase.RINGING, IN, t(7200))
    assert calls.active_calls == 1
    assert state(calls) is CallState.RINGING
    # Events for a dropped call stay out of the state.
    calls.apply("old", CallPhase.ENDED, IN, t(7201))
    assert calls.active_calls == 1


def test_home_country_from_number() -> None:
    assert country_from_number("+4799900001") == "NO"
    assert country_from_number("+46701234567") == "SE"
    assert country_from_number("+358401234567") == "FI"
    assert country_from_number("+12025550123") == "US"
    assert country_from_number("+354123456") == "IS"
    assert country_from_number("+999123") is None
    assert normalize_country_code(" nor ") == "NO"
    assert normalize_country_code("se") == "SE"
    assert normalize_country_code("") is None


def test_call_known_only_from_its_end_is_not_missed() -> None:
    """E.g. answered before a restart: only CALL_ENDED is delivered afterwards."""
    calls = CallTracker()
    calls.apply("c", CallPhase.ENDED, IN, t(5))
    assert not calls.mark_missed("c")
    # A reordered RINGING arriving later shows the phone was reached.
    calls.apply("c", CallPhase.RINGING, IN, t(1))
    assert calls.mark_missed("c")


def test_calls_whose_end_never_came_expire() -> None:
    calls = CallTracker()
    calls.apply("ring", CallPhase.RINGING, IN, t(0))
    calls.apply("talk", CallPhase.ANSWERED, IN, t(0))
    assert not calls.expire(t(60))
    assert calls.active_calls == 2
    # Nobody rings for five minutes: that call is over, the answered one goes on.
    assert calls.expire(t(301))
    assert calls.active_calls == 1
    assert state(calls) is CallState.TALKING
    assert not calls.expire(t(3600))
    assert calls.expire(t(6 * 3600 + 1))
    assert state(calls) is CallState.IDLE


def test_an_event_forgets_each_call_that_went_stale_before_it() -> None:
    """Between periodic sweeps, the next event of the line drops what is stale by then."""
    calls = CallTracker()
    calls.apply("a", CallPhase.RINGING, IN, t(0))
    calls.apply("b", CallPhase.RINGING, IN, t(200))
    calls.apply("c", CallPhase.ANSWERED, IN, t(250))
    calls.apply("c", CallPhase.ANSWERED, IN, t(300))  # a repeat: nothing is stale yet
    assert calls.active_calls == 3
    calls.apply("d", CallPhase.RINGING, IN, t(301))
    assert calls.active_calls == 3  # "a" rang unanswered for over five minutes: gone
    calls.apply("d", CallPhase.ANSWERED, IN, t(501))
    assert calls.active_calls == 2  # then "b"; the answered calls go on
    assert state(calls) is CallState.TALKING
