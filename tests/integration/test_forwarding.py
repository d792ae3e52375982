"""Call forwarding: the select, the wgtwo.set_call_forwarding action, against the sandbox."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from homeassistant.components.select import ATTR_OPTION, SERVICE_SELECT_OPTION
from homeassistant.const import ATTR_ENTITY_ID, EVENT_STATE_CHANGED, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.wgtwo.client import (
    ForwardingMode,
)
from custom_components.wgtwo.const import CONF_FORWARDING_NUMBER, CONF_SUBSCRIBERS, DOMAIN
from custom_components.wgtwo.subscriber import ForwardingState, Subscriber
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.callforward_service import UNKNOWN_STATUS, Fault
from wgtwo_sandbox.scopes import ALL_SCOPES, FORWARD_TO_NUMBER

from .conftest import (
    async_setup_entry_and_connect,
    async_unload_and_wait,
    entry_options,
    make_entry,
    publish_and_wait,
)
from .wgtwo_events import ALICE, CAROL, country, device_id_of, entity_id, stored_snapshots

HOME = "+4722334455"  # Alice's home phone, the forwarding number in her options
OFFICE = "+4722001122"


def options_with(numbers: dict[str, str]) -> dict[str, Any]:
    subscribers = {number: {CONF_FORWARDING_NUMBER: target} for number, target in numbers.items()}
    return entry_options(**{CONF_SUBSCRIBERS: subscribers})


async def connected_entry(
    hass: HomeAssistant, server: SandboxServer, options: dict[str, Any]
) -> MockConfigEntry:
    """Set up an entry and let Alice's device appear (her first event)."""
    entry = make_entry(server, options=options)
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await publish_and_wait(hass, server, entry, [country(ALICE, "NO", "Norway")])
    return entry


@pytest.fixture
async def alice_entry(hass: HomeAssistant, auth_sandbox: SandboxServer) -> Any:
    entry = await connected_entry(hass, auth_sandbox, options_with({ALICE: HOME}))
    yield entry
    await async_unload_and_wait(hass, entry, auth_sandbox)


def select_id(hass: HomeAssistant, entry: MockConfigEntry, number: str = ALICE) -> str:
    return entity_id(hass, entry, "select", number, "call_forwarding")


def state_of(hass: HomeAssistant, entry: MockConfigEntry, number: str = ALICE) -> State:
    state = hass.states.get(select_id(hass, entry, number))
    assert state is not None
    return state


def operator_side(server: SandboxServer, number: str = ALICE) -> dict[str, str] | None:
    subscribers: dict[str, dict[str, str]] = server.stats["call_forwarding"]["subscribers"]
    return subscribers.get(number)


async def choose(hass: HomeAssistant, entry: MockConfigEntry, option: str) -> None:
    await hass.services.async_call(
        "select",
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: select_id(hass, entry), ATTR_OPTION: option},
        blocking=True,
    )


async def test_select_round_trip(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice_entry: MockConfigEntry
) -> None:
    entry = alice_entry
    state = state_of(hass, entry)
    assert state.state == STATE_UNKNOWN
    assert state.attributes["options"] == ["off", "voicemail", "number", "conditional"]
    assert state.attributes["assumed_state"] is True
    assert state.attributes["assumed"] is True
    assert state.attributes["set_at"] is None
    assert operator_side(auth_sandbox) is None

    await choose(hass, entry, "number")
    assert operator_side(auth_sandbox) == {"mode": "unconditional", "to": HOME}
    state = state_of(hass, entry)
    assert state.state == "number"
    assert state.attributes["forwarded_to"] == HOME
    assert state.attributes["set_at"] is not None

    await choose(hass, entry, "conditional")
    assert operator_side(auth_sandbox) == {
        "mode": "conditional",
        "busy": HOME,
        "no_reply": HOME,
        "unavailable": HOME,
    }
    assert state_of(hass, entry).state == "conditional"

    await choose(hass, entry, "voicemail")
    assert operator_side(auth_sandbox) == {"mode": "voicemail"}
    assert state_of(hass, entry).state == "voicemail"
    assert state_of(hass, entry).attributes["forwarded_to"] is None

    await choose(hass, entry, "off")
    assert operator_side(auth_sandbox) == {"mode": "disabled"}
    assert state_of(hass, entry).state == "off"


async def test_state_comes_back_after_reload_and_restart(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    alice_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    entry = alice_entry
    await choose(hass, entry, "conditional")
    before = state_of(hass, entry)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    after = state_of(hass, entry)
    assert after.state == "conditional"
    assert after.attributes["set_at"] == before.attributes["set_at"]
    assert after.attributes["forwarded_to"] == HOME

    # A restart: the entry unloads (its store is flushed) and is set up anew.
    await async_unload_and_wait(hass, entry, auth_sandbox)
    stored = stored_snapshots(hass_storage, entry.entry_id)[ALICE]
    assert stored["forwarding"]["mode"] == "conditional"
    assert stored["forwarding"]["number"] == HOME
    await async_setup_entry_and_connect(hass, entry)
    assert state_of(hass, entry).state == "conditional"
    assert state_of(hass, entry).attributes["set_at"] == before.attributes["set_at"]


async def test_action_with_a_number_override(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice_entry: MockConfigEntry
) -> None:
    entry = alice_entry
    await hass.services.async_call(
        DOMAIN,
        "set_call_forwarding",
        {
            "device_id": device_id_of(hass, entry, ALICE),
            "mode": "number",
            "number": "+47 22 00 11 22",
        },
        blocking=True,
    )
    assert operator_side(auth_sandbox) == {"mode": "unconditional", "to": OFFICE}
    assert state_of(hass, entry).state == "number"
    assert state_of(hass, entry).attributes["forwarded_to"] == OFFICE
    # Without a number the option's number is used; a number given for voicemail is ignored.
    await hass.services.async_call(
        DOMAIN,
        "set_call_forwarding",
        {"entity_id": select_id(hass, entry), "mode": "conditional"},
        blocking=True,
    )
    assert operator_side(auth_sandbox) == {
        "mode": "conditional",
        "busy": HOME,
        "no_reply": HOME,
        "unavailable": HOME,
    }
    await hass.services.async_call(
        DOMAIN,
        "set_call_forwarding",
        {"entity_id": select_id(hass, entry), "mode": "voicemail", "number": OFFICE},
        blocking=True,
    )
    assert operator_side(auth_sandbox) == {"mode": "voicemail"}


async def test_action_reaches_every_targeted_subscriber_once(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = await connected_entry(
        hass, auth_sandbox, options_with({ALICE: HOME, CAROL: "+4681234567"})
    )
    await publish_and_wait(hass, auth_sandbox, entry, [country(CAROL, "SE", "Sweden")])
    await hass.services.async_call(
        DOMAIN,
        "set_call_forwarding",
        {
            "device_id": [device_id_of(hass, entry, ALICE), device_id_of(hass, entry, CAROL)],
            "entity_id": select_id(hass, entry, ALICE),
            "mode": "number",
        },
        blocking=True,
    )
    assert operator_side(auth_sandbox, ALICE) == {"mode": "unconditional", "to": HOME}
    assert operator_side(auth_sandbox, CAROL) == {"mode": "unconditional", "to": "+4681234567"}
    assert auth_sandbox.stats["call_forwarding"]["requests"] == 2
    await async_unload_and_wait(hass, entry, auth_sandbox)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("+46701234567", "forwarding to international numbers is not allowed"),
        ("+4782012345", "forwarding to premium-rate numbers is not allowed"),
    ],
)
async def test_rejected_target_keeps_the_state(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    alice_entry: MockConfigEntry,
    target: str,
    reason: str,
) -> None:
    entry = alice_entry
    await choose(hass, entry, "voicemail")
    with pytest.raises(HomeAssistantError) as info:
        await hass.services.async_call(
            DOMAIN,
            "set_call_forwarding",
            {"entity_id": select_id(hass, entry), "mode": "number", "number": target},
            blocking=True,
        )
    assert info.value.translation_key == "operator_rejected"
    assert str(info.value) == f"Call forwarding: the operator refused: {reason}"
    assert state_of(hass, entry).state == "voicemail"
    assert operator_side(auth_sandbox) == {"mode": "voicemail"}
    assert auth_sandbox.stats["call_forwarding"]["requests"] == 2  # a refusal is not retried


LOST_ANSWERS = [
    grpc.StatusCode.DEADLINE_EXCEEDED,  # a timeout
    grpc.StatusCode.UNAVAILABLE,  # a dropped connection
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
    UNKNOWN_STATUS,  # an answer with a status this version does not know
]


@pytest.mark.parametrize("fault", LOST_ANSWERS)
async def test_a_lost_answer_is_asked_again_once(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice_entry: MockConfigEntry, fault: Fault
) -> None:
    """Forwarding requests are idempotent: the answer lost once, the request is repeated."""
    entry = alice_entry
    await choose(hass, entry, "voicemail")
    auth_sandbox.forwarding.fail_after_apply = [fault]

    await choose(hass, entry, "number")

    assert state_of(hass, entry).state == "number"
    assert state_of(hass, entry).attributes["forwarded_to"] == HOME
    assert operator_side(auth_sandbox) == {"mode": "unconditional", "to": HOME}
    assert auth_sandbox.stats["call_forwarding"]["requests"] == 3


@pytest.mark.parametrize("fault", LOST_ANSWERS)
async def test_a_forwarding_that_may_have_changed_is_shown_unknown(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    alice_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    fault: Fault,
) -> None:
    entry = alice_entry
    await choose(hass, entry, "voicemail")
    auth_sandbox.forwarding.fail_after_apply = [fault, fault]

    with pytest.raises(HomeAssistantError) as info:
        await choose(hass, entry, "number")

    # The operator did forward the calls; Home Assistant cannot know, and says so.
    assert operator_side(auth_sandbox) == {"mode": "unconditional", "to": HOME}
    assert info.value.translation_key == "forwarding_uncertain"
    assert "may have changed" in str(info.value)
    assert state_of(hass, entry).state == STATE_UNKNOWN
    assert auth_sandbox.stats["call_forwarding"]["requests"] == 3  # asked twice, no more
    # Unknown also after a restart: the old mode is not brought back.
    await async_unload_and_wait(hass, entry, auth_sandbox)
    stored = stored_snapshots(hass_storage, entry.entry_id)[ALICE]
    assert stored["forwarding"] is None
    await async_setup_entry_and_connect(hass, entry)
    assert state_of(hass, entry).state == STATE_UNKNOWN
    # Setting it again brings the select back.
    await choose(hass, entry, "off")
    assert state_of(hass, entry).state == "off"


async def test_rejected_option_number_through_the_select(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    """A refused option is taken back at once: the state is written again, unchanged.

    The frontend shows the picked option until the select's state is written; written
    before the error, the select shows the option that holds as the error appears.
    """
    entry = await connected_entry(hass, auth_sandbox, options_with({ALICE: "+4782912345"}))
    await choose(hass, entry, "voicemail")
    before = state_of(hass, entry)
    written = async_capture_events(hass, EVENT_STATE_CHANGED)
    with pytest.raises(HomeAssistantError, match="premium-rate"):
        await choose(hass, entry, "conditional")
    select_writes = [e for e in written if e.data["entity_id"] == select_id(hass, entry)]
    assert [e.data["new_state"].state for e in select_writes] == ["voicemail"]
    assert select_writes[0].data["new_state"].last_updated > before.last_updated
    assert state_of(hass, entry).state == "voicemail"
    # An accepted option is written once, as before.
    written.clear()
    await choose(hass, entry, "off")
    assert [e.data["new_state"].state for e in written] == ["off"]
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_missing_scope_is_named(hass: HomeAssistant, make_sandbox: MakeSandbox) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_CLIENT_SECRET,
        granted_scopes=ALL_SCOPES - {FORWARD_TO_NUMBER},
    )
    entry = await connected_entry(hass, server, options_with({ALICE: HOME}))
    with pytest.raises(HomeAssistantError) as info:
        await choose(hass, entry, "number")
    assert info.value.translation_key == "missing_scope"
    assert (info.value.translation_placeholders or {})["scope"] == "callforwarding.to_number"
    assert "callforwarding.to_number" in str(info.value)
    assert state_of(hass, entry).state == STATE_UNKNOWN
    # The other modes have their own scopes and still work.
    await choose(hass, entry, "voicemail")
    assert state_of(hass, entry).state == "voicemail"
    await async_unload_and_wait(hass, entry, server)


async def test_no_forwarding_number(hass: HomeAssistant, auth_sandbox: SandboxServer) -> None:
    """The error says what to do where the user is: the select cannot be given a number."""
    entry = await connected_entry(hass, auth_sandbox, entry_options())
    for option in ("number", "conditional"):
        with pytest.raises(ServiceValidationError) as info:
            await choose(hass, entry, option)
        assert info.value.translation_key == "forwarding_number_missing_select"
        assert "Configure" in str(info.value)
        assert "action" not in str(info.value)
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            DOMAIN,
            "set_call_forwarding",
            {"entity_id": select_id(hass, entry), "mode": "number"},
            blocking=True,
        )
    assert info.value.translation_key == "forwarding_number_missing"
    assert "give a number in the action" in str(info.value)
    assert state_of(hass, entry).state == STATE_UNKNOWN
    assert auth_sandbox.stats["call_forwarding"]["requests"] == 0
    # Voicemail and off need no number.
    await choose(hass, entry, "off")
    assert operator_side(auth_sandbox) == {"mode": "disabled"}
    await async_unload_and_wait(hass, entry, auth_sandbox)


@pytest.mark.parametrize("number", ["98765432", "+47 abc", "+0123456789"])
async def test_malformed_number_is_refused_before_sending(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice_entry: MockConfigEntry, number: str
) -> None:
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            DOMAIN,
            "set_call_forwarding",
            {"entity_id": select_id(hass, alice_entry), "mode": "number", "number": number},
            blocking=True,
        )
    assert info.value.translation_key == "forwarding_invalid_number"
    assert number not in str(info.value)
    assert auth_sandbox.stats["call_forwarding"]["requests"] == 0


async def test_forwarding_to_the_subscribers_own_number_is_refused(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    """A line forwarded to itself loops (conditional: busy, so forward, so busy ...)."""
    entry = await connected_entry(hass, auth_sandbox, options_with({ALICE: ALICE}))
    with pytest.raises(ServiceValidationError) as info:
        await choose(hass, entry, "conditional")
    assert info.value.translation_key == "forwarding_to_itself"
    assert ALICE not in str(info.value)
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            DOMAIN,
            "set_call_forwarding",
            {"entity_id": select_id(hass, entry), "mode": "number", "number": "0047 999 00 001"},
            blocking=True,
        )
    assert info.value.translation_key == "forwarding_to_itself"
    assert state_of(hass, entry).state == STATE_UNKNOWN
    assert auth_sandbox.stats["call_forwarding"]["requests"] == 0
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_rejected_credentials(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice_entry: MockConfigEntry
) -> None:
    auth_sandbox.authority.client_secret = "rotated"
    with pytest.raises(HomeAssistantError) as info:
        await choose(hass, alice_entry, "voicemail")
    assert info.value.translation_key == "invalid_auth"
    assert state_of(hass, alice_entry).state == STATE_UNKNOWN
    auth_sandbox.authority.client_secret = TEST_CLIENT_SECRET


async def test_unreachable_operator(hass: HomeAssistant, auth_sandbox: SandboxServer) -> None:
    entry = await connected_entry(hass, auth_sandbox, options_with({ALICE: HOME}))
    await auth_sandbox.stop()
    with pytest.raises(HomeAssistantError) as info:
        await choose(hass, entry, "number")
    assert info.value.translation_key == "cannot_connect"
    assert state_of(hass, entry).state == STATE_UNKNOWN
    await async_unload_and_wait(hass, entry)


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "number",
        {"mode": "sideways", "number": HOME, "set_at": "2026-11-27T09:00:00+00:00"},
        {"mode": "number", "number": None, "set_at": "2026-11-27T09:00:00+00:00"},
        {"mode": "number", "number": HOME, "set_at": "2026-11-27T09:00:00"},
        {"mode": "off", "set_at": 5},
    ],
)
def test_malformed_stored_forwarding_is_dropped(stored: Any) -> None:
    subscriber = Subscriber(ALICE, "device", "Alice")
    subscriber.restore({"forwarding": stored})
    assert subscriber.forwarding is None


def test_stored_forwarding_round_trip() -> None:
    subscriber = Subscriber(ALICE, "device", "Alice")
    subscriber.restore(
        {"forwarding": {"mode": "voicemail", "number": HOME, "set_at": "2026-11-27T09:00:00Z"}}
    )
    forwarding = subscriber.forwarding
    assert isinstance(forwarding, ForwardingState)
    assert forwarding.mode is ForwardingMode.VOICEMAIL
    assert forwarding.number is None  # voicemail has no target
    assert subscriber.snapshot()["forwarding"] == {
        "mode": "voicemail",
        "number": None,
        "set_at": "2026-11-27T09:00:00+00:00",
    }
