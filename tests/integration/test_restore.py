"""Devices and subscriber state come back after a restart or a reload.

The coordinator keeps one snapshot per subscriber in the entry's store; a test plays a
previous run by putting a snapshot into ``hass_storage`` before setting the entry up.
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import pytest
from freezegun import freeze_time
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
    async_fire_time_changed_exact,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.wgtwo.client import Country, CountryChangeEvent
from custom_components.wgtwo.compat import device_by_identifier
from custom_components.wgtwo.const import DOMAIN, EVENT_WGTWO
from custom_components.wgtwo.storage import STORAGE_VERSION
from wgtwo_sandbox import SandboxServer

from .conftest import (
    async_setup_entry_and_connect,
    async_unload_and_wait,
    change_settings,
    make_entry,
    publish_and_wait,
    wait_for,
)
from .wgtwo_events import (
    ALICE,
    BOB,
    CAROL,
    call,
    consent_revoke,
    coordinator_of,
    country,
    entity_id,
    handle,
    handset,
    location,
    snapshot_store,
    store_snapshots,
    stored_snapshots,
    voicemail,
)

pytestmark = pytest.mark.usefixtures("quick_missed_calls")


KEYS = {
    "sensor": ["last_caller", "roaming_country", "missed_calls", "call_state"],
    "binary_sensor": ["new_voicemail", "roaming"],
}

ALICE_BEFORE: dict[str, Any] = {
    "last_caller": {
        "number": BOB,
        "hidden": False,
        "call_id": "old",
        "time": "2026-11-27T09:00:00+00:00",
    },
    "missed_calls": 3,
    "voicemails": [
        {"voicemail_id": "vm1", "from_number": BOB, "time": "2026-11-27T08:00:00+00:00"},
        {"voicemail_id": "vm2", "from_number": None, "time": "2026-11-27T08:30:00+00:00"},
    ],
    "country": {"code": "SE", "name": "Sweden"},
    "previous_country": {"code": "NO", "name": "Norway"},
    "location": {"msc": None, "vlr": "4790000001", "sgsn": None, "mme": None},
    "handset": {"imei": "356938035643809", "software_version": "02"},
    "last_event": "2026-11-27T09:00:00+00:00",
}


def store_key(entry: MockConfigEntry) -> str:
    return f"{DOMAIN}.{entry.entry_id}.facts"


def previous_run(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    entry: MockConfigEntry,
    snapshots: dict[str, Any],
    *,
    version: int = STORAGE_VERSION,
) -> None:
    """Leave devices and stored snapshots as a previous run of Home Assistant did."""
    for number in snapshots:
        dr.async_get(hass).async_get_or_create(
            config_entry_id=entry.entry_id,
            identifiers={(DOMAIN, f"{entry.entry_id}_{number}")},
            name="old name",
        )
    if version == STORAGE_VERSION:
        store_snapshots(hass_storage, entry.entry_id, snapshots)
        return
    data = {"subscribers": snapshots} if version == 2 else snapshots
    hass_storage[store_key(entry)] = {
        "version": version,
        "minor_version": 1,
        "key": store_key(entry),
        "data": data,
    }


def state_of(hass: HomeAssistant, entry: MockConfigEntry, platform: str, key: str) -> Any:
    state = hass.states.get(entity_id(hass, entry, platform, ALICE, key))
    assert state is not None
    return state


async def test_states_restored_after_restart(
    hass: HomeAssistant, auth_sandbox: SandboxServer, hass_storage: dict[str, Any]
) -> None:
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    previous_run(hass, hass_storage, entry, {ALICE: ALICE_BEFORE})
    # The operator still holds both unheard voicemails, unplayed: the startup sync keeps them.
    for voicemail_id in ("vm1", "vm2"):
        auth_sandbox.voicemails.add(voicemail_id, ALICE, BOB)
    await async_setup_entry_and_connect(hass, entry)
    # The device is known again (and renamed to the number: no phonebook entry).
    device = device_by_identifier(
        dr.async_get(hass), (DOMAIN, f"{entry.entry_id}_{ALICE}"), entry.entry_id
    )
    assert device is not None
    assert device.name == ALICE
    registry = er.async_get(hass)
    for key in ("handset", "location", "last_event"):
        registry.async_update_entity(entity_id(hass, entry, "sensor", ALICE, key), disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()

    caller = state_of(hass, entry, "sensor", "last_caller")
    assert caller.state == BOB
    assert caller.attributes["call_id"] == "old"
    trip = state_of(hass, entry, "sensor", "roaming_country")
    assert trip.state == "Sweden"
    assert trip.attributes["previous_country"] == "Norway"
    assert state_of(hass, entry, "binary_sensor", "roaming").state == STATE_ON
    assert state_of(hass, entry, "sensor", "missed_calls").state == "3"
    # Calls in progress are not restored: the durable stream replays what happened.
    assert state_of(hass, entry, "sensor", "call_state").state == "idle"
    voicemails = state_of(hass, entry, "binary_sensor", "new_voicemail")
    assert voicemails.state == STATE_ON
    assert voicemails.attributes["unheard_count"] == 2
    assert voicemails.attributes["voicemail_id"] == "vm2"
    assert state_of(hass, entry, "sensor", "handset").state == "356938035643809"
    assert state_of(hass, entry, "sensor", "handset").attributes["software_version"] == "02"
    assert state_of(hass, entry, "sensor", "location").state == "4790000001"
    assert state_of(hass, entry, "sensor", "last_event").state == "2026-11-27T09:00:00+00:00"

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
    await wait_for(lambda: state_of(hass, entry, "sensor", "missed_calls").state == "4")
    assert state_of(hass, entry, "sensor", "last_caller").state == CAROL
    assert state_of(hass, entry, "binary_sensor", "new_voicemail").attributes["unheard_count"] == 3
    # Marking heard clears restored and new ones, and marks them read at the operator.
    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": entity_id(hass, entry, "button", ALICE, "mark_voicemail_heard")},
        blocking=True,
    )
    assert state_of(hass, entry, "binary_sensor", "new_voicemail").state == STATE_OFF
    assert all(v.metadata.played for v in auth_sandbox.voicemails.voicemails.values())
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_malformed_snapshot_parts_are_skipped(
    hass: HomeAssistant, auth_sandbox: SandboxServer, hass_storage: dict[str, Any]
) -> None:
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    broken = {
        "last_caller": {
            "number": BOB,
            "hidden": True,
            "call_id": "old",
            "time": "2026-11-27T09:00:00+00:00",
        },
        "missed_calls": "many",
        "voicemails": [
            {"voicemail_id": "", "time": "broken"},
            {"voicemail_id": "vm-naive", "time": "2026-11-27T09:00:00"},
            "nonsense",
        ],
        "country": {"name": "Sweden"},
        "handset": {"imei": 5},
        "location": "far away",
        "last_event": "2026-11-27",
    }
    previous_run(hass, hass_storage, entry, {ALICE: broken})
    await async_setup_entry_and_connect(hass, entry)
    # A hidden caller stays hidden, even if a number was stored with it.
    assert state_of(hass, entry, "sensor", "last_caller").state == "hidden"
    assert state_of(hass, entry, "sensor", "missed_calls").state == "0"
    assert state_of(hass, entry, "sensor", "roaming_country").state == "unknown"
    assert state_of(hass, entry, "binary_sensor", "new_voicemail").state == STATE_OFF
    assert coordinator_of(entry).subscribers[ALICE].last_event is None
    # An event newer than the restored caller replaces it.
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c1", ["CALL_RINGING"], from_number=BOB, to_number=ALICE, owner=ALICE),
    )
    assert state_of(hass, entry, "sensor", "last_caller").state == BOB
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_missed_calls_pending_in_a_previous_run_are_reported_at_start(
    hass: HomeAssistant, auth_sandbox: SandboxServer, hass_storage: dict[str, Any]
) -> None:
    """Decisions a previous run left pending settle at start; a hidden caller stays hidden
    and malformed decisions are skipped."""
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    fired = async_capture_events(hass, EVENT_WGTWO)

    def pending(call_id: str, **changes: Any) -> dict[str, Any]:
        decision: dict[str, Any] = {
            "call_id": call_id,
            "settles": "2026-11-27T09:00:02+00:00",
            "timestamp": "2026-11-27T09:00:00+00:00",
            "sequence": 7,
            "payload": {
                "call_id": call_id,
                "direction": "incoming",
                "from_number": BOB,
                "to_number": ALICE,
                "caller_id_hidden": True,
                "from_name": "Bob",
                "to_name": None,
            },
        }
        return decision | changes

    previous_run(
        hass,
        hass_storage,
        entry,
        {
            ALICE: {
                "missed_calls": 2,
                "pending_missed": [
                    pending("hidden"),
                    pending("naive", settles="2026-11-27T09:00:02"),
                    pending("no-sequence", sequence="7"),
                    pending("other-call", payload={"call_id": "c9"}),
                    pending("nested", payload={"call_id": "nested", "from_number": [BOB]}),
                    "nonsense",
                ],
            }
        },
    )
    await async_setup_entry_and_connect(hass, entry)
    missed = [dict(e.data) for e in fired if e.data["type"] == "call_missed"]
    assert missed == [
        {
            "type": "call_missed",
            "subscriber": ALICE,
            "device_id": coordinator_of(entry).subscribers[ALICE].device_id,
            "timestamp": "2026-11-27T09:00:00+00:00",
            "sequence": 7,
            "entity_id": state_of(hass, entry, "event", "call").entity_id,
            "call_id": "hidden",
            "direction": "incoming",
            "from_number": None,
            "to_number": ALICE,
            "caller_id_hidden": True,
            "from_name": None,
            "to_name": None,
        }
    ]
    assert state_of(hass, entry, "sensor", "missed_calls").state == "3"
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert stored_snapshots(hass_storage, entry.entry_id)[ALICE]["pending_missed"] == []


async def test_facts_of_the_first_store_version_are_kept(
    hass: HomeAssistant, auth_sandbox: SandboxServer, hass_storage: dict[str, Any]
) -> None:
    """Version 1 kept only handset and serving nodes per number: they carry over."""
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    facts = {"handset": {"imei": "356938035643809", "software_version": "02"}}
    previous_run(hass, hass_storage, entry, {ALICE: facts, "junk": 5}, version=1)
    await async_setup_entry_and_connect(hass, entry)
    coordinator = coordinator_of(entry)
    handset_known = coordinator.subscribers[ALICE].handset
    assert handset_known is not None
    assert handset_known.imei == "356938035643809"
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert hass_storage[store_key(entry)]["version"] == STORAGE_VERSION


async def test_changes_are_saved_soon_without_an_unload(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A crash loses at most the last moments: saves are debounced, not left to unload."""
    change_settings(hass, save_delay=10.0)
    entry = config_entry
    await async_setup_entry_and_connect(hass, entry)
    missed = call(
        "c1", ["CALL_RINGING", "CALL_FWD_VOICEMAIL"], from_number=BOB, to_number=ALICE, owner=ALICE
    )
    await publish_and_wait(hass, auth_sandbox, entry, missed)

    def saved_subscribers() -> dict[str, Any]:
        return stored_snapshots(hass_storage, entry.entry_id)

    assert ALICE not in saved_subscribers()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=11))
    await hass.async_block_till_done()
    await wait_for(lambda: ALICE in saved_subscribers(), within=30)
    saved = saved_subscribers()[ALICE]
    assert saved["missed_calls"] == 1
    assert saved["last_caller"]["number"] == BOB
    # Home Assistant's final write at shutdown takes what is still pending.
    change = [handset(ALICE, "356938035643809", seconds=5)]
    await publish_and_wait(hass, auth_sandbox, entry, change)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()
    saved = stored_snapshots(hass_storage, entry.entry_id)[ALICE]
    assert saved["handset"]["imei"] == "356938035643809"
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_a_steady_stream_of_changes_does_not_put_the_save_off(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A subscriber's shard is written the delay after its first unsaved change.

    Changes keep coming more often than the delay (a busy line): each one does not put
    the write off again, and the write takes all of them.
    """
    change_settings(hass, save_delay=10.0)
    entry = config_entry
    await async_setup_entry_and_connect(hass, entry)
    coordinator = coordinator_of(entry)

    def moved_to(code: str, sequence: int) -> CountryChangeEvent:
        return CountryChangeEvent(
            sequence=sequence,
            timestamp=dt_util.utcnow(),
            owner=ALICE,
            number=ALICE,
            previous=None,
            current=Country(code=code, name=code),
        )

    def saved_country() -> str | None:
        saved = stored_snapshots(hass_storage, entry.entry_id).get(ALICE)
        return None if saved is None else saved["country"]["code"]

    with freeze_time(dt_util.utcnow()) as frozen:
        await handle(coordinator, moved_to("DE", 1))
        frozen.tick(timedelta(seconds=6))
        async_fire_time_changed_exact(hass)
        await hass.async_block_till_done()
        assert saved_country() is None
        await handle(coordinator, moved_to("SE", 2))
        # 11 s after the first change, 5 s after the second.
        frozen.tick(timedelta(seconds=5))
        async_fire_time_changed_exact(hass)
        await hass.async_block_till_done()
        assert saved_country() == "SE"
    await async_unload_and_wait(hass, entry, auth_sandbox)


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
    assert ALICE in coordinator_of(entry).subscribers
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
    device = device_by_identifier(registry, (DOMAIN, f"{entry.entry_id}_{ALICE}"), entry.entry_id)
    assert device is not None
    service = device_by_identifier(registry, (DOMAIN, entry.entry_id), entry.entry_id)
    assert service is not None
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    # The device page's delete; before 2026.10 it named the entry the device is removed from.
    takes_entry = len(inspect.signature(client.remove_device).parameters) == 2
    extra = (entry.entry_id,) if takes_entry else ()
    # The service device (connection status) cannot be removed; a subscriber's can.
    response = await client.remove_device(service.id, *extra)
    assert not response["success"]
    response = await client.remove_device(device.id, *extra)
    assert response["success"]
    await hass.async_block_till_done()
    coordinator = coordinator_of(entry)
    assert ALICE not in coordinator.subscribers
    assert registry.async_get(device.id) is None
    # It comes back with the subscriber's next event.
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c2", ["CALL_RINGING"], from_number=BOB, to_number=ALICE, owner=ALICE, start=5),
    )
    assert ALICE in coordinator.subscribers
    state = hass.states.get(entity_id(hass, entry, "sensor", ALICE, "call_state"))
    assert state is not None
    assert state.state == "ringing"


async def test_handset_and_nodes_kept_on_disk(
    hass: HomeAssistant, auth_sandbox: SandboxServer, hass_storage: dict[str, Any]
) -> None:
    """Snapshots are saved on unload, read at setup, and dropped with the subscriber."""
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
    stored = stored_snapshots(hass_storage, entry.entry_id)
    assert stored[ALICE]["handset"] == {"imei": "356938035643809", "software_version": "02"}
    assert stored[CAROL]["location"]["vlr"] == "4670000000"
    # no device for this number
    store_snapshots(hass_storage, entry.entry_id, {BOB: {"handset": {"imei": "1"}}})
    # Enabled while the entry was unloaded.
    registry = er.async_get(hass)
    for number in (ALICE, CAROL):
        for platform_key in ("handset", "location"):
            entity = entity_id(hass, entry, "sensor", number, platform_key)
            registry.async_update_entity(entity, disabled_by=None)
    await async_setup_entry_and_connect(hass, entry)
    assert BOB not in coordinator_of(entry).subscribers
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
    assert ALICE not in stored_snapshots(hass_storage, entry.entry_id)
    # Deleting the entry leaves no file behind.
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert snapshot_store(hass_storage, entry.entry_id) == {}


async def test_a_store_of_version_2_moves_into_shards_keeping_the_secret(
    hass: HomeAssistant, auth_sandbox: SandboxServer, hass_storage: dict[str, Any]
) -> None:
    """Every subscriber's state and the entry's secret survive the move to shards."""
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    previous_run(hass, hass_storage, entry, {ALICE: ALICE_BEFORE, CAROL: {}}, version=2)
    secret = "ab" * 32
    hass_storage[store_key(entry)]["data"]["id_secret"] = secret
    await async_setup_entry_and_connect(hass, entry)
    assert state_of(hass, entry, "sensor", "missed_calls").state == "3"
    assert set(coordinator_of(entry).subscribers) == {ALICE, CAROL}
    main = hass_storage[store_key(entry)]
    assert main["version"] == STORAGE_VERSION
    assert main["data"] == {"id_secret": secret}
    assert set(stored_snapshots(hass_storage, entry.entry_id)) == {ALICE, CAROL}
    assert await hass.config_entries.async_unload(entry.entry_id)
    # Loaded again, from the shards alone.
    await async_setup_entry_and_connect(hass, entry)
    assert state_of(hass, entry, "sensor", "missed_calls").state == "3"
    assert hass_storage[store_key(entry)]["data"] == {"id_secret": secret}
    assert await hass.config_entries.async_unload(entry.entry_id)
