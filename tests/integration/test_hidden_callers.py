"""A voicemail whose caller was hidden stays hidden everywhere: the media browser (which
reads the operator's metadata), the new-voicemail sensor, the bus event and the sync, also
after a restart and after the caller calls again showing the number."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from homeassistant.components import media_source
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.wgtwo.const import CONF_PHONEBOOK, DOMAIN, EVENT_WGTWO
from tests.sandbox_fixtures import MakeSandbox
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.scopes import ALL_SCOPES, VOICEMAIL_UPDATE

from .conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    async_setup_entry_and_connect,
    async_unload_and_wait,
    entry_options,
    make_entry,
    publish_and_wait,
    wait_for,
)
from .wgtwo_events import (
    ALICE,
    CAROL,
    OUTSIDER,
    coordinator_of,
    entity_id,
    snapshot_store,
    voice,
    voicemail,
)

ROOT = "media-source://wgtwo"
PHONEBOOK = {ALICE: "Alice", CAROL: "Carol", OUTSIDER: "Olav"}


@pytest.fixture
def entry_options_override() -> dict[str, Any]:
    """Every caller is in the phonebook: a revealed caller would be named."""
    return {CONF_PHONEBOOK: PHONEBOOK}


def hidden_voicemail(voicemail_id: str, *, seconds: float = 0) -> dict[str, Any]:
    """A new voicemail for Alice whose event names no caller."""
    event = voicemail(voicemail_id, from_number=CAROL, to_number=ALICE, seconds=seconds)
    del event["event"]["voicemailEvent"]["fromNumber"]
    return event


async def leave_hidden(
    hass: HomeAssistant, server: SandboxServer, entry: MockConfigEntry, voicemail_id: str
) -> dict[str, Any]:
    """Leave Alice a voicemail without a caller in its event; the operator knows Carol left
    it. Return the ``voicemail_new`` bus event's data."""
    fired = async_capture_events(hass, EVENT_WGTWO)
    await publish_and_wait(hass, server, entry, [hidden_voicemail(voicemail_id)])
    getattr(server.voicemails.voicemails[voicemail_id].metadata, "from").e164 = CAROL
    [event] = [e for e in fired if e.data["type"] == "voicemail_new"]
    return dict(event.data)


async def titles(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, str]:
    """Alice's voicemails in the media browser: id -> title."""
    key = coordinator_of(entry).number_key(ALICE)
    folder = await media_source.async_browse_media(hass, f"{ROOT}/{entry.entry_id}/{key}")
    return {
        (item.media_content_id or "").rsplit("/", 1)[1]: item.title
        for item in folder.children or []
    }


def caller_shown(title: str) -> str:
    """The caller part of a browser title ("New · <caller> · <time> · <length>")."""
    return title.split(" · ")[1]


def new_voicemail(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    state = hass.states.get(entity_id(hass, entry, "binary_sensor", ALICE, "new_voicemail"))
    assert state is not None
    return dict(state.attributes)


async def reload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()


async def test_a_voicemail_announced_without_its_caller_stays_hidden_in_the_media_browser(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    announced = await leave_hidden(hass, auth_sandbox, entry, "vm-hidden")
    assert (announced["from_number"], announced["from_name"]) == (None, None)
    await publish_and_wait(
        hass, auth_sandbox, entry, [voicemail("vm-shown", from_number=CAROL, to_number=ALICE)]
    )
    shown = await titles(hass, entry)
    assert caller_shown(shown["vm-hidden"]) == "Hidden number"
    assert caller_shown(shown["vm-shown"]) == "Carol"
    # The same after a restart.
    await reload(hass, entry)
    shown = await titles(hass, entry)
    assert caller_shown(shown["vm-hidden"]) == "Hidden number"
    assert caller_shown(shown["vm-shown"]) == "Carol"


async def test_a_caller_who_hid_the_number_before_a_restart_stays_hidden(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """The call hid the number; the voicemail event after the restart carries it."""
    entry = setup_integration
    hidden_call = voice(
        "c1", "CALL_RINGING", from_number=OUTSIDER, to_number=ALICE, owner=ALICE, hidden=True
    )
    await publish_and_wait(hass, auth_sandbox, entry, [hidden_call])
    await reload(hass, entry)
    # What is kept of the hidden caller is not its number.
    stored = json.dumps(snapshot_store(hass_storage, entry.entry_id))
    assert OUTSIDER.removeprefix("+") not in stored
    fired = async_capture_events(hass, EVENT_WGTWO)
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [voicemail("vm-1", from_number=OUTSIDER, to_number=ALICE, seconds=30)],
    )
    [announced] = [e.data for e in fired if e.data["type"] == "voicemail_new"]
    assert (announced["from_number"], announced["from_name"]) == (None, None)
    assert new_voicemail(hass, entry)["last_caller"] is None
    assert caller_shown((await titles(hass, entry))["vm-1"]) == "Hidden number"


async def test_a_later_call_showing_the_number_does_not_reveal_an_earlier_voicemail(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            voice(
                "c1",
                "CALL_RINGING",
                from_number=OUTSIDER,
                to_number=ALICE,
                owner=ALICE,
                hidden=True,
            ),
            voicemail("vm-1", from_number=OUTSIDER, to_number=ALICE, seconds=30),
        ],
    )
    # The caller calls again, showing the number this time, and leaves another voicemail.
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        [
            voice("c2", "CALL_RINGING", from_number=OUTSIDER, to_number=ALICE, owner=ALICE),
            voicemail("vm-2", from_number=OUTSIDER, to_number=ALICE, seconds=60),
        ],
    )
    for restarted in (False, True):
        if restarted:
            await reload(hass, entry)
        shown = await titles(hass, entry)
        assert caller_shown(shown["vm-1"]) == "Hidden number"
        assert caller_shown(shown["vm-2"]) == "Olav"


@pytest.fixture
async def no_update_scope(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> AsyncGenerator[tuple[SandboxServer, MockConfigEntry]]:
    """An entry whose OAuth client may not mark voicemails played (heard here only)."""
    server = await make_sandbox(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        granted_scopes=ALL_SCOPES - {VOICEMAIL_UPDATE},
    )
    entry = make_entry(server, options=entry_options(**{CONF_PHONEBOOK: PHONEBOOK}))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    yield server, entry
    await async_unload_and_wait(hass, entry, server)


async def test_the_sync_keeps_a_hidden_caller_hidden(
    hass: HomeAssistant, no_update_scope: tuple[SandboxServer, MockConfigEntry]
) -> None:
    """Heard here only, the voicemail comes back from the operator's list at the next sync,
    with the operator's metadata: the caller stays hidden, also after a restart."""
    server, entry = no_update_scope
    await leave_hidden(hass, server, entry, "vm-hidden")
    assert new_voicemail(hass, entry)["last_caller"] is None
    for restarted in (False, True):
        await hass.services.async_call(
            DOMAIN, "mark_voicemail_heard", {"device_id": device_of(hass, entry)}, blocking=True
        )
        assert new_voicemail(hass, entry)["unheard_count"] == 0
        if restarted:
            await reload(hass, entry)
        else:
            server.end_streams()
        await wait_for(lambda: new_voicemail(hass, entry)["unheard_count"] == 1)
        assert new_voicemail(hass, entry)["voicemail_id"] == "vm-hidden"
        assert new_voicemail(hass, entry)["last_caller"] is None


def device_of(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    return coordinator_of(entry).subscribers[ALICE].device_id
