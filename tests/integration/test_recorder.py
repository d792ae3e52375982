"""What the recorder keeps: every event in full on the bus, the entities' history lean.

Attributes that change with every event (ids, numbers, times) stay in the state machine,
where the UI and automations read them, but are not written to the history: each event
is recorded once, with its ``wgtwo_event`` bus event.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from homeassistant.components.recorder import history
from homeassistant.components.recorder.core import Recorder
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import Event, HomeAssistant, State, callback
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.wgtwo.const import CONF_PHONEBOOK, EVENT_WGTWO
from tests.conftest import SQL_LOGGER
from wgtwo_sandbox import SandboxServer

from .conftest import async_setup_entry_and_connect, publish_and_wait
from .wgtwo_events import ALICE, BOB, CAROL, Parties, call, entity_id, sms, voice, voicemail

pytestmark = pytest.mark.usefixtures("quick_missed_calls")

# The kind of each call event: recorded, and shared by every event of that kind.
CALL_KIND = {
    "event_type",
    "friendly_name",
    "direction",
    "caller_id_hidden",
    "from_name",
    "to_name",
    "answered",
}


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Prepare the recorder's database before ``hass`` starts, as the recorder requires."""


@pytest.fixture
def entry_options_override() -> dict[str, Any]:
    """Bob is in the phonebook."""
    return {CONF_PHONEBOOK: {BOB: "Bob"}}


async def recorded(hass: HomeAssistant, entity: str, since: datetime) -> list[State]:
    """The entity's states as the history has them, after the first (unknown) one."""
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    changes = await get_instance(hass).async_add_executor_job(
        lambda: history.state_changes_during_period(
            hass, since, entity_id=entity, include_start_time_state=False
        )
    )
    return [state for state in changes.get(entity, []) if state.state != STATE_UNKNOWN]


async def test_history_keeps_the_kind_of_each_event_and_the_bus_event_the_rest(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
) -> None:
    since = dt_util.utcnow() - timedelta(minutes=1)
    fired: list[dict[str, Any]] = []

    @callback
    def _fired(event: Event) -> None:
        fired.append(dict(event.data))

    hass.bus.async_listen(EVENT_WGTWO, _fired)
    await async_setup_entry_and_connect(hass, config_entry)
    incoming: Parties = {"from_number": BOB, "to_number": ALICE, "owner": ALICE}
    await publish_and_wait(
        hass,
        auth_sandbox,
        config_entry,
        [
            *call("c1", ["CALL_RINGING", "CALL_ANSWERED"], **incoming),
            voice("c1", "CALL_ENDED", **incoming, seconds=65),
            voicemail("vm1", from_number=CAROL, to_number=ALICE, seconds=70),
            sms(owner=ALICE, from_number=BOB, to_number=ALICE, direction="TO_SUBSCRIBER"),
        ],
    )
    call_entity = entity_id(hass, config_entry, "event", ALICE, "call")
    state = hass.states.get(call_entity)
    assert state is not None
    # The state machine has every field, as automations and the UI see them.
    assert state.attributes["event_type"] == "ended"
    assert state.attributes["call_id"] == "c1"
    assert state.attributes["from_number"] == BOB
    assert state.attributes["duration"] == 64.0
    assert state.attributes["to_number"] == ALICE

    history_states = await recorded(hass, call_entity, since)
    assert [s.attributes["event_type"] for s in history_states] == [
        "ringing",
        "answered",
        "ended",
    ]
    for recorded_state in history_states:
        assert set(recorded_state.attributes) <= CALL_KIND
    assert history_states[-1].attributes["from_name"] == "Bob"
    assert history_states[-1].attributes["answered"] is True
    # The states themselves (when each event happened) are all there.
    assert [s.state for s in history_states][-1] == state.state

    for key, fields in (
        ("voicemail", {"voicemail_id", "media_content_id", "from_number"}),
        ("sms", {"sms_id", "message_id", "uuid", "from_address", "to_address"}),
    ):
        entity = entity_id(hass, config_entry, "event", ALICE, key)
        live = hass.states.get(entity)
        assert live is not None
        assert fields <= set(live.attributes)
        (kept,) = await recorded(hass, entity, since)
        assert not fields & set(kept.attributes)
        assert kept.attributes["event_type"] == live.attributes["event_type"]

    # The last caller: the caller (its state) and names are kept, not the call id and time.
    last_caller = entity_id(hass, config_entry, "sensor", ALICE, "last_caller")
    live = hass.states.get(last_caller)
    assert live is not None
    assert live.state == "Bob"
    assert live.attributes["call_id"] == "c1"
    assert live.attributes["time"] is not None
    (kept,) = await recorded(hass, last_caller, since)
    assert kept.state == "Bob"
    assert dict(kept.attributes) == {
        "number": BOB,
        "name": "Bob",
        "friendly_name": live.attributes["friendly_name"],
    }

    # Every field of every event is on the bus, and the recorder keeps those events.
    assert [data["call_id"] for data in fired[:3]] == ["c1", "c1", "c1"]
    assert fired[2]["duration"] == 64.0


def test_the_suite_does_not_print_database_statements() -> None:
    """The run's output stays pytest's own: no INSERT lines between the progress dots."""
    assert not logging.getLogger(SQL_LOGGER).isEnabledFor(logging.INFO)
