"""Subscribers from their consent, the consent stream and the v1 subscription streams.

All against the sandbox over loopback gRPC: consents listed at setup, the consent change
stream, the country, periodic country, handset and first attachment streams.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.wgtwo.api import OperatorApi
from custom_components.wgtwo.capabilities.consent import NAMING_CONCURRENCY
from custom_components.wgtwo.client.consents import ConsentInfo
from custom_components.wgtwo.const import DOMAIN
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox
from wgtwo_sandbox import SandboxServer

from .conftest import (
    ALL_EVENT_TYPES,
    async_setup_entry_and_connect,
    async_unload_and_wait,
    entry_options,
    make_entry,
    publish_and_wait,
    wait_for,
)
from .wgtwo_events import consent_revoke, coordinator_of, country, device_of, entity_id, handset

ALICE = "+4799900001"
BOB = "+4799900002"
CAROL = "+4799900003"
VOICE = "events.voice.subscribe"
ROAMING = "events.roaming.subscribe"
SMS_SEND = "sms.text:send_from_subscriber"
V1_STREAMS = ["country_change", "periodic_country", "handset_change", "first_attachment"]
HANDSET_DETAILS = "subscription.handset_details:read"
IMSI = "242010000000009"


def unique_ids(hass: HomeAssistant, entry: MockConfigEntry, number: str) -> set[str]:
    prefix = f"{entry.entry_id}_{number}_"
    return {
        e.unique_id.removeprefix(prefix)
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if e.unique_id.startswith(prefix)
    }


async def start(hass: HomeAssistant, server: SandboxServer, **options: Any) -> MockConfigEntry:
    entry = make_entry(server, options=entry_options(**options))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    return entry


async def test_every_consenting_subscriber_has_a_device_before_any_event(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    auth_sandbox.consents.add(ALICE, [VOICE, ROAMING, SMS_SEND])
    auth_sandbox.consents.add(CAROL, [VOICE])
    auth_sandbox.consents.add_tenant([VOICE])
    entry = await start(hass, auth_sandbox, phonebook={CAROL: "Carol"})
    await wait_for(lambda: device_of(hass, entry, CAROL) is not None)
    await wait_for(lambda: device_of(hass, entry, ALICE) is not None)
    await hass.async_block_till_done()
    carol = device_of(hass, entry, CAROL)
    assert carol is not None
    assert carol.name == "Carol"  # named from the phonebook, no event needed
    # Carol granted calls only: no roaming, SMS, voicemail or forwarding entities.
    assert unique_ids(hass, entry, CAROL) == {
        "last_caller",
        "call_state",
        "missed_calls",
        "call",
        "reset_missed_calls",
        "last_event",
    }
    assert {"roaming_country", "roaming", "sms"} <= unique_ids(hass, entry, ALICE)
    assert "new_voicemail" not in unique_ids(hass, entry, ALICE)
    # The operator-wide consent adds no device.
    assert len(coordinator_of(entry).subscribers) == 2
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_many_consents_are_named_a_few_at_a_time_in_order(
    hass: HomeAssistant, auth_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large entry's subscribers all get their device; the operator gets 8 requests at most."""
    numbers = [f"+47999{index:05d}" for index in range(NAMING_CONCURRENCY * 3 + 1)]
    for number in numbers:
        auth_sandbox.consents.add(number, [VOICE])
    under_way = 0
    most = 0
    get_msisdn = OperatorApi.get_msisdn

    async def counted(api: OperatorApi, consent: ConsentInfo) -> str | None:
        nonlocal under_way, most
        under_way += 1
        most = max(most, under_way)
        try:
            await asyncio.sleep(0.01)  # the operator's answer takes a moment
            return await get_msisdn(api, consent)
        finally:
            under_way -= 1

    monkeypatch.setattr(OperatorApi, "get_msisdn", counted)
    entry = await start(hass, auth_sandbox)
    coordinator = coordinator_of(entry)
    await wait_for(lambda: len(coordinator.subscribers) == len(numbers))
    # In the consents' order, each with its device.
    assert list(coordinator.subscribers) == numbers
    assert all(device_of(hass, entry, number) is not None for number in numbers)
    assert most == NAMING_CONCURRENCY
    assert auth_sandbox.consents.msisdn_lookups == len(numbers)
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_a_missing_id_scope_stops_the_listing_at_the_first_answer(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    """The requests asked with the first are answered; no more are made after it."""
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_CLIENT_SECRET,
        granted_scopes=["events.voice.subscribe"],
    )
    for index in range(NAMING_CONCURRENCY * 3):
        server.consents.add(f"+47999{index:05d}", [VOICE])
    entry = await start(hass, server, event_types=["voice"])
    issue_id = f"missing_subscription_id_scope_{entry.entry_id}"
    await wait_for(lambda: ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None)
    await hass.async_block_till_done()
    assert coordinator_of(entry).subscribers == {}
    await async_unload_and_wait(hass, entry, server)


async def test_the_consent_stream_adds_updates_and_revokes_once(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    bus = async_capture_events(hass, "wgtwo_event")
    entry = await start(hass, auth_sandbox)
    coordinator = coordinator_of(entry)
    auth_sandbox.consents.add(BOB, [VOICE, ROAMING])
    await wait_for(lambda: BOB in coordinator.subscribers)
    await hass.async_block_till_done()
    assert "roaming_country" in unique_ids(hass, entry, BOB)
    # The update drops roaming: its entities go.
    auth_sandbox.consents.update(BOB, [VOICE])
    await wait_for(lambda: coordinator.subscribers[BOB].scopes == frozenset({VOICE}))
    await hass.async_block_till_done()
    assert "roaming_country" not in unique_ids(hass, entry, BOB)
    assert "call_state" in unique_ids(hass, entry, BOB)
    # Revoked: v1 and v0 both arrive; one clean-up.
    auth_sandbox.consents.revoke(BOB)
    await wait_for(lambda: device_of(hass, entry, BOB) is None)
    await wait_for(
        lambda: (
            auth_sandbox.stats["consents"]["stream"]["queues"][
                f"ha-{entry.entry_id}-consent_change"
            ]["acked"]
            == 3
        )
    )
    await wait_for(
        lambda: auth_sandbox.stats["delivered"] >= 1 if "delivered" in auth_sandbox.stats else True
    )
    await publish_and_wait(hass, auth_sandbox, entry, [consent_revoke(ALICE)])
    revoked = [e for e in bus if e.data["type"] == "consent_revoked"]
    assert [e.data["subscriber"] for e in revoked] == [BOB, ALICE]
    issues = [i for (d, i) in ir.async_get(hass).issues if d == DOMAIN and "consent" in i]
    assert len(issues) == 2
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_without_subscription_id_scope_a_repair_issue_names_it(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    scopes = ["events.voice.subscribe", "events.voicemail.subscribe", "events.sms.subscribe"]
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_CLIENT_SECRET,
        granted_scopes=[*scopes, "events.roaming.subscribe"],
    )
    server.consents.add(ALICE, [VOICE])
    entry = await start(hass, server, event_types=["voice", "voicemail", "sms", "roaming"])
    issue_id = f"missing_subscription_id_scope_{entry.entry_id}"
    await wait_for(lambda: ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["scopes"] == "subscription.id:read"
    # Devices come with events as before.
    assert ALICE not in coordinator_of(entry).subscribers
    await async_unload_and_wait(hass, entry, server)


async def test_a_move_told_by_both_streams_shows_once(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    bus = async_capture_events(hass, "wgtwo_event")
    entry = await start(hass, auth_sandbox, event_types=[*ALL_EVENT_TYPES, *V1_STREAMS])
    hub = entry.runtime_data.hub
    streams = {str(s.kind): s for s in hub.v1_streams}
    await wait_for(lambda: all(s.stream.status.state.value == "connected" for s in hub.v1_streams))
    await publish_and_wait(
        hass, auth_sandbox, entry, [country(ALICE, "SE", "Sweden", previous=("NO", "Norway"))]
    )
    auth_sandbox.subscription_events.publish(
        "country_change",
        {
            "number": {"e164": ALICE},
            "previous": {"code": "NO", "name": "Norway"},
            "current": {"code": "SE", "name": "Sweden"},
        },
    )
    await wait_for(lambda: streams["country_change"].events_handled == 1)
    # A periodic report of another country moves the subscriber; the IMSI is kept.
    auth_sandbox.subscription_events.publish(
        "periodic_country",
        {
            "number": {"e164": ALICE},
            "imsi": {"value": "242010000000009"},
            "country": {"code": "DK", "name": "Denmark"},
        },
    )
    await wait_for(lambda: streams["periodic_country"].events_handled == 1)
    auth_sandbox.subscription_events.publish(
        "first_attachment", {"number": {"e164": ALICE}, "imsi": {"value": "242010000000009"}}
    )
    await wait_for(lambda: streams["first_attachment"].events_handled == 1)
    await hass.async_block_till_done()
    moves = [e.data for e in bus if e.data["type"] == "roaming_country_changed"]
    assert [(m["previous"] or {}).get("code") for m in moves] == ["NO", "SE"]
    assert [m["current"]["code"] for m in moves] == ["SE", "DK"]
    state = hass.states.get("sensor.4799900001_roaming_country")
    assert state is not None
    assert state.state == "Denmark"
    assert state.attributes["imsi"] == "242010000000009"
    first = [e.data for e in bus if e.data["type"] == "sim_first_attached"]
    assert len(first) == 1
    assert first[0]["imsi"] == "242010000000009"
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_a_consent_update_granting_a_scope_again_brings_its_entities_back(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    auth_sandbox.consents.add(BOB, [VOICE, ROAMING])
    entry = await start(hass, auth_sandbox)
    coordinator = coordinator_of(entry)
    await wait_for(lambda: BOB in coordinator.subscribers)
    await hass.async_block_till_done()
    roaming = {"roaming_country", "roaming"}
    assert roaming <= unique_ids(hass, entry, BOB)
    auth_sandbox.consents.update(BOB, [VOICE])
    await wait_for(lambda: coordinator.subscribers[BOB].scopes == frozenset({VOICE}))
    await hass.async_block_till_done()
    assert not roaming & unique_ids(hass, entry, BOB)
    # Granted again: the entities come back, and they work.
    auth_sandbox.consents.update(BOB, [VOICE, ROAMING])
    await wait_for(lambda: coordinator.subscribers[BOB].scopes == frozenset({VOICE, ROAMING}))
    await hass.async_block_till_done()
    assert roaming <= unique_ids(hass, entry, BOB)
    await publish_and_wait(
        hass, auth_sandbox, entry, [country(BOB, "SE", "Sweden", previous=("NO", "Norway"))]
    )
    state = hass.states.get(entity_id(hass, entry, "sensor", BOB, "roaming_country"))
    assert state is not None
    assert state.state == "Sweden"
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_the_v1_handset_stream_feeds_the_handset_sensor(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    bus = async_capture_events(hass, "wgtwo_event")
    auth_sandbox.consents.add(ALICE, [VOICE, HANDSET_DETAILS])
    entry = make_entry(
        auth_sandbox,
        options=entry_options(event_types=["voice", "handset", "handset_change"]),
    )
    entry.add_to_hass(hass)
    # The handset sensor is disabled by default: enabled here, as a user would.
    er.async_get(hass).async_get_or_create(
        "sensor", DOMAIN, f"{entry.entry_id}_{ALICE}_handset", config_entry=entry
    )
    await async_setup_entry_and_connect(hass, entry)
    [stream] = [s for s in entry.runtime_data.hub.v1_streams if s.kind == "handset_change"]
    await wait_for(lambda: stream.stream.status.state.value == "connected")
    auth_sandbox.subscription_events.publish(
        "handset_change",
        {
            "number": {"e164": ALICE},
            "imsi": {"value": IMSI},
            "previous": {"imeiSv": {"imei": "490154203237518", "softwareVersion": "01"}},
            "current": {"imeiSv": {"imei": "356938035643809", "softwareVersion": "02"}},
        },
    )
    await wait_for(lambda: stream.events_handled == 1)
    await hass.async_block_till_done()
    state = hass.states.get(entity_id(hass, entry, "sensor", ALICE, "handset"))
    assert state is not None
    assert state.state == "356938035643809"
    assert state.attributes["software_version"] == "02"
    assert state.attributes["imsi"] == IMSI
    # The same handset told by the v0 stream is no change: one handset_changed in all.
    await publish_and_wait(hass, auth_sandbox, entry, [handset(ALICE, "356938035643809")])
    changes = [e.data for e in bus if e.data["type"] == "handset_changed"]
    assert [(c["previous"], c["current"]) for c in changes] == [
        (
            {"imei": "490154203237518", "software_version": "01"},
            {"imei": "356938035643809", "software_version": "02"},
        )
    ]
    assert IMSI not in repr(changes)
    await async_unload_and_wait(hass, entry, auth_sandbox)
