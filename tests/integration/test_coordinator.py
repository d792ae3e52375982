"""The coordinator on unusual events: missing owners, unknown types, empty payloads, timers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.wgtwo.client import TokenAuditEvent, TokenOperation
from custom_components.wgtwo.compat import device_by_identifier
from custom_components.wgtwo.const import DOMAIN, EVENT_WGTWO
from wgtwo_sandbox import SandboxServer

from .conftest import (
    async_setup_entry_and_connect,
    change_settings,
    publish_and_wait,
    wait_for,
)
from .wgtwo_events import (
    ALICE,
    BASE_TIME,
    BOB,
    Parties,
    at,
    call,
    coordinator_of,
    entity_id,
    handle,
)


def raw(payload: dict[str, Any], owner: str | None = ALICE) -> dict[str, Any]:
    event: dict[str, Any] = {"timestamp": at(0), **payload}
    if owner is not None:
        event["owner"] = {"phoneNumber": {"e164": owner}}
    return {"event": event}


async def test_number_from_payload_when_owner_missing(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    fired = async_capture_events(hass, EVENT_WGTWO)
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            raw(
                {"countryChangeEvent": {"msisdn": {"e164": ALICE}, "current": {"code": "DK"}}},
                owner=None,
            ),
            # Nobody to attribute it to: ignored.
            raw(
                {"voiceEvent": {"callId": "x", "type": "CALL_RINGING"}},
                owner=None,
            ),
        ],
    )
    assert [e.data["type"] for e in fired] == ["roaming_country_changed"]
    assert fired[0].data["subscriber"] == ALICE
    # A country without a name shows its code.
    state = hass.states.get(entity_id(hass, entry, "sensor", ALICE, "roaming_country"))
    assert state is not None
    assert state.state == "DK"


async def test_empty_and_unknown_payloads(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    fired = async_capture_events(hass, EVENT_WGTWO)
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            raw({"voiceEvent": {"callId": "x", "type": "UNSPECIFIED"}}),
            raw({"countryChangeEvent": {"msisdn": {"e164": ALICE}}}),
            raw({"locationUpdateEvent": {"number": {"e164": ALICE}}}),
            raw({"handsetUpdateEvent": {"number": {"e164": ALICE}}}),
            # Direction unknown: sent when the subscriber is the sender.
            raw(
                {
                    "smsEvent": {
                        "id": "s",
                        "uuid": "u",
                        "fromE164": {"e164": ALICE},
                        "toTextAddress": {"textAddress": "INFO"},
                        "text": "x",
                    }
                }
            ),
        ],
    )
    assert [e.data["type"] for e in fired] == [
        "roaming_country_changed",
        "location_updated",
        "handset_changed",
        "sms_sent",
    ]
    assert fired[0].data["current"] is None
    assert fired[0].data["roaming"] is None
    assert fired[3].data["to_address_type"] == "text"
    assert fired[3].data["direction"] == "unknown"
    state = hass.states.get(entity_id(hass, entry, "sensor", ALICE, "roaming_country"))
    assert state is not None
    assert state.state == "unknown"
    # Kinds with no entity or bus event (token audits) are ignored.
    await handle(
        coordinator_of(entry),
        TokenAuditEvent(
            sequence=0,
            timestamp=BASE_TIME,
            owner=ALICE,
            operation=TokenOperation.CREATED,
            new=None,
            old=None,
        ),
    )
    assert len(fired) == 4


async def test_pending_missed_call_dropped_with_device_or_unload(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A missed-call decision still pending when the device or entry goes away is dropped."""
    change_settings(hass, missed_call_settle=30.0)
    entry = config_entry
    await async_setup_entry_and_connect(hass, entry)
    fired = async_capture_events(hass, EVENT_WGTWO)
    missed: Callable[[], list[str]] = lambda: [  # noqa: E731
        e.data["call_id"] for e in fired if e.data["type"] == "call_missed"
    ]
    incoming: Parties = {"from_number": BOB, "to_number": ALICE, "owner": ALICE}
    await publish_and_wait(
        hass, auth_sandbox, entry, call("c1", ["CALL_RINGING", "CALL_ENDED"], **incoming)
    )
    device = device_by_identifier(
        dr.async_get(hass), (DOMAIN, f"{entry.entry_id}_{ALICE}"), entry.entry_id
    )
    assert device is not None
    # The user removes the subscriber's device.
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "config/device_registry/remove_config_entry",
            "config_entry_id": entry.entry_id,
            "device_id": device.id,
        }
    )
    assert (await client.receive_json())["success"]
    # The device comes back with its next call, unanswered as well.
    await publish_and_wait(
        hass, auth_sandbox, entry, call("c2", ["CALL_RINGING", "CALL_ENDED"], start=5, **incoming)
    )
    assert missed() == []

    # Both settle times are over: the new call is missed, the forgotten device's is not.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=31))
    await hass.async_block_till_done()
    assert missed() == ["c2"]
    missed_calls = hass.states.get(entity_id(hass, entry, "sensor", ALICE, "missed_calls"))
    assert missed_calls is not None
    assert missed_calls.state == "1"

    # Pending when the entry unloads: dropped as well.
    await publish_and_wait(
        hass, auth_sandbox, entry, call("c3", ["CALL_RINGING", "CALL_ENDED"], start=10, **incoming)
    )
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=31))
    await hass.async_block_till_done()
    assert missed() == ["c2"]
    assert [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []


async def test_phone_numbers_and_text_never_logged(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = setup_integration
    caplog.set_level("DEBUG", logger="custom_components.wgtwo")
    incoming: Parties = {"from_number": BOB, "to_number": ALICE, "owner": ALICE}
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            *call("c1", ["CALL_RINGING", "CALL_ENDED"], **incoming),
            raw(
                {
                    "smsEvent": {
                        "id": "s",
                        "uuid": "u",
                        "fromE164": {"e164": BOB},
                        "toE164": {"e164": ALICE},
                        "direction": "TO_SUBSCRIBER",
                        "text": "secret words",
                    }
                }
            ),
            raw({"consentRevokeEvent": {"msisdn": {"e164": ALICE}}}),
        ],
    )
    await wait_for(lambda: not coordinator_of(entry).subscribers)
    wgtwo_logs = [r.getMessage() for r in caplog.records if r.name.startswith("custom_components")]
    assert wgtwo_logs
    for message in wgtwo_logs:
        for secret in (ALICE, BOB, ALICE[1:], BOB[1:], "secret words"):
            assert secret not in message
