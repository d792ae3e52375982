"""Time-based behaviour driven by a frozen clock: missed-call settle, call expiry, the grace
period of a lost stream and the long pause after a refused request.

The clock is frozen only once the stream is connected (connecting keeps its real timing);
from then on the loop's time is the frozen one, so timers run when the test moves it.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import grpc
import pytest
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory, StepTickTimeFactory, TickingDateTimeFactory
from homeassistant.const import (
    EVENT_HOMEASSISTANT_FINAL_WRITE,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
)
from homeassistant.core import Event, HomeAssistant, callback
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

from .conftest import (
    async_setup_entry_and_connect,
    async_unload_and_wait,
    change_settings,
    hub_of,
)
from .events import typed_events
from .wgtwo_events import ALICE, coordinator_of, entity_id, handle, snapshot_store, stored_snapshots

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

    remove = coordinator.listeners.async_add_stream_listener(_changed)
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
        await handle(coordinator, event)


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
        assert hub.stream.status.state is ConnectionState.FAILED
        assert auth_sandbox.stats["streams_opened"] == opened
        await tick(hass, frozen, 32)
        # Tried again: the client starts connecting (it connects once time runs freely).
        assert hub_of(config_entry).stream.status.state is ConnectionState.CONNECTING


def missed_calls_fired(fired: list[Event[Any]]) -> list[dict[str, Any]]:
    return [dict(e.data) for e in fired if e.data["type"] == "call_missed"]


async def restart(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Unload the entry and set it up again (the clock may be frozen: no wait to connect)."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def test_a_missed_call_pending_at_a_restart_is_reported_after_it(
    hass: HomeAssistant, auth_sandbox: SandboxServer, config_entry: MockConfigEntry
) -> None:
    """Home Assistant restarts within the settle time: the call is still reported missed,
    once, when the settle time is over (a long one here, so the restart fits in it)."""
    await connected_entry(hass, config_entry, missed_call_settle=60.0)
    fired = async_capture_events(hass, EVENT_WGTWO)
    with freeze_time(dt_util.utcnow()) as frozen:
        unanswered = typed_events("one_call_unanswered")
        await feed(coordinator_of(config_entry), unanswered)
        await tick(hass, frozen, 10)
        await restart(hass, config_entry)
        await tick(hass, frozen, 49)
        assert missed_calls_fired(fired) == []
        assert state(hass, config_entry, "sensor", "missed_calls") == "0"
        await tick(hass, frozen, 2)
        [missed] = missed_calls_fired(fired)
        # The event that decided it: the call's end, with the caller as it was then.
        ended = unanswered[1]
        assert missed["call_id"] == "c2"
        assert missed["sequence"] == ended.sequence
        assert missed["timestamp"] == ended.timestamp.isoformat()
        assert missed["from_number"] == "+4799900003"
        assert missed["device_id"] == coordinator_of(config_entry).subscribers[ALICE].device_id
        assert state(hass, config_entry, "sensor", "missed_calls") == "1"
        call_entity = hass.states.get(entity_id(hass, config_entry, "event", ALICE, "call"))
        assert call_entity is not None
        assert call_entity.attributes["event_type"] == "missed"
        # Counted once: another restart does not report it again.
        await restart(hass, config_entry)
        await tick(hass, frozen, 120)
        assert len(missed_calls_fired(fired)) == 1
        assert state(hass, config_entry, "sensor", "missed_calls") == "1"
    await async_unload_and_wait(hass, config_entry, auth_sandbox)


async def test_a_late_answer_after_a_restart_still_cancels_the_missed_call(
    hass: HomeAssistant, auth_sandbox: SandboxServer, config_entry: MockConfigEntry
) -> None:
    await connected_entry(hass, config_entry, missed_call_settle=60.0)
    fired = async_capture_events(hass, EVENT_WGTWO)
    with freeze_time(dt_util.utcnow()) as frozen:
        await feed(coordinator_of(config_entry), call_events("call_ringing", "call_ended"))
        await tick(hass, frozen, 10)
        await restart(hass, config_entry)
        await feed(coordinator_of(config_entry), call_events("call_answered"))
        await tick(hass, frozen, 120)
        assert missed_calls_fired(fired) == []
        assert state(hass, config_entry, "sensor", "missed_calls") == "0"
        # Nothing is left pending for a later restart either.
        await restart(hass, config_entry)
        await tick(hass, frozen, 120)
        assert missed_calls_fired(fired) == []
    await async_unload_and_wait(hass, config_entry, auth_sandbox)


@pytest.mark.parametrize("stopped", [False, True], ids=["crash", "stop"])
async def test_a_missed_call_pending_at_a_crash_or_stop_is_reported_after_it(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    stopped: bool,
) -> None:
    """The pending decision is on disk once the call's end was handled (before it is
    acknowledged), without waiting for the debounced save or an unload: after a crash
    right then, or Home Assistant stopping (which unloads nothing), the next start
    reports the call missed."""
    await connected_entry(hass, config_entry, missed_call_settle=60.0, save_delay=600.0)
    fired = async_capture_events(hass, EVENT_WGTWO)
    with freeze_time(dt_util.utcnow()) as frozen:
        await feed(coordinator_of(config_entry), typed_events("one_call_unanswered"))
        if stopped:
            hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
            await hass.async_block_till_done()
        on_disk = copy.deepcopy(snapshot_store(hass_storage, config_entry.entry_id))
        assert ALICE in stored_snapshots(on_disk, config_entry.entry_id)
        assert await hass.config_entries.async_unload(config_entry.entry_id)
        await hass.async_block_till_done()
        # The next start finds the disk as it was then (an unload wrote what it knew).
        hass_storage.update(on_disk)
        frozen.tick(timedelta(seconds=5))
        assert await hass.config_entries.async_setup(config_entry.entry_id)
        await hass.async_block_till_done()
        assert missed_calls_fired(fired) == []
        await tick(hass, frozen, 56)
        assert [m["call_id"] for m in missed_calls_fired(fired)] == ["c2"]
        assert state(hass, config_entry, "sensor", "missed_calls") == "1"
    await async_unload_and_wait(hass, config_entry, auth_sandbox)


async def test_a_missed_call_whose_settle_time_passed_while_stopped_is_reported_at_start(
    hass: HomeAssistant, auth_sandbox: SandboxServer, config_entry: MockConfigEntry
) -> None:
    """Home Assistant was stopped for longer than the settle time: reported right away."""
    await connected_entry(hass, config_entry, missed_call_settle=60.0)
    fired = async_capture_events(hass, EVENT_WGTWO)
    with freeze_time(dt_util.utcnow()) as frozen:
        await feed(coordinator_of(config_entry), typed_events("one_call_unanswered"))
        assert await hass.config_entries.async_unload(config_entry.entry_id)
        await hass.async_block_till_done()
        frozen.tick(timedelta(minutes=30))
        assert await hass.config_entries.async_setup(config_entry.entry_id)
        await hass.async_block_till_done()
        assert [m["call_id"] for m in missed_calls_fired(fired)] == ["c2"]
        assert state(hass, config_entry, "sensor", "missed_calls") == "1"
    await async_unload_and_wait(hass, config_entry, auth_sandbox)
    await async_unload_and_wait(hass, config_entry, auth_sandbox)
