"""Subscriber devices and entities as users see them, driven by sandbox events."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wgtwo.const import DOMAIN
from wgtwo_sandbox import SandboxServer

from .conftest import publish_and_wait
from .wgtwo_events import ALICE, BOB, call, entity_id


async def test_first_event_creates_device_and_entities(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c1", ["CALL_INITIATED", "CALL_RINGING"], from_number=BOB, to_number=ALICE, owner=ALICE),
    )
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"{entry.entry_id}_{ALICE}"), entry.entry_id
    )
    assert device is not None
    assert device.name == ALICE
    state = hass.states.get(entity_id(hass, entry, "sensor", ALICE, "call_state"))
    assert state is not None
    assert state.state == "ringing"
    caller = hass.states.get(entity_id(hass, entry, "sensor", ALICE, "last_caller"))
    assert caller is not None
    assert caller.state == BOB
