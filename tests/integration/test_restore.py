"""Devices and entity states come back after a restart or a reload."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.wgtwo.const import DOMAIN
from wgtwo_sandbox import SandboxServer

from .conftest import async_setup_entry_and_connect, make_entry, publish_and_wait, wait_for
from .wgtwo_events import (
    ALICE,
    BOB,
    CAROL,
    call,
    consent_revoke,
    country,
    entity_id,
    handset,
    location,
    tracker_of,
    voicemail,
)

pytestmark = pytest.mark.usefixtures("quick_missed_calls")


KEYS = {
    "sensor": ["last_caller", "roaming_country", "missed_calls", "call_state"],
    "binary_sensor": ["new_voicemail", "roaming"],
}


def known_subscriber(hass: HomeAssistant, entry: MockConfigEntry, number: str) -> dict[str, str]:
    """Register a subscriber's device and entities as a previous run left them."""
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, f"{entry.entry_id}_{number}")},
        name="old name",
    )
    registry = er.async_get(hass)
    ids = {}
    for platform, keys in KEYS.items():
        for key in keys:
            ids[key] = registry.async_get_or_create(
                platform,
                DOMAIN,
                f"{entry.entry_id}_{number}_{key}",
                config_entry=entry,
                device_id=device.id,
                suggested_object_id=f"alice_{key}",
            ).entity_id
    return ids


def sensor_data(value: Any) -> dict[str, Any]:
    return {"native_value": value, "native_unit_of_measurement": None}


async def test_states_restored_after_restart(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    ids = known_subscriber(hass, entry, ALICE)
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(
                    ids["last_caller"],
                    BOB,
                    {"name": None, "call_id": "old", "time": "2026-11-27T09:00:00+00:00"},
                ),
                sensor_data(BOB),
            ),
            (
                State(
                    ids["roaming_country"],
                    "Sweden",
                    {
                        "country_code": "SE",
                        "previous_country": "Norway",
                        "previous_country_code": "NO",
                    },
                ),
                sensor_data("Sweden"),
            ),
            (State(ids["missed_calls"], "3"), sensor_data(3)),
            (State(ids["call_state"], "talking"), sensor_data("talking")),
            (
                State(ids["new_voicemail"], STATE_ON, {"unheard_count": 2}),
                {
                    "voicemails": [
                        {
                            "voicemail_id": "vm1",
                            "from_number": BOB,
                            "time": "2026-11-27T08:00:00+00:00",
                        },
                        {
                            "voicemail_id": "vm2",
                            "from_number": None,
                            "time": "2026-11-27T08:30:00+00:00",
                        },
                        {"voicemail_id": "", "time": "broken"},
                    ]
                },
            ),
            (State(ids["roaming"], STATE_ON), {}),
        ],
    )
    await async_setup_entry_and_connect(hass, entry)
    # The device is known again (and renamed to the number: no phonebook entry).
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"{entry.entry_id}_{ALICE}"), entry.entry_id
    )
    assert device is not None
    assert device.name == ALICE
    caller = hass.states.get(ids["last_caller"])
    assert caller is not None
    assert caller.state == BOB
    assert caller.attributes["call_id"] == "old"
    trip = hass.states.get(ids["roaming_country"])
    assert trip is not None
    assert trip.state == "Sweden"
    assert trip.attributes["previous_country"] == "Norway"
    assert hass.states.get(ids["roaming"]).state == STATE_ON  # type: ignore[union-attr]
    assert hass.states.get(ids["missed_calls"]).state == "3"  # type: ignore[union-attr]
    # Calls in progress are not restored: the durable stream replays what happened.
    assert hass.states.get(ids["call_state"]).state == "idle"  # type: ignore[union-attr]
    voicemails = hass.states.get(ids["new_voicemail"])
    assert voicemails is not None
    assert voicemails.state == STATE_ON
    assert voicemails.attributes["unheard_count"] == 2
    assert voicemails.attributes["voicemail_id"] == "vm2"

    # New events build on the restored state.
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            *call(
                "c1",
                ["CALL_RINGING", "CALL_ENDED"],
                from_number=CAROL,
                to_number=ALICE,
                owner=ALICE,
            ),
            voicemail("vm3", from_number=CAROL, to_number=ALICE, seconds=5),
        ],
    )
    await wait_for(lambda: getattr(hass.states.get(ids["missed_calls"]), "state", "") == "4")
    assert hass.states.get(ids["last_caller"]).state == CAROL  # type: ignore[union-attr]
    assert hass.states.get(ids["new_voicemail"]).attributes["unheard_count"] == 3  # type: ignore[union-attr]
    # Restored voicemails the operator no longer knows are cleared locally all the same.
    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": entity_id(hass, entry, "button", ALICE, "mark_voicemail_heard")},
        blocking=True,
    )
    assert hass.states.get(ids["new_voicemail"]).state == STATE_OFF  # type: ignore[union-attr]
    assert auth_sandbox.voicemails.voicemails["vm3"].metadata.played
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_restored_hidden_caller_stays_hidden(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    ids = known_subscriber(hass, entry, ALICE)
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(
                    ids["last_caller"],
                    "hidden",
                    {"name": None, "call_id": "old", "time": "2026-11-27T09:00:00+00:00"},
                ),
                sensor_data("hidden"),
            ),
            # Malformed leftovers are ignored.
            (State(ids["missed_calls"], "many"), sensor_data("many")),
            (State(ids["roaming_country"], "Sweden", {}), sensor_data("Sweden")),
        ],
    )
    await async_setup_entry_and_connect(hass, entry)
    assert hass.states.get(ids["last_caller"]).state == "hidden"  # type: ignore[union-attr]
    assert hass.states.get(ids["missed_calls"]).state == "0"  # type: ignore[union-attr]
    assert hass.states.get(ids["roaming_country"]).state == "unknown"  # type: ignore[union-attr]
    # An event newer than the restored caller replaces it.
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c1", ["CALL_RINGING"], from_number=BOB, to_number=ALICE, owner=ALICE),
    )
    assert hass.states.get(ids["last_caller"]).state == BOB  # type: ignore[union-attr]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_device_and_states_survive_reload(
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
                ["CALL_RINGING", "CALL_FWD_VOICEMAIL"],
                from_number=BOB,
                to_number=ALICE,
                owner=ALICE,
            ),
            voicemail("vm1", from_number=BOB, to_number=ALICE, seconds=5),
            country(ALICE, "DE", "Germany", seconds=6),
        ],
    )

    def states() -> dict[str, str]:
        return {
            key: hass.states.get(entity_id(hass, entry, platform, ALICE, key)).state  # type: ignore[union-attr]
            for platform, keys in KEYS.items()
            for key in keys
        }

    before = states()
    assert before == {
        "last_caller": BOB,
        "roaming_country": "Germany",
        "missed_calls": "1",
        "call_state": "idle",
        "new_voicemail": STATE_ON,
        "roaming": STATE_ON,
    }
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert ALICE in tracker_of(entry).subscribers
    assert states() == before


async def test_removed_device_is_forgotten_until_next_event(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
) -> None:
    entry = setup_integration
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c1", ["CALL_RINGING"], from_number=BOB, to_number=ALICE, owner=ALICE),
    )
    registry = dr.async_get(hass)
    device = registry.async_get_device_by_identifier(
        (DOMAIN, f"{entry.entry_id}_{ALICE}"), entry.entry_id
    )
    assert device is not None
    service = registry.async_get_device_by_identifier((DOMAIN, entry.entry_id), entry.entry_id)
    assert service is not None
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    # The service device (connection status) cannot be removed; a subscriber's can.
    response = await client.remove_device(service.id)
    assert not response["success"]
    response = await client.remove_device(device.id)
    assert response["success"]
    await hass.async_block_till_done()
    tracker = tracker_of(entry)
    assert ALICE not in tracker.subscribers
    assert registry.async_get(device.id) is None
    # It comes back with the subscriber's next event.
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c2", ["CALL_RINGING"], from_number=BOB, to_number=ALICE, owner=ALICE, start=5),
    )
    assert ALICE in tracker.subscribers
    state = hass.states.get(entity_id(hass, entry, "sensor", ALICE, "call_state"))
    assert state is not None
    assert state.state == "ringing"


async def test_diagnostics_restored_after_restart(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    known_subscriber(hass, entry, ALICE)
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"{entry.entry_id}_{ALICE}"), entry.entry_id
    )
    assert device is not None
    registry = er.async_get(hass)
    ids = {
        key: registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"{entry.entry_id}_{ALICE}_{key}",
            config_entry=entry,
            device_id=device.id,
            suggested_object_id=f"alice_{key}",
        ).entity_id
        for key in ("handset", "location", "last_event")
    }
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(ids["handset"], "356938035643809", {"software_version": "02"}),
                sensor_data("356938035643809"),
            ),
            (
                State(ids["location"], "4790000001", {"vlr": "4790000001", "msc": None}),
                sensor_data("4790000001"),
            ),
            (
                State(ids["last_event"], "2026-11-27T09:00:00+00:00"),
                sensor_data("2026-11-27T09:00:00+00:00"),
            ),
        ],
    )
    await async_setup_entry_and_connect(hass, entry)
    handset_state = hass.states.get(ids["handset"])
    assert handset_state is not None
    assert handset_state.state == "356938035643809"
    assert handset_state.attributes["software_version"] == "02"
    location_state = hass.states.get(ids["location"])
    assert location_state is not None
    assert location_state.state == "4790000001"
    assert location_state.attributes["msc"] is None
    assert hass.states.get(ids["last_event"]).state == "2026-11-27T09:00:00+00:00"  # type: ignore[union-attr]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_roaming_restored_on_its_own(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    """The roaming sensor restores even when the roaming country sensor kept nothing."""
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    ids = known_subscriber(hass, entry, ALICE)
    mock_restore_cache_with_extra_data(
        hass,
        [(State(ids["roaming"], STATE_ON, {"home_country": "NO", "country_code": "DE"}), {})],
    )
    await async_setup_entry_and_connect(hass, entry)
    roaming = hass.states.get(ids["roaming"])
    assert roaming is not None
    assert roaming.state == STATE_ON
    assert roaming.attributes["country_code"] == "DE"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_handset_and_nodes_kept_on_disk(
    hass: HomeAssistant, auth_sandbox: SandboxServer, hass_storage: dict[str, Any]
) -> None:
    """Facts are saved on unload, read at setup, and dropped with the subscriber."""
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            handset(ALICE, "356938035643809"),
            location(CAROL, vlr="4670000000", seconds=1),
        ],
    )
    assert await hass.config_entries.async_unload(entry.entry_id)
    key = f"{DOMAIN}.{entry.entry_id}.facts"
    stored = hass_storage[key]["data"]
    assert stored[ALICE]["handset"] == {"imei": "356938035643809", "software_version": "02"}
    assert stored[CAROL]["location"]["vlr"] == "4670000000"
    # A malformed item is skipped.
    stored[CAROL]["handset"] = {"imei": 5}
    stored[BOB] = {"handset": {"imei": "1"}}  # no device for this number
    # Enabled while the entry was unloaded.
    registry = er.async_get(hass)
    for number in (ALICE, CAROL):
        for platform_key in ("handset", "location"):
            entity = entity_id(hass, entry, "sensor", number, platform_key)
            registry.async_update_entity(entity, disabled_by=None)
    await async_setup_entry_and_connect(hass, entry)
    handset_state = hass.states.get(entity_id(hass, entry, "sensor", ALICE, "handset"))
    assert handset_state is not None
    assert handset_state.state == "356938035643809"
    location_state = hass.states.get(entity_id(hass, entry, "sensor", CAROL, "location"))
    assert location_state is not None
    assert location_state.state == "4670000000"
    carol_handset = hass.states.get(entity_id(hass, entry, "sensor", CAROL, "handset"))
    assert carol_handset is not None
    assert carol_handset.state == "unknown"
    await publish_and_wait(hass, auth_sandbox, entry, [consent_revoke(ALICE, seconds=5)])
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert ALICE not in hass_storage[key]["data"]
    # Deleting the entry leaves no file behind.
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage
