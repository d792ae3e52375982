"""Voicemail in Home Assistant: the media id on events, unheard voicemails synced from the
operator's played flags, and the wgtwo.delete_voicemail action."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from homeassistant.components import media_source
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wgtwo.const import DOMAIN, EVENT_WGTWO
from tests.sandbox_fixtures import MakeSandbox
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.scopes import ALL_SCOPES, VOICEMAIL_DELETE, VOICEMAIL_GET

from .conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    async_setup_entry_and_connect,
    async_unload_and_wait,
    make_entry,
    publish_and_wait,
    wait_for,
)
from .wgtwo_events import ALICE, BOB, CAROL, coordinator_of, device_id_of, entity_id, voicemail


def unheard(hass: HomeAssistant, entry: MockConfigEntry, number: str = ALICE) -> Any:
    state = hass.states.get(entity_id(hass, entry, "binary_sensor", number, "new_voicemail"))
    assert state is not None
    return state


async def leave(
    hass: HomeAssistant, server: SandboxServer, entry: MockConfigEntry, *ids: str
) -> None:
    """Publish voicemails for Alice from Bob, a minute apart and one at a time."""
    for minute, voicemail_id in enumerate(ids):
        left = voicemail(voicemail_id, from_number=BOB, to_number=ALICE, seconds=60 * minute)
        await publish_and_wait(hass, server, entry, [left])


async def delete(hass: HomeAssistant, entry: MockConfigEntry, **data: Any) -> None:
    await hass.services.async_call(
        DOMAIN,
        "delete_voicemail",
        {"device_id": device_id_of(hass, entry, ALICE), **data},
        blocking=True,
    )


async def test_voicemail_events_carry_a_playable_media_id(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    fired: list[Event] = []
    hass.bus.async_listen(EVENT_WGTWO, fired.append)
    await leave(hass, auth_sandbox, entry, "vm-1")
    media_id = (
        f"media-source://wgtwo/{entry.entry_id}/{coordinator_of(entry).number_key(ALICE)}/vm-1"
    )
    assert fired[-1].data["type"] == "voicemail_new"
    assert fired[-1].data["media_content_id"] == media_id
    event_state = hass.states.get(entity_id(hass, entry, "event", ALICE, "voicemail"))
    assert event_state is not None
    assert event_state.attributes["media_content_id"] == media_id
    played = await media_source.async_resolve_media(hass, media_id, None)
    assert played.mime_type == "audio/wav"


async def test_unheard_voicemails_follow_the_operator_after_a_reconnect_and_a_restart(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await leave(hass, auth_sandbox, entry, "vm-1", "vm-2")
    assert unheard(hass, entry).attributes["unheard_count"] == 2
    # Heard on the phone; another left while the stream was not listening.
    auth_sandbox.voicemails.apply_change("vm-1", played=True, deleted=False)
    auth_sandbox.voicemails.add("vm-3", ALICE, CAROL)
    auth_sandbox.end_streams()
    await wait_for(lambda: unheard(hass, entry).attributes["unheard_count"] == 2)
    await wait_for(lambda: unheard(hass, entry).attributes["voicemail_id"] == "vm-3")
    assert unheard(hass, entry).attributes["last_caller"] == CAROL
    assert [v.voicemail_id for v in coordinator_of(entry).subscribers[ALICE].voicemails] == [
        "vm-2",
        "vm-3",
    ]

    # After a restart: everything was heard on the phone.
    auth_sandbox.voicemails.apply_change("vm-2", played=True, deleted=False)
    auth_sandbox.voicemails.apply_change("vm-3", played=True, deleted=False)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(lambda: unheard(hass, entry).state == STATE_OFF)
    assert unheard(hass, entry).attributes["unheard_count"] == 0


@pytest.fixture
async def limited(
    hass: HomeAssistant, make_sandbox: MakeSandbox, request: pytest.FixtureRequest
) -> AsyncGenerator[tuple[SandboxServer, MockConfigEntry]]:
    """An entry whose OAuth client lacks the scope given as the test's parameter."""
    server = await make_sandbox(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        granted_scopes=ALL_SCOPES - {request.param},
    )
    entry = make_entry(server)
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    yield server, entry
    await async_unload_and_wait(hass, entry, server)


@pytest.mark.parametrize("limited", [VOICEMAIL_GET], indirect=True)
async def test_without_voicemail_get_unheard_voicemails_come_from_events(
    hass: HomeAssistant,
    limited: tuple[SandboxServer, MockConfigEntry],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, entry = limited
    await leave(hass, server, entry, "vm-1")
    server.voicemails.apply_change("vm-1", played=True, deleted=False)
    caplog.set_level(logging.DEBUG, logger="custom_components.wgtwo")
    server.end_streams()
    await wait_for(lambda: "Unheard voicemails not synced: MissingScopeError" in caplog.text)
    assert unheard(hass, entry).attributes["unheard_count"] == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "wgtwo" in r.name]

    # Deleting still works; without a list to look at, the newest unheard is deleted.
    await delete(hass, entry)
    assert "vm-1" not in server.voicemails.voicemails
    assert unheard(hass, entry).state == STATE_OFF


async def test_delete_the_newest_then_by_id(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await leave(hass, auth_sandbox, entry, "vm-1", "vm-2", "vm-3")
    auth_sandbox.voicemails.apply_change("vm-3", played=True, deleted=False)  # heard on the phone

    await delete(hass, entry)  # the newest at the operator, heard or not
    assert set(auth_sandbox.voicemails.voicemails) == {"vm-1", "vm-2"}
    state = unheard(hass, entry)
    assert (state.attributes["unheard_count"], state.attributes["voicemail_id"]) == (2, "vm-2")

    await hass.services.async_call(
        DOMAIN,
        "delete_voicemail",
        {
            "entity_id": entity_id(hass, entry, "binary_sensor", ALICE, "new_voicemail"),
            "voicemail_id": "vm-1",
        },
        blocking=True,
    )
    assert set(auth_sandbox.voicemails.voicemails) == {"vm-2"}
    state = unheard(hass, entry)
    assert (state.state, state.attributes["unheard_count"]) == (STATE_ON, 1)

    # Marking heard keeps working alongside.
    await hass.services.async_call(
        DOMAIN,
        "mark_voicemail_heard",
        {"device_id": device_id_of(hass, entry, ALICE)},
        blocking=True,
    )
    assert unheard(hass, entry).state == STATE_OFF
    assert auth_sandbox.voicemails.voicemails["vm-2"].metadata.played


async def test_delete_errors_are_translated(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await leave(hass, auth_sandbox, entry, "vm-1")
    # Gone at the operator already (deleted on the phone): said so, and no longer unheard.
    auth_sandbox.voicemails.apply_change("vm-1", played=False, deleted=True)
    with pytest.raises(ServiceValidationError) as gone:
        await delete(hass, entry, voicemail_id="vm-1")
    assert gone.value.translation_key == "not_found"
    assert (gone.value.translation_placeholders or {})["detail"] == "vm-1"
    assert unheard(hass, entry).state == STATE_OFF

    with pytest.raises(ServiceValidationError) as nothing:
        await delete(hass, entry)
    assert nothing.value.translation_key == "no_voicemail"
    assert f"{ALICE} has no voicemail at the operator" in str(nothing.value)

    # Bob gets a device too: an id names one subscriber's voicemail only.
    await publish_and_wait(
        hass, auth_sandbox, entry, [voicemail("vm-b", from_number=ALICE, to_number=BOB)]
    )
    with pytest.raises(ServiceValidationError) as several:
        await hass.services.async_call(
            DOMAIN,
            "delete_voicemail",
            {
                "device_id": [device_id_of(hass, entry, ALICE), device_id_of(hass, entry, BOB)],
                "voicemail_id": "vm-b",
            },
            blocking=True,
        )
    assert several.value.translation_key == "voicemail_id_needs_one_subscriber"
    assert "vm-b" in auth_sandbox.voicemails.voicemails

    await auth_sandbox.stop()
    with pytest.raises(HomeAssistantError) as down:
        await delete(hass, entry, voicemail_id="vm-b")
    assert down.value.translation_key == "cannot_connect"
    with pytest.raises(HomeAssistantError) as down_listing:
        await delete(hass, entry)
    assert down_listing.value.translation_key == "cannot_connect"


@pytest.mark.parametrize("limited", [VOICEMAIL_DELETE], indirect=True)
async def test_delete_without_its_scope_names_it(
    hass: HomeAssistant, limited: tuple[SandboxServer, MockConfigEntry]
) -> None:
    server, entry = limited
    await leave(hass, server, entry, "vm-1")
    with pytest.raises(HomeAssistantError) as missing:
        await delete(hass, entry)
    assert missing.value.translation_key == "missing_scope"
    assert (missing.value.translation_placeholders or {})["scope"] == "voicemail.delete"
    assert "voicemail.delete" in str(missing.value)
    assert "vm-1" in server.voicemails.voicemails
    assert unheard(hass, entry).attributes["unheard_count"] == 1


async def test_sync_leaves_unheard_voicemails_alone_while_the_operator_is_unreachable(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await leave(hass, auth_sandbox, entry, "vm-1")
    auth_sandbox.voicemails.apply_change("vm-1", played=True, deleted=False)
    await auth_sandbox.stop()
    await coordinator_of(entry).capabilities.voicemail.async_sync()
    assert unheard(hass, entry).attributes["unheard_count"] == 1


async def test_a_sync_does_not_bring_back_what_was_marked_heard_meanwhile(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await leave(hass, auth_sandbox, entry, "vm-1")
    coordinator = coordinator_of(entry)
    served = auth_sandbox.voicemails.lists_served
    sync = hass.async_create_task(coordinator.capabilities.voicemail.async_sync())
    # The operator has answered the list (vm-1 unplayed); before the answer is handled,
    # the user marks the voicemail heard.
    await wait_for(lambda: auth_sandbox.voicemails.lists_served > served, interval=0)
    await coordinator.capabilities.voicemail.async_mark_heard(
        coordinator.subscribers[ALICE], context=None
    )
    await sync
    assert unheard(hass, entry).state == STATE_OFF
    assert auth_sandbox.voicemails.voicemails["vm-1"].metadata.played


async def test_marking_heard_says_when_the_operator_was_not_told(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    # Like deleting: an operator error reaches the user, translated. The voicemails are
    # cleared here all the same, and the next sync brings back what the operator still
    # holds unplayed.
    entry = setup_integration
    await leave(hass, auth_sandbox, entry, "vm-1")
    await auth_sandbox.stop()
    with pytest.raises(HomeAssistantError) as down:
        await hass.services.async_call(
            DOMAIN,
            "mark_voicemail_heard",
            {"entity_id": unheard(hass, entry).entity_id},
            blocking=True,
        )
    assert down.value.translation_key == "cannot_connect"
    assert str(down.value).startswith("Voicemail: cannot reach the operator")
    assert unheard(hass, entry).state == STATE_OFF
    assert not auth_sandbox.voicemails.voicemails["vm-1"].metadata.played


async def test_marking_heard_a_voicemail_gone_at_the_operator_is_no_error(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await leave(hass, auth_sandbox, entry, "vm-1", "vm-2")
    auth_sandbox.voicemails.apply_change("vm-1", played=False, deleted=True)
    await hass.services.async_call(
        DOMAIN,
        "mark_voicemail_heard",
        {"entity_id": unheard(hass, entry).entity_id},
        blocking=True,
    )
    assert unheard(hass, entry).state == STATE_OFF
    assert auth_sandbox.voicemails.voicemails["vm-2"].metadata.played


async def test_an_id_deletes_only_a_voicemail_of_the_targeted_subscriber(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await leave(hass, auth_sandbox, entry, "vm-a")
    await publish_and_wait(
        hass, auth_sandbox, entry, [voicemail("vm-b", from_number=CAROL, to_number=BOB)]
    )
    # Bob's voicemail, asked for through Alice: refused, and nothing deleted anywhere.
    with pytest.raises(ServiceValidationError) as foreign:
        await delete(hass, entry, voicemail_id="vm-b")
    assert foreign.value.translation_key == "voicemail_not_subscribers"
    assert "vm-b" in str(foreign.value)
    assert set(auth_sandbox.voicemails.voicemails) == {"vm-a", "vm-b"}
    # Alice's own is deleted as before.
    await delete(hass, entry, voicemail_id="vm-a")
    assert set(auth_sandbox.voicemails.voicemails) == {"vm-b"}


@pytest.mark.parametrize("limited", [VOICEMAIL_GET], indirect=True)
async def test_without_voicemail_get_an_id_must_be_one_of_the_subscribers_unheard(
    hass: HomeAssistant, limited: tuple[SandboxServer, MockConfigEntry]
) -> None:
    server, entry = limited
    await leave(hass, server, entry, "vm-a")
    await publish_and_wait(
        hass, server, entry, [voicemail("vm-b", from_number=CAROL, to_number=BOB)]
    )
    # The operator cannot be asked whose vm-b is: the missing grant is named.
    with pytest.raises(HomeAssistantError) as unknown:
        await delete(hass, entry, voicemail_id="vm-b")
    assert unknown.value.translation_key == "missing_scope"
    assert (unknown.value.translation_placeholders or {})["scope"] == "voicemail.get"
    assert "vm-b" in server.voicemails.voicemails
    # Alice's events told that vm-a is hers.
    await delete(hass, entry, voicemail_id="vm-a")
    assert set(server.voicemails.voicemails) == {"vm-b"}
