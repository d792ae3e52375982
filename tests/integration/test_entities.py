"""Subscriber devices and entities as users see them, driven by sandbox events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from homeassistant.const import (
    EVENT_STATE_CHANGED,
    EVENT_STATE_REPORTED,
    STATE_OFF,
    STATE_ON,
    STATE_UNKNOWN,
)
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.wgtwo.compat import device_by_identifier
from custom_components.wgtwo.const import CONF_HOME_COUNTRY, CONF_PHONEBOOK, DOMAIN
from wgtwo_sandbox import SandboxServer

from .conftest import (
    async_setup_entry_and_connect,
    entry_options,
    make_entry,
    publish_and_wait,
    wait_for,
)
from .wgtwo_events import (
    ALICE,
    BOB,
    CAROL,
    Parties,
    call,
    country,
    delivery_report,
    entity_id,
    handset,
    location,
    sms,
    voice,
    voicemail,
)

pytestmark = pytest.mark.usefixtures("quick_missed_calls")


def state_of(hass: HomeAssistant, entry: MockConfigEntry, platform: str, key: str) -> Any:
    """The state object of one of Alice's entities."""
    state = hass.states.get(entity_id(hass, entry, platform, ALICE, key))
    assert state is not None
    return state


def value(hass: HomeAssistant, entry: MockConfigEntry, platform: str, key: str) -> str:
    """The state string of one of Alice's entities."""
    return str(state_of(hass, entry, platform, key).state)


INCOMING: Parties = {"from_number": BOB, "to_number": ALICE, "owner": ALICE}
OUTGOING: Parties = {"from_number": ALICE, "to_number": CAROL, "owner": ALICE}


async def test_first_event_creates_device_and_entities(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    registry = dr.async_get(hass)
    assert (
        device_by_identifier(registry, (DOMAIN, f"{entry.entry_id}_{ALICE}"), entry.entry_id)
        is None
    )
    await publish_and_wait(
        hass, auth_sandbox, entry, call("c1", ["CALL_INITIATED", "CALL_RINGING"], **INCOMING)
    )
    device = device_by_identifier(registry, (DOMAIN, f"{entry.entry_id}_{ALICE}"), entry.entry_id)
    assert device is not None
    assert device.name == ALICE
    caller = state_of(hass, entry, "sensor", "last_caller")
    assert caller.entity_id == "sensor.4799900001_last_caller"
    assert caller.name == f"{ALICE} Last caller"
    assert caller.state == BOB
    assert caller.attributes["call_id"] == "c1"
    assert caller.attributes["name"] is None
    assert caller.attributes["time"] == "2026-11-27T10:00:00+00:00"
    assert value(hass, entry, "sensor", "call_state") == "ringing"
    assert state_of(hass, entry, "sensor", "call_state").attributes["options"] == [
        "idle",
        "ringing",
        "dialing",
        "talking",
    ]
    assert value(hass, entry, "sensor", "missed_calls") == "0"
    assert value(hass, entry, "binary_sensor", "new_voicemail") == STATE_OFF
    # Nothing known about roaming yet; +47 means the home country is Norway.
    assert value(hass, entry, "binary_sensor", "roaming") == STATE_UNKNOWN
    assert state_of(hass, entry, "binary_sensor", "roaming").attributes["home_country"] == "NO"
    # Bob is not a subscriber of ours: no device for him.
    assert len(dr.async_entries_for_config_entry(registry, entry.entry_id)) == 2  # + service


async def test_call_states_in_and_out(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await publish_and_wait(hass, auth_sandbox, entry, call("c1", ["CALL_INITIATED"], **OUTGOING))
    assert value(hass, entry, "sensor", "call_state") == "dialing"
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c1", ["CALL_RINGING", "CALL_ANSWERED"], start=1, **OUTGOING),
    )
    assert value(hass, entry, "sensor", "call_state") == "talking"
    await publish_and_wait(
        hass, auth_sandbox, entry, call("c1", ["CALL_ENDED"], start=3, **OUTGOING)
    )
    assert value(hass, entry, "sensor", "call_state") == "idle"
    # An outgoing call never counts as the last caller or as missed.
    assert value(hass, entry, "sensor", "last_caller") == STATE_UNKNOWN
    assert value(hass, entry, "sensor", "missed_calls") == "0"


async def test_simultaneous_calls(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c1", ["CALL_INITIATED", "CALL_RINGING", "CALL_ANSWERED"], **INCOMING),
    )
    assert value(hass, entry, "sensor", "call_state") == "talking"
    # A second call knocks while talking: still talking, and it is the last caller.
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call(
            "c2",
            ["CALL_INITIATED", "CALL_RINGING"],
            from_number=CAROL,
            to_number=ALICE,
            owner=ALICE,
            start=10,
        ),
    )
    assert value(hass, entry, "sensor", "call_state") == "talking"
    assert state_of(hass, entry, "sensor", "call_state").attributes["active_calls"] == 2
    assert value(hass, entry, "sensor", "last_caller") == CAROL
    await publish_and_wait(
        hass, auth_sandbox, entry, call("c1", ["CALL_ENDED"], start=20, **INCOMING)
    )
    assert value(hass, entry, "sensor", "call_state") == "ringing"
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call(
            "c2",
            ["CALL_ANSWERED", "CALL_ENDED"],
            from_number=CAROL,
            to_number=ALICE,
            owner=ALICE,
            start=21,
        ),
    )
    assert value(hass, entry, "sensor", "call_state") == "idle"
    assert value(hass, entry, "sensor", "missed_calls") == "0"


async def test_out_of_order_call_events(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    """ENDED delivered before ANSWERED (max in flight 50 reorders) leaves the phone idle."""
    entry = setup_integration
    initiated, ringing, answered, ended = call(
        "c1", ["CALL_INITIATED", "CALL_RINGING", "CALL_ANSWERED", "CALL_ENDED"], **INCOMING
    )
    await publish_and_wait(hass, auth_sandbox, entry, [initiated, ended, ringing, answered])
    assert value(hass, entry, "sensor", "call_state") == "idle"
    # The late ANSWERED cancels the missed-call decision the early ENDED started.
    await _settle(hass)
    assert value(hass, entry, "sensor", "missed_calls") == "0"
    # A stale RINGING of a finished call does not bring it back.
    await publish_and_wait(hass, auth_sandbox, entry, [ringing])
    assert value(hass, entry, "sensor", "call_state") == "idle"


async def _settle(hass: HomeAssistant) -> None:
    """Run the pending missed-call decisions: their settle time is over."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=1))
    await hass.async_block_till_done()


async def test_missed_calls_count_and_reset_button(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    # Rang out without an answer.
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c1", ["CALL_INITIATED", "CALL_RINGING", "CALL_ENDED"], **INCOMING),
    )
    await wait_for(lambda: value(hass, entry, "sensor", "missed_calls") == "1")
    # Forwarded to voicemail, then ended: one more (counted once).
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call(
            "c2",
            ["CALL_INITIATED", "CALL_RINGING", "CALL_FWD_VOICEMAIL", "CALL_ENDED"],
            start=10,
            **INCOMING,
        ),
    )
    assert value(hass, entry, "sensor", "missed_calls") == "2"
    # Cut before it rang, from a caller who then hung up: also missed.
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c3", ["CALL_INITIATED", "CALL_ENDED"], start=20, **INCOMING),
    )
    await wait_for(lambda: value(hass, entry, "sensor", "missed_calls") == "3")
    # Answered calls and outgoing calls are not missed.
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c4", ["CALL_RINGING", "CALL_ANSWERED", "CALL_ENDED"], start=30, **INCOMING),
    )
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c5", ["CALL_INITIATED", "CALL_ENDED"], start=40, **OUTGOING),
    )
    await _settle(hass)
    assert value(hass, entry, "sensor", "missed_calls") == "3"
    count = state_of(hass, entry, "sensor", "missed_calls")
    assert count.attributes["unit_of_measurement"] == "calls"
    assert count.attributes["state_class"] == "total_increasing"

    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": entity_id(hass, entry, "button", ALICE, "reset_missed_calls")},
        blocking=True,
    )
    assert value(hass, entry, "sensor", "missed_calls") == "0"


async def test_hidden_caller_is_not_exposed(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            *call(
                "c1",
                ["CALL_INITIATED", "CALL_RINGING", "CALL_FWD_VOICEMAIL"],
                hidden=True,
                **INCOMING,
            ),
            voicemail("vm1", from_number=BOB, to_number=ALICE, seconds=5),
        ],
    )
    caller = state_of(hass, entry, "sensor", "last_caller")
    assert caller.state == "hidden"
    assert caller.attributes["call_id"] == "c1"
    assert caller.attributes["name"] is None
    assert value(hass, entry, "sensor", "missed_calls") == "1"
    assert value(hass, entry, "binary_sensor", "new_voicemail") == STATE_ON
    # Bob's number appears in no state and no attribute.
    for state in hass.states.async_all():
        assert BOB not in str(state.state)
        assert BOB not in repr(dict(state.attributes)), state.entity_id


async def test_phonebook_names(hass: HomeAssistant, auth_sandbox: SandboxServer) -> None:
    entry = make_entry(
        auth_sandbox, options=entry_options(**{CONF_PHONEBOOK: {ALICE: "Alice", BOB: "Bob"}})
    )
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await publish_and_wait(hass, auth_sandbox, entry, call("c1", ["CALL_RINGING"], **INCOMING))
    device = device_by_identifier(
        dr.async_get(hass), (DOMAIN, f"{entry.entry_id}_{ALICE}"), entry.entry_id
    )
    assert device is not None
    assert device.name == "Alice"
    caller = hass.states.get("sensor.alice_last_caller")
    assert caller is not None
    # A dashboard shows the caller by name; the number stays an attribute.
    assert caller.state == "Bob"
    assert caller.attributes["name"] == "Bob"
    assert caller.attributes["number"] == BOB
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_roaming_with_home_country_from_number(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await publish_and_wait(
        hass, auth_sandbox, entry, [country(ALICE, "SE", "Sweden", previous=("NO", "Norway"))]
    )
    trip = state_of(hass, entry, "sensor", "roaming_country")
    assert trip.state == "Sweden"
    assert trip.attributes["country_code"] == "SE"
    assert trip.attributes["previous_country"] == "Norway"
    assert trip.attributes["previous_country_code"] == "NO"
    roaming = state_of(hass, entry, "binary_sensor", "roaming")
    assert roaming.state == STATE_ON
    assert roaming.attributes == roaming.attributes | {"home_country": "NO", "country_code": "SE"}
    await publish_and_wait(hass, auth_sandbox, entry, [country(ALICE, "NO", "Norway", seconds=60)])
    assert value(hass, entry, "binary_sensor", "roaming") == STATE_OFF
    assert value(hass, entry, "sensor", "roaming_country") == "Norway"
    assert (
        state_of(hass, entry, "sensor", "roaming_country").attributes["previous_country"]
        == "Sweden"
    )


async def test_roaming_home_country_override(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(auth_sandbox, options=entry_options(**{CONF_HOME_COUNTRY: "se"}))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await publish_and_wait(hass, auth_sandbox, entry, [country(ALICE, "SE", "Sweden")])
    assert value(hass, entry, "binary_sensor", "roaming") == STATE_OFF
    await publish_and_wait(hass, auth_sandbox, entry, [country(ALICE, "NO", "Norway", seconds=9)])
    assert value(hass, entry, "binary_sensor", "roaming") == STATE_ON
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_voicemail_stays_on_until_marked_heard(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            voicemail("vm1", from_number=BOB, to_number=ALICE),
            voicemail("vm2", from_number=CAROL, to_number=ALICE, seconds=60),
        ],
    )
    state = state_of(hass, entry, "binary_sensor", "new_voicemail")
    assert state.state == STATE_ON
    assert state.attributes["unheard_count"] == 2
    assert state.attributes["last_caller"] == CAROL
    assert state.attributes["voicemail_id"] == "vm2"
    # Other events do not clear it.
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c9", ["CALL_RINGING", "CALL_ANSWERED"], start=90, **INCOMING),
    )
    assert value(hass, entry, "binary_sensor", "new_voicemail") == STATE_ON

    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": entity_id(hass, entry, "button", ALICE, "mark_voicemail_heard")},
        blocking=True,
    )
    state = state_of(hass, entry, "binary_sensor", "new_voicemail")
    assert state.state == STATE_OFF
    assert state.attributes["unheard_count"] == 0
    # Marked read at the operator too (the test client has the voicemail.update scope).
    stored = auth_sandbox.voicemails.voicemails
    assert stored["vm1"].metadata.played
    assert stored["vm2"].metadata.played


async def test_voicemail_heard_without_update_scope(hass: HomeAssistant, make_sandbox: Any) -> None:
    server: SandboxServer = await make_sandbox(
        client_id="test-client",
        client_secret="test-secret",
        granted_scopes={
            "events.voicemail.subscribe",
            "events.voice.subscribe",
            "events.sms.subscribe",
            "events.roaming.subscribe",
            "events.sms_delivery_report.subscribe",
            "events.location.subscribe",
            "events.handset_update.subscribe",
        },
    )
    entry = make_entry(server)
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await publish_and_wait(
        hass, server, entry, [voicemail("vm1", from_number=BOB, to_number=ALICE)]
    )
    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": entity_id(hass, entry, "button", ALICE, "mark_voicemail_heard")},
        blocking=True,
    )
    assert value(hass, entry, "binary_sensor", "new_voicemail") == STATE_OFF
    assert not server.voicemails.voicemails["vm1"].metadata.played
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_diagnostic_sensors_disabled_by_default(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            handset(ALICE, "356938035643809"),
            location(
                ALICE, vlr="4790000001", mme="mme1.epc.mnc001.mcc242.3gppnetwork.org", seconds=1
            ),
        ],
    )
    registry = er.async_get(hass)
    for key in ("handset", "location", "last_event"):
        registry_entry = registry.async_get(entity_id(hass, entry, "sensor", ALICE, key))
        assert registry_entry is not None
        assert registry_entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert registry_entry.entity_category is not None
        registry.async_update_entity(registry_entry.entity_id, disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    # The handset and serving nodes were kept while the sensors were disabled.
    imei = state_of(hass, entry, "sensor", "handset")
    assert imei.state == "356938035643809"
    assert imei.attributes["software_version"] == "02"
    node = state_of(hass, entry, "sensor", "location")
    assert node.state == "mme1.epc.mnc001.mcc242.3gppnetwork.org"
    assert node.attributes["vlr"] == "4790000001"
    # So was the time of the last event.
    assert value(hass, entry, "sensor", "last_event") == "2026-11-27T10:00:01+00:00"
    await publish_and_wait(
        hass, auth_sandbox, entry, [handset(ALICE, "490154203237518", seconds=5)]
    )
    assert value(hass, entry, "sensor", "handset") == "490154203237518"
    assert value(hass, entry, "sensor", "last_event") == "2026-11-27T10:00:05+00:00"


async def test_connected_sensor_follows_the_stream(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    registry = er.async_get(hass)
    connected_id = registry.async_get_entity_id(
        "binary_sensor", DOMAIN, f"{entry.entry_id}_connected"
    )
    assert connected_id is not None
    registry_entry = registry.async_get(connected_id)
    assert registry_entry is not None
    assert registry_entry.entity_category is not None
    service_device = dr.async_get(hass).async_get(registry_entry.device_id or "")
    assert isinstance(service_device, dr.DeviceEntry)
    assert service_device.entry_type is dr.DeviceEntryType.SERVICE
    state = hass.states.get(connected_id)
    assert state is not None
    assert state.state == STATE_ON
    assert state.attributes["device_class"] == "connectivity"
    await auth_sandbox.stop()
    await wait_for(lambda: getattr(hass.states.get(connected_id), "state", None) == STATE_OFF)


async def test_event_entities(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await publish_and_wait(hass, auth_sandbox, entry, [voice("c1", "CALL_INITIATED", **INCOMING)])
    call_entity = state_of(hass, entry, "event", "call")
    assert call_entity.attributes["event_type"] == "initiated"
    assert call_entity.attributes["event_types"] == [
        "initiated",
        "ringing",
        "answered",
        "ended",
        "missed",
        "forwarded_to_voicemail",
    ]
    assert call_entity.attributes["call_id"] == "c1"
    assert call_entity.attributes["from_number"] == BOB
    seen: list[str] = []

    @callback
    def _record(event: Any) -> None:
        new = event.data["new_state"]
        if new is not None and new.entity_id == call_entity.entity_id:
            seen.append(new.attributes.get("event_type"))

    hass.bus.async_listen("state_changed", _record)
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c1", ["CALL_RINGING", "CALL_FWD_VOICEMAIL", "CALL_ENDED"], start=1, **INCOMING),
    )
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c2", ["CALL_RINGING", "CALL_ANSWERED"], start=9, **INCOMING),
    )
    assert seen == ["ringing", "forwarded_to_voicemail", "missed", "ended", "ringing", "answered"]

    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            sms(owner=ALICE, from_number=BOB, to_number=ALICE, direction="TO_SUBSCRIBER"),
        ],
    )
    sms_entity = state_of(hass, entry, "event", "sms")
    assert sms_entity.attributes["event_type"] == "received"
    assert "text" not in sms_entity.attributes
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            sms(
                owner=ALICE,
                from_number=ALICE,
                to_number=BOB,
                direction="FROM_SUBSCRIBER",
                uuid="u2",
            )
        ],
    )
    assert state_of(hass, entry, "event", "sms").attributes["event_type"] == "sent"
    await publish_and_wait(hass, auth_sandbox, entry, [delivery_report(owner=ALICE, to_number=BOB)])
    report = state_of(hass, entry, "event", "sms")
    assert report.attributes["event_type"] == "delivery_report"
    assert report.attributes["status"] == "delivered"
    await publish_and_wait(
        hass, auth_sandbox, entry, [voicemail("vm1", from_number=BOB, to_number=ALICE)]
    )
    vm = state_of(hass, entry, "event", "voicemail")
    assert vm.attributes["event_type"] == "new"
    assert vm.attributes["voicemail_id"] == "vm1"


async def test_caller_hidden_by_a_later_event_of_the_call(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await publish_and_wait(hass, auth_sandbox, entry, call("c1", ["CALL_INITIATED"], **INCOMING))
    assert value(hass, entry, "sensor", "last_caller") == BOB
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [voice("c1", "CALL_RINGING", hidden=True, seconds=1, **INCOMING)],
    )
    caller = state_of(hass, entry, "sensor", "last_caller")
    assert caller.state == "hidden"
    assert caller.attributes["time"] == "2026-11-27T10:00:00+00:00"


async def test_phonebook_change_renames_after_reload(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await publish_and_wait(hass, auth_sandbox, entry, call("c1", ["CALL_RINGING"], **INCOMING))
    caller_id = entity_id(hass, entry, "sensor", ALICE, "last_caller")
    # Phonebook numbers may be written with spaces.
    hass.config_entries.async_update_entry(
        entry,
        options={**entry.options, CONF_PHONEBOOK: {"+47 999 00 001": "Alice", BOB: "Bob"}},
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    device = device_by_identifier(
        dr.async_get(hass), (DOMAIN, f"{entry.entry_id}_{ALICE}"), entry.entry_id
    )
    assert device is not None
    assert device.name == "Alice"
    # Entity ids stay; the caller's name comes from the new phonebook.
    caller = hass.states.get(caller_id)
    assert caller is not None
    assert caller.state == "Bob"
    assert caller.attributes["name"] == "Bob"
    assert caller.attributes["number"] == BOB


async def test_calls_whose_end_never_arrived_stop_counting(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    """A lost CALL_ENDED must not leave the phone ringing for good; a long talk goes on."""
    entry = setup_integration
    ten_minutes_ago = (dt_util.utcnow() - timedelta(minutes=10)).isoformat()
    events = [
        voice("ring", "CALL_RINGING", from_number=BOB, to_number=ALICE, owner=ALICE),
        voice("talk", "CALL_ANSWERED", from_number=ALICE, to_number=CAROL, owner=ALICE),
    ]
    for event in events:
        event["event"]["timestamp"] = ten_minutes_ago
    await publish_and_wait(hass, auth_sandbox, entry, events)
    assert state_of(hass, entry, "sensor", "call_state").attributes["active_calls"] == 2

    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=2))
    await hass.async_block_till_done()

    assert state_of(hass, entry, "sensor", "call_state").attributes["active_calls"] == 1
    assert value(hass, entry, "sensor", "call_state") == "talking"


async def test_an_event_writes_only_the_entities_showing_what_changed(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    """Each event reaches only the entities whose aspect or event it carries."""
    entry = setup_integration
    await publish_and_wait(hass, auth_sandbox, entry, [voice("w1", "CALL_RINGING", **INCOMING)])
    written: list[str] = []

    @callback
    def _written(event: Event[Any]) -> None:
        written.append(event.data["entity_id"])

    for event_type in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED):
        hass.bus.async_listen(event_type, _written, event_filter=callback(lambda _data: True))

    def ids(*keys: tuple[str, str]) -> list[str]:
        return sorted(entity_id(hass, entry, platform, ALICE, key) for platform, key in keys)

    # A new call: the call state, the last caller and the call event entity.
    await publish_and_wait(hass, auth_sandbox, entry, [voice("w2", "CALL_RINGING", **INCOMING)])
    assert sorted(written) == ids(
        ("sensor", "call_state"), ("sensor", "last_caller"), ("event", "call")
    )
    written.clear()
    # Its answer: the call state and the call event entity.
    await publish_and_wait(hass, auth_sandbox, entry, [voice("w2", "CALL_ANSWERED", **INCOMING)])
    assert sorted(written) == ids(("sensor", "call_state"), ("event", "call"))
    written.clear()
    # A text: only the SMS event entity.
    await publish_and_wait(
        hass, auth_sandbox, entry, [sms(**INCOMING, direction="TO_SUBSCRIBER", sms_id="s1")]
    )
    assert sorted(written) == ids(("event", "sms"))
    written.clear()
    # A voicemail: the new voicemail binary sensor and the voicemail event entity.
    await publish_and_wait(
        hass, auth_sandbox, entry, [voicemail("v1", from_number=BOB, to_number=ALICE)]
    )
    assert sorted(written) == ids(("binary_sensor", "new_voicemail"), ("event", "voicemail"))
