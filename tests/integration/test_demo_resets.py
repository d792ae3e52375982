"""The buttons scripts/develop presses once a demo cycle: every subscriber's, and they reset."""

from __future__ import annotations

import json

import pytest
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers.template import Template
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tools.develop import RESET_BUTTONS_TEMPLATE
from wgtwo_sandbox import SandboxServer

from .conftest import publish_and_wait
from .wgtwo_events import ALICE, BOB, CAROL, call, entity_id, voicemail

pytestmark = pytest.mark.usefixtures("quick_missed_calls")


async def test_the_demos_presses_reset_what_a_cycle_counted(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    events = []
    for n, (caller, owner) in enumerate(((CAROL, ALICE), (ALICE, BOB))):
        events += call(
            f"c{n}",
            ["CALL_INITIATED", "CALL_RINGING", "CALL_FWD_VOICEMAIL", "CALL_ENDED"],
            from_number=caller,
            to_number=owner,
            owner=owner,
            start=10 * n,
        )
        events.append(voicemail(f"vm{n}", from_number=caller, to_number=owner, seconds=10 * n + 5))
    await publish_and_wait(hass, auth_sandbox, entry, events)
    await hass.async_block_till_done()
    counted = {
        number: (
            entity_id(hass, entry, "sensor", number, "missed_calls"),
            entity_id(hass, entry, "binary_sensor", number, "new_voicemail"),
        )
        for number in (ALICE, BOB)
    }
    for missed, new_voicemail in counted.values():
        assert hass.states.get(missed).state == "1"  # type: ignore[union-attr]
        assert hass.states.get(new_voicemail).state == STATE_ON  # type: ignore[union-attr]

    # What the development tool asks Home Assistant for, then presses.
    buttons = json.loads(Template(RESET_BUTTONS_TEMPLATE, hass).async_render(parse_result=False))
    assert sorted(buttons) == sorted(
        entity_id(hass, entry, "button", number, key)
        for number in (ALICE, BOB)
        for key in ("reset_missed_calls", "mark_voicemail_heard")
    )
    await hass.services.async_call("button", "press", {ATTR_ENTITY_ID: buttons}, blocking=True)
    await hass.async_block_till_done()

    for missed, new_voicemail in counted.values():
        assert hass.states.get(missed).state == "0"  # type: ignore[union-attr]
        assert hass.states.get(new_voicemail).state == STATE_OFF  # type: ignore[union-attr]
    # The voicemails are heard at the operator too, as on the phone.
    assert len(auth_sandbox.voicemails.voicemails) == 2
    assert all(v.metadata.played for v in auth_sandbox.voicemails.voicemails.values())
