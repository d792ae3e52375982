"""Diagnostics and system health of a running entry, with nothing personal or secret in them."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, get_system_health_info
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.wgtwo.const import DOMAIN
from wgtwo_sandbox import SandboxServer

from .conftest import CLIENT_ID, CLIENT_SECRET, hub_of, publish_and_wait, wait_for
from .wgtwo_events import ALICE, BOB, CAROL, call, handset, sms, voicemail

IMEI = "358240051111110"
IMSI = "242010000000001"
SMS_TEXT = "the door code is 4711"


async def test_diagnostics_are_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
) -> None:
    entry = setup_integration
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "phonebook": {CAROL: "Carol Jensen"}}
    )
    await hass.async_block_till_done()
    await wait_for(lambda: hub_of(entry).connected)
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            *call(
                "c1",
                ["CALL_INITIATED", "CALL_RINGING"],
                from_number=BOB,
                to_number=ALICE,
                owner=ALICE,
            ),
            voicemail("vm1", from_number=CAROL, to_number=ALICE),
            sms(
                owner=ALICE,
                from_number=BOB,
                to_number=ALICE,
                direction="TO_SUBSCRIBER",
                text=SMS_TEXT,
            ),
            handset(ALICE, IMEI),
        ],
    )
    hub = hub_of(entry)
    token = hub.token_provider.token_if_fresh() if hub.token_provider else None
    assert token is not None

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    text = json.dumps(diagnostics)
    for secret in (
        CLIENT_SECRET,
        CLIENT_ID,
        token,
        ALICE,
        BOB,
        CAROL,
        "Carol Jensen",
        IMEI,
        IMSI,
        SMS_TEXT,
    ):
        assert secret not in text
    for issued in auth_sandbox.authority.tokens:
        assert issued not in text
    connection = diagnostics["connection"]
    assert connection["received"] == 5
    assert connection["events_handled"] == 5
    assert connection["state"] == "connected"
    assert diagnostics["entry"]["options"]["phonebook"] == {"entries": 1}
    assert diagnostics["entry"]["options"]["event_types"]
    (subscriber,) = diagnostics["subscribers"]
    assert subscriber["call_state"] == "ringing"
    assert subscriber["unheard_voicemails"] == 1
    assert subscriber["handset_known"] is True


async def test_system_health_reports_the_stream(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    assert await async_setup_component(hass, "system_health", {})
    await hass.async_block_till_done()
    info = await get_system_health_info(hass, DOMAIN)
    assert info["connected"] is True
    assert info["events_received"] == 0
    assert info["last_event"] == "-"
    assert await info["can_reach_server"] == "ok"

    await publish_and_wait(
        hass, auth_sandbox, setup_integration, [voicemail("vm1", from_number=BOB, to_number=ALICE)]
    )
    info = await get_system_health_info(hass, DOMAIN)
    assert info["events_received"] == 1
    assert info["last_event"] != "-"
    await info["can_reach_server"]


async def test_system_health_without_entries(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, "system_health", {})
    await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    assert await get_system_health_info(hass, DOMAIN) == {}
