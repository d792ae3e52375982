"""The wgtwo.reset_missed_calls and wgtwo.mark_voicemail_heard actions."""

from __future__ import annotations

from pathlib import Path

import pytest
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.util.yaml import load_yaml_dict
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wgtwo.compat import device_by_identifier
from custom_components.wgtwo.const import DOMAIN
from wgtwo_sandbox import SandboxServer

from .conftest import publish_and_wait, wait_for
from .wgtwo_events import (
    ALICE,
    BOB,
    CAROL,
    call,
    coordinator_of,
    device_id_of,
    entity_id,
    voicemail,
)

pytestmark = pytest.mark.usefixtures("quick_missed_calls")


def missed(hass: HomeAssistant, entry: MockConfigEntry, number: str) -> str:
    state = hass.states.get(entity_id(hass, entry, "sensor", number, "missed_calls"))
    assert state is not None
    return state.state


async def miss_calls(
    hass: HomeAssistant, server: SandboxServer, entry: MockConfigEntry, number: str, count: int
) -> None:
    """Publish ``count`` unanswered calls to ``number`` and wait until they count."""
    before = int(missed(hass, entry, number)) if number in coordinator_of(entry).subscribers else 0
    for i in range(count):
        await publish_and_wait(
            hass,
            server,
            entry,
            call(
                f"{number}-{before + i}",
                ["CALL_RINGING", "CALL_ENDED"],
                from_number=BOB,
                to_number=number,
                owner=number,
                start=10 * i,
            ),
        )
    await wait_for(lambda: missed(hass, entry, number) == str(before + count))


async def test_reset_missed_calls_by_device_and_entity(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await miss_calls(hass, auth_sandbox, entry, ALICE, 2)
    await miss_calls(hass, auth_sandbox, entry, CAROL, 1)
    await hass.services.async_call(
        DOMAIN,
        "reset_missed_calls",
        {"device_id": device_id_of(hass, entry, ALICE)},
        blocking=True,
    )
    assert missed(hass, entry, ALICE) == "0"
    assert missed(hass, entry, CAROL) == "1"
    await hass.services.async_call(
        DOMAIN,
        "reset_missed_calls",
        {"entity_id": entity_id(hass, entry, "sensor", CAROL, "missed_calls")},
        blocking=True,
    )
    assert missed(hass, entry, CAROL) == "0"


async def test_mark_voicemail_heard_action(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await publish_and_wait(
        hass, auth_sandbox, entry, [voicemail("vm1", from_number=BOB, to_number=ALICE)]
    )
    voicemail_id = entity_id(hass, entry, "binary_sensor", ALICE, "new_voicemail")
    assert hass.states.get(voicemail_id).state == STATE_ON  # type: ignore[union-attr]
    await hass.services.async_call(
        DOMAIN, "mark_voicemail_heard", {"entity_id": voicemail_id}, blocking=True
    )
    assert hass.states.get(voicemail_id).state == STATE_OFF  # type: ignore[union-attr]
    assert auth_sandbox.voicemails.voicemails["vm1"].metadata.played


async def test_action_resolves_targets_as_home_assistant_does(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    """Any sensor of a subscriber names it; the service device and unloaded entries none."""
    entry = setup_integration
    await miss_calls(hass, auth_sandbox, entry, ALICE, 1)
    await miss_calls(hass, auth_sandbox, entry, CAROL, 1)
    service = device_by_identifier(dr.async_get(hass), (DOMAIN, entry.entry_id), entry.entry_id)
    assert service is not None
    await hass.services.async_call(
        DOMAIN, "reset_missed_calls", {"device_id": service.id}, blocking=True
    )
    assert missed(hass, entry, ALICE) == "1"
    await hass.services.async_call(
        DOMAIN,
        "reset_missed_calls",
        {"entity_id": entity_id(hass, entry, "sensor", ALICE, "call_state")},
        blocking=True,
    )
    assert missed(hass, entry, ALICE) == "0"
    assert missed(hass, entry, CAROL) == "1"
    device_id = device_id_of(hass, entry, CAROL)
    coordinator = coordinator_of(entry)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.services.async_call(
        DOMAIN, "reset_missed_calls", {"device_id": device_id}, blocking=True
    )
    assert coordinator.subscribers[CAROL].missed_calls == 1


def test_the_sms_recipient_is_typed_as_text() -> None:
    """The "To" field takes phonebook names too: a text field, not a telephone keypad."""
    services = load_yaml_dict(
        Path(__file__).parents[2] / "custom_components" / DOMAIN / "services.yaml"
    )
    assert services["send_sms"]["fields"]["to"]["selector"] == {"text": None}
