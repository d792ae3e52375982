"""Time-based behaviour driven by a frozen clock: missed-call settle, call expiry, the grace
period of a lost stream and the long pause after a refused request.

The clock is frozen only once the stream is connected (connecting keeps its real timing);
from then on the loop's time is the frozen one, so timers run when the test moves it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import grpc
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory, StepTickTimeFactory, TickingDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed_exact,
)

from custom_components.wgtwo.client import ConnectionState, VoiceEvent, WgtwoEvent
from custom_components.wgtwo.const import EVENT_WGTWO
from custom_components.wgtwo.coordinator import WgtwoCoordinator
from custom_components.wgtwo.hub import StreamState
from wgtwo_sandbox import SandboxServer

from .conftest import async_setup_entry_and_connect, change_settings, hub_of
from .events import typed_events
from .wgtwo_events import ALICE, coordinator_of, entity_id

type Frozen = FrozenDateTimeFactory | StepTickTimeFactory | TickingDateTimeFactory


async def tick(hass: HomeAssistant, frozen: Frozen, seconds: float) -> None:
    """Move the frozen clock and run what became due."""
    frozen.tick(timedelta(seconds=seconds))
    async_fire_time_changed_exact(hass)
    await hass.async_block_till_done()


async def stream_reaches(coordinator: WgtwoCoordinator, state: StreamState) -> None:
    """Wait (without timers: the clock is frozen) until the stream is in ``state``."""
    reached = asyncio.Event()

    @callback
    def _changed() -> None:
        if coordinator.hub.state is state:
            reached.set()

    remove = coordinator.async_add_stream_listener(_changed)
    _changed()
    try:
        await reached.wait()
    finally:
        remove()


def call_events(*kinds: str) -> list[WgtwoEvent]:
    """The fixture call c1 (Bob calling Alice), only the given kinds, in this order."""
    calls = {str(e.call_event): e for e in typed_events("one_call") if isinstance(e, VoiceEvent)}
    return [calls[kind] for kind in kinds]


async def connected_entry(hass: HomeAssistant, entry: MockConfigEntry, **settings: float) -> None:
    change_settings(hass, **settings)
    await async_setup_entry_and_connect(hass, entry)


def state(hass: HomeAssistant, entry: MockConfigEntry, platform: str, key: str) -> str:
    found = hass.states.get(entity_id(hass, entry, platform, ALICE, key))
    assert found is not None
    return found.state


async def feed(coordinator: WgtwoCoordinator, events: list[WgtwoEvent]) -> None:
    for event in events:
        await coordinator.async_handle_event(event)


async def test_missed_call_settles_unless_a_late_answer_comes(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    await connected_entry(hass, config_entry, missed_call_settle=2.0)
    coordinator = coordinator_of(config_entry)
    fired = async_capture_events(hass, EVENT_WGTWO)
    missed: Callable[[], list[str]] = lambda: [  # noqa: E731
        e.data["call_id"] for e in fired if e.data["type"] == "call_missed"
    ]
    with freeze_time(dt_util.utcnow()) as frozen:
        await feed(coordinator, call_events("call_ringing", "call_ended"))
        await tick(hass, frozen, 1.9)
        assert missed() == []
        # A late "answered" within the settle time: it was no missed call.
        await feed(coordinator, call_events("call_answered"))
        await tick(hass, frozen, 5)
        assert missed() == []
        assert state(hass, config_entry, "sensor", "missed_calls") == "0"
    # Another call, with no late answer: missed once the settle time is over.
    with freeze_time(dt_util.utcnow()) as frozen:
        await feed(coordinator, typed_events("one_call_unanswered"))
        await tick(hass, frozen, 1.9)
        assert missed() == []
        await tick(hass, frozen, 0.2)
        assert missed() == ["c2"]
        assert state(hass, config_entry, "sensor", "missed_calls") == "1"


async def test_calls_whose_end_never_comes_expire(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """Unanswered after 5 minutes, answered after 6 hours: the phone is idle again."""
    await connected_entry(hass, config_entry)
    coordinator = coordinator_of(config_entry)
    ringing = typed_events("one_call_unanswered")[0]  # c2 rings at 09:00:00
    with freeze_time(ringing.timestamp) as frozen:
        await feed(coordinator, [ringing])
        assert state(hass, config_entry, "sensor", "call_state") == "ringing"
        await tick(hass, frozen, 4 * 60)
        assert state(hass, config_entry, "sensor", "call_state") == "ringing"
        await tick(hass, frozen, 2 * 60 + 1)
        assert state(hass, config_entry, "sensor", "call_state") == "idle"
        # c1 was answered at 08:00:10; its end never comes.
        await feed(coordinator, call_events("call_ringing", "call_answered"))
        assert state(hass, config_entry, "sensor", "call_state") == "talking"
        until_almost_six_hours = (13 * 3600 + 59 * 60) - (9 * 3600 + 6 * 60 + 1)
        await tick(hass, frozen, until_almost_six_hours)
        assert state(hass, config_entry, "sensor", "call_state") == "talking"
        await tick(hass, frozen, 2 * 60)
        assert state(hass, config_entry, "sensor", "call_state") == "idle"


async def test_a_lost_stream_shows_only_after_the_grace_period(
    hass: HomeAssistant, auth_sandbox: SandboxServer, config_entry: MockConfigEntry
) -> None:
    """Within 15 s nothing shows; after it, connected is off and the call state unavailable,
    while facts keep their value (the way back is tested with real time elsewhere)."""
    # The reconnect waits 30-60 s, longer than the grace, so the two never race.
    await connected_entry(
        hass, config_entry, disconnect_grace=15.0, backoff_initial=60.0, backoff_max=60.0
    )
    coordinator = coordinator_of(config_entry)
    connected = f"binary_sensor.{config_entry.title.replace(' ', '_')}_connected"
    with freeze_time(dt_util.utcnow()) as frozen:
        await feed(coordinator, call_events("call_ringing", "call_ended"))
        auth_sandbox.end_streams(grpc.StatusCode.UNAVAILABLE, "maintenance")
        await stream_reaches(coordinator, StreamState.RECONNECTING)
        await tick(hass, frozen, 14)
        assert hass.states.get(connected).state == STATE_ON  # type: ignore[union-attr]
        assert state(hass, config_entry, "sensor", "call_state") == "idle"
        await tick(hass, frozen, 2)
        assert hub_of(config_entry).state is StreamState.DOWN
        assert hass.states.get(connected).state == STATE_OFF  # type: ignore[union-attr]
        assert state(hass, config_entry, "sensor", "call_state") == STATE_UNAVAILABLE
        assert state(hass, config_entry, "sensor", "last_caller") != STATE_UNAVAILABLE
        assert state(hass, config_entry, "sensor", "missed_calls") != STATE_UNAVAILABLE


async def test_a_refused_request_is_tried_again_after_the_long_pause(
    hass: HomeAssistant, auth_sandbox: SandboxServer, config_entry: MockConfigEntry
) -> None:
    await connected_entry(hass, config_entry, refused_retry_initial=60.0)
    coordinator = coordinator_of(config_entry)
    with freeze_time(dt_util.utcnow()) as frozen:
        opened = auth_sandbox.stats["streams_opened"]
        auth_sandbox.end_streams(grpc.StatusCode.FAILED_PRECONDITION, "not now")
        await stream_reaches(coordinator, StreamState.DOWN)
        hub = hub_of(config_entry)
        # The pause is 30-60 s (half of it random): nothing before 30 s.
        await tick(hass, frozen, 29)
        assert hub.subscription.status.state is ConnectionState.FAILED
        assert auth_sandbox.stats["streams_opened"] == opened
        await tick(hass, frozen, 32)
        # Tried again: the client starts connecting (it connects once time runs freely).
        assert hub_of(config_entry).subscription.status.state is ConnectionState.CONNECTING
