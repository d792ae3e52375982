"""The subscriber filter: only the chosen subscribers get a device.

The events of the others are acknowledged and dropped (counted in diagnostics, never fired,
never stored); consents of the others add no device; changing the option adds and removes
devices as the entry reloads. Against the sandbox over loopback gRPC.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.translation import async_get_translations
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from syrupy.assertion import SnapshotAssertion

from custom_components.wgtwo.const import (
    CONF_PHONEBOOK,
    CONF_SUBSCRIBER_FILTER,
    DOMAIN,
    EVENT_WGTWO,
)
from custom_components.wgtwo.diagnostics import async_get_config_entry_diagnostics
from custom_components.wgtwo.options_flow import CONF_ALL_SUBSCRIBERS
from wgtwo_sandbox import SandboxServer

from .conftest import (
    async_setup_entry_and_connect,
    async_unload_and_wait,
    entry_options,
    make_entry,
    publish_and_wait,
    wait_connected,
    wait_for,
)
from .test_options_flow import open_options, settle, suggested
from .wgtwo_events import ALICE, BOB, CAROL, call, coordinator_of, device_of, sms

DAVE = "+4799900004"
VOICE = "events.voice.subscribe"
ONLY_ALICE: dict[str, Any] = {CONF_SUBSCRIBER_FILTER: [ALICE]}


def entities_of(hass: HomeAssistant, entry: MockConfigEntry, number: str) -> list[str]:
    prefix = f"{entry.entry_id}_{number}_"
    return [
        e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if e.unique_id.startswith(prefix)
    ]


def stored(hass_storage: dict[str, Any], entry: MockConfigEntry) -> str:
    """Everything the entry keeps in Home Assistant's storage, as text."""
    prefix = f"{DOMAIN}.{entry.entry_id}"
    return json.dumps({key: value for key, value in hass_storage.items() if key.startswith(prefix)})


def texted(number: str, sms_id: str) -> dict[str, Any]:
    """An SMS Carol sends to ``number``."""
    return sms(
        owner=number, from_number=CAROL, to_number=number, direction="TO_SUBSCRIBER", sms_id=sms_id
    )


async def start(hass: HomeAssistant, server: SandboxServer, **options: Any) -> MockConfigEntry:
    entry = make_entry(server, options=entry_options(**options))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    return entry


async def choose(hass: HomeAssistant, entry: MockConfigEntry, answer: dict[str, Any]) -> None:
    """Save the filter in the options form and wait for the reloaded entry's stream."""
    result = await open_options(hass, entry, "subscriber_filter")
    result = await hass.config_entries.options.async_configure(result["flow_id"], answer)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    await wait_connected(hass, entry)


async def listed(hass: HomeAssistant, entry: MockConfigEntry, named: int) -> None:
    """Wait until the consent listing named ``named`` subscribers and their reads are done."""
    coordinator = coordinator_of(entry)
    await wait_for(lambda: coordinator.capabilities.consent.listing.named == named)
    await coordinator.capabilities.consent.async_idle()
    await hass.async_block_till_done()
    await coordinator.capabilities.network.async_idle()


@pytest.mark.parametrize("entry_options_override", [ONLY_ALICE])
async def test_the_events_of_a_subscriber_left_out_are_acked_and_dropped(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    entry = setup_integration
    bus = async_capture_events(hass, EVENT_WGTWO)
    kinds = ["CALL_INITIATED", "CALL_RINGING", "CALL_ENDED"]
    bobs_call = call("c1", kinds, from_number=CAROL, to_number=BOB, owner=BOB)
    await publish_and_wait(
        hass, auth_sandbox, entry, [*bobs_call, texted(BOB, "s1"), texted(ALICE, "s2")]
    )

    # Bob's call and text: no device, no entity, nothing on the bus. Alice's text as ever.
    assert device_of(hass, entry, BOB) is None
    assert entities_of(hass, entry, BOB) == []
    assert device_of(hass, entry, ALICE) is not None
    assert [(e.data["type"], e.data["subscriber"]) for e in bus] == [("sms_received", ALICE)]
    # Every one of them was acknowledged to the operator.
    await wait_for(lambda: auth_sandbox.stats["acks"] == 5)
    assert [s["unacked"] for s in auth_sandbox.stats["subscriptions"]] == [0]
    # Diagnostics count them, and name no one.
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["subscriber_filter"] == {"all": False, "chosen": 1, "events_dropped": 4}
    assert diagnostics["entry"]["options"][CONF_SUBSCRIBER_FILTER] == {"entries": 1}
    dumped = json.dumps(diagnostics)
    assert BOB[1:] not in dumped
    assert ALICE[1:] not in dumped
    # Stored: Alice, never Bob (the store is written as the entry unloads).
    await async_unload_and_wait(hass, entry, auth_sandbox)
    assert ALICE in stored(hass_storage, entry)
    assert BOB not in stored(hass_storage, entry)


async def test_a_consenting_subscriber_left_out_gets_no_device_until_all_are_chosen(
    hass: HomeAssistant, auth_sandbox: SandboxServer, snapshot: SnapshotAssertion
) -> None:
    auth_sandbox.consents.add(ALICE, [VOICE])
    auth_sandbox.consents.add(DAVE, [VOICE])
    entry = await start(hass, auth_sandbox, **ONLY_ALICE)
    await listed(hass, entry, 2)
    assert device_of(hass, entry, ALICE) is not None
    assert device_of(hass, entry, DAVE) is None
    # Only Alice's network was read.
    assert auth_sandbox.network.reads == 1
    # Bob consents while the entry runs: his consent is acknowledged, and adds no device.
    auth_sandbox.consents.add(BOB, [VOICE])
    queue = f"ha-{entry.entry_id}-consent_change"

    def acked() -> int:
        queues: dict[str, Any] = auth_sandbox.stats["consents"]["stream"]["queues"]
        return int(queues[queue]["acked"]) if queue in queues else 0

    await wait_for(lambda: acked() == 1)
    await hass.async_block_till_done()
    assert device_of(hass, entry, BOB) is None
    # Listed again (as after a reconnect): still no device for Bob or Dave.
    consent = coordinator_of(entry).capabilities.consent
    await consent.async_idle()
    await consent.async_list()
    assert device_of(hass, entry, BOB) is None
    assert device_of(hass, entry, DAVE) is None
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert {key: diagnostics[key] for key in ("consents", "subscriber_filter")} == snapshot
    assert DAVE[1:] not in json.dumps(diagnostics)

    # Everyone again: the listing gives Dave and Bob their devices, no event needed.
    await choose(hass, entry, {CONF_ALL_SUBSCRIBERS: True, CONF_SUBSCRIBER_FILTER: [ALICE]})
    assert CONF_SUBSCRIBER_FILTER not in entry.options
    await listed(hass, entry, 3)
    assert device_of(hass, entry, DAVE) is not None
    assert device_of(hass, entry, BOB) is not None
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_changing_the_filter_removes_a_device_and_all_brings_it_back(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    entry = setup_integration
    await publish_and_wait(hass, auth_sandbox, entry, [texted(ALICE, "s1"), texted(BOB, "s2")])
    alice = device_of(hass, entry, ALICE)
    assert alice is not None
    assert device_of(hass, entry, BOB) is not None
    bobs_entities = entities_of(hass, entry, BOB)
    assert bobs_entities

    result = await open_options(hass, entry, "subscriber_filter")
    assert suggested(result, CONF_ALL_SUBSCRIBERS) is True
    assert suggested(result, CONF_SUBSCRIBER_FILTER) == []
    await choose(hass, entry, {CONF_ALL_SUBSCRIBERS: False, CONF_SUBSCRIBER_FILTER: [ALICE]})

    # Bob's device and entities are gone; Alice keeps hers.
    assert device_of(hass, entry, BOB) is None
    assert entities_of(hass, entry, BOB) == []
    assert all(hass.states.get(entity) is None for entity in bobs_entities)
    assert BOB not in coordinator_of(entry).subscribers
    kept = device_of(hass, entry, ALICE)
    assert kept is not None
    assert kept.id == alice.id
    # His next text is dropped, and what was stored of him is gone.
    await publish_and_wait(hass, auth_sandbox, entry, [texted(BOB, "s3")])
    assert device_of(hass, entry, BOB) is None
    await async_unload_and_wait(hass, entry, auth_sandbox)
    assert ALICE in stored(hass_storage, entry)
    assert BOB not in stored(hass_storage, entry)

    # Everyone again (the list is then neither used nor checked): Bob's device comes with
    # his next event.
    await async_setup_entry_and_connect(hass, entry)
    await choose(hass, entry, {CONF_ALL_SUBSCRIBERS: True, CONF_SUBSCRIBER_FILTER: [ALICE, "12"]})
    assert CONF_SUBSCRIBER_FILTER not in entry.options
    assert device_of(hass, entry, BOB) is None
    bus = async_capture_events(hass, EVENT_WGTWO)
    await publish_and_wait(hass, auth_sandbox, entry, [texted(BOB, "s4")])
    assert device_of(hass, entry, BOB) is not None
    assert [e.data["subscriber"] for e in bus] == [BOB]


async def test_the_filter_form_offers_the_known_and_refuses_what_is_not_a_number(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    auth_sandbox.consents.add(DAVE, [VOICE])
    entry = await start(
        hass, auth_sandbox, phonebook={ALICE: "Alice", CAROL: "Carol"}, **ONLY_ALICE
    )
    await listed(hass, entry, 1)
    result = await open_options(hass, entry, "subscriber_filter")
    assert suggested(result, CONF_ALL_SUBSCRIBERS) is False
    assert suggested(result, CONF_SUBSCRIBER_FILTER) == [ALICE]
    schema = result["data_schema"]
    assert schema is not None
    [selector] = [schema.schema[m] for m in schema.schema if m == CONF_SUBSCRIBER_FILTER]
    # The chosen (by phonebook name) and the consenting one without a device, by name.
    assert selector.config["options"] == [
        {"value": DAVE, "label": DAVE},
        {"value": ALICE, "label": f"Alice ({ALICE})"},
    ]
    assert selector.config["custom_value"] is True

    messages = await async_get_translations(hass, "en", "options", {DOMAIN})
    for typed, error in (
        ("99 90 00 05", "invalid_filter_number"),  # no country code
        ("+47 999", "invalid_filter_number"),  # too short
        ("Zed", "unknown_filter_name"),
    ):
        answer = {CONF_ALL_SUBSCRIBERS: False, CONF_SUBSCRIBER_FILTER: [ALICE, typed]}
        result = await hass.config_entries.options.async_configure(result["flow_id"], answer)
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {CONF_SUBSCRIBER_FILTER: error}
        assert result["description_placeholders"] == {"entry": typed}
        assert suggested(result, CONF_SUBSCRIBER_FILTER) == [ALICE, typed]  # kept to correct
        message = messages[f"component.{DOMAIN}.options.error.{error}"]
        assert "{entry}" in message
        assert "Nothing was saved" in message
    assert entry.options[CONF_SUBSCRIBER_FILTER] == [ALICE]

    # An empty list would give no one a device.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_ALL_SUBSCRIBERS: False, CONF_SUBSCRIBER_FILTER: []}
    )
    assert result["errors"] == {CONF_SUBSCRIBER_FILTER: "no_subscriber_chosen"}

    # Any spelling of a number, a phonebook name, one offered; blanks are skipped.
    answer = {
        CONF_ALL_SUBSCRIBERS: False,
        CONF_SUBSCRIBER_FILTER: [DAVE, "0047 999-00-002", " carol ", " "],
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], answer)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_SUBSCRIBER_FILTER] == [CAROL, BOB, DAVE]
    assert entry.options[CONF_PHONEBOOK] == {ALICE: "Alice", CAROL: "Carol"}  # kept
    await hass.async_block_till_done()
    await wait_connected(hass, entry)
    # Dave joined: the consent listing gives him his device.
    await listed(hass, entry, 1)
    assert device_of(hass, entry, DAVE) is not None
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_the_filter_form_of_an_entry_not_loaded(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(
        auth_sandbox, options=entry_options(phonebook={BOB: "Bob"}, subscriber_filter=[BOB])
    )
    entry.add_to_hass(hass)
    result = await open_options(hass, entry, "subscriber_filter")
    schema = result["data_schema"]
    assert schema is not None
    [selector] = [schema.schema[m] for m in schema.schema if m == CONF_SUBSCRIBER_FILTER]
    assert selector.config["options"] == [{"value": BOB, "label": f"Bob ({BOB})"}]

    # A phonebook name, in any case.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_ALL_SUBSCRIBERS: False, CONF_SUBSCRIBER_FILTER: ["BOB"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_SUBSCRIBER_FILTER] == [BOB]
    await settle(hass, entry, auth_sandbox)
