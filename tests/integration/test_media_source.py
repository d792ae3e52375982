"""Voicemails in the media browser, resolved to a signed URL and played through the view."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import pytest
from homeassistant.components import media_source
from homeassistant.components.http.auth import async_sign_path
from homeassistant.components.media_player.const import MediaClass
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.components.media_source import Unresolvable
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from yarl import URL

from custom_components.wgtwo.const import CONF_PHONEBOOK
from tests.sandbox_fixtures import MakeSandbox
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.scopes import ALL_SCOPES, VOICEMAIL_GET

from .conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    async_setup_entry_and_connect,
    async_unload_and_wait,
    entry_options,
    make_entry,
    publish_and_wait,
)
from .wgtwo_events import ALICE, BOB, CAROL, OUTSIDER, coordinator_of, sms, voice, voicemail

ROOT = "media-source://wgtwo"


@pytest.fixture
def entry_options_override() -> dict[str, Any]:
    """Alice and Bob are in the phonebook; Carol and the outsider are not."""
    return {CONF_PHONEBOOK: {ALICE: "Alice", BOB: "Bob"}}


@pytest.fixture
async def with_voicemails(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> MockConfigEntry:
    """Alice has three voicemails (Bob's heard, a hidden caller's, Carol's); Bob has none."""
    entry = setup_integration
    # The outsider's call hid the number, so the voicemail left after it must not show it.
    hidden_call = voice(
        "c1", "CALL_RINGING", from_number=OUTSIDER, to_number=ALICE, owner=ALICE, hidden=True
    )
    await publish_and_wait(hass, auth_sandbox, entry, [hidden_call])
    # One at a time: the sandbox dates each voicemail when it arrives.
    for voicemail_id, caller in (("vm-bob", BOB), ("vm-hidden", OUTSIDER), ("vm-carol", CAROL)):
        await publish_and_wait(
            hass,
            auth_sandbox,
            entry,
            [voicemail(voicemail_id, from_number=caller, to_number=ALICE)],
        )
    auth_sandbox.voicemails.apply_change("vm-bob", played=True, deleted=False)
    text = sms(owner=BOB, from_number=CAROL, to_number=BOB, direction="TO_SUBSCRIBER")
    await publish_and_wait(hass, auth_sandbox, entry, [text])
    return entry


def expected_title(server: SandboxServer, voicemail_id: str, caller: str) -> str:
    """The title the browser should show, from what the sandbox holds."""
    held = server.voicemails.voicemails[voicemail_id]
    created = held.metadata.created.ToDatetime(dt_util.UTC)
    when = dt_util.as_local(created).strftime("%Y-%m-%d %H:%M")
    title = f"{caller} · {when} · 0:{held.seconds:02d}"
    return title if held.metadata.played else f"New · {title}"


def folder_id(entry: MockConfigEntry, number: str) -> str:
    return f"{ROOT}/{entry.entry_id}/{coordinator_of(entry).number_key(number)}"


async def test_browse_subscribers_and_their_voicemails_newest_first(
    hass: HomeAssistant, auth_sandbox: SandboxServer, with_voicemails: MockConfigEntry
) -> None:
    entry = with_voicemails
    root = await media_source.async_browse_media(hass, ROOT)
    assert root.title == "Working Group Two"
    assert root.can_expand
    assert [(c.title, c.media_content_id, c.can_play) for c in root.children or []] == [
        ("Alice", folder_id(entry, ALICE), False),
        ("Bob", folder_id(entry, BOB), False),
    ]

    folder = await media_source.async_browse_media(hass, folder_id(entry, ALICE))
    assert folder.title == "Alice"
    items = folder.children or []
    assert [item.title for item in items] == [
        expected_title(auth_sandbox, "vm-carol", CAROL),
        expected_title(auth_sandbox, "vm-hidden", "Hidden number"),
        expected_title(auth_sandbox, "vm-bob", "Bob"),
    ]
    assert items[0].title.startswith("New · ")
    assert not items[2].title.startswith("New")  # heard
    for item, voicemail_id in zip(items, ("vm-carol", "vm-hidden", "vm-bob"), strict=True):
        assert item.media_content_id == f"{folder_id(entry, ALICE)}/{voicemail_id}"
        assert item.can_play
        assert not item.can_expand
        assert item.media_class == MediaClass.MUSIC
        assert item.media_content_type == "audio/wav"
        # URLs end up in logs: no phone number in any id.
        assert ALICE.removeprefix("+") not in item.media_content_id
    assert OUTSIDER not in str([item.as_dict() for item in items])

    bob = await media_source.async_browse_media(hass, folder_id(entry, BOB))
    assert bob.children == []


async def test_the_browser_shows_only_what_the_operator_still_has(
    hass: HomeAssistant, auth_sandbox: SandboxServer, with_voicemails: MockConfigEntry
) -> None:
    auth_sandbox.voicemails.apply_change("vm-hidden", played=False, deleted=True)
    folder = await media_source.async_browse_media(hass, folder_id(with_voicemails, ALICE))
    assert [item.media_content_id.rsplit("/", 1)[1] for item in folder.children or []] == [
        "vm-carol",
        "vm-bob",
    ]


async def test_resolve_and_play_through_the_signed_view(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    with_voicemails: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    item_id = f"{folder_id(with_voicemails, ALICE)}/vm-carol"
    played = await media_source.async_resolve_media(hass, item_id, None)
    assert played.mime_type == "audio/wav"
    url = URL(played.url)
    assert "authSig" in url.query
    client = await hass_client_no_auth()

    response = await client.get(played.url)
    assert response.status == HTTPStatus.OK
    assert response.content_type == "audio/wav"
    assert await response.read() == auth_sandbox.voicemails.voicemails["vm-carol"].wav

    # Nothing without the signature, or with one for another voicemail.
    assert (await client.get(url.path)).status == HTTPStatus.UNAUTHORIZED
    other = await media_source.async_resolve_media(
        hass, f"{folder_id(with_voicemails, ALICE)}/vm-bob", None
    )
    forged = url.with_query({"authSig": URL(other.url).query["authSig"]})
    assert (await client.get(str(forged))).status == HTTPStatus.UNAUTHORIZED


async def test_unknown_voicemails_and_subscribers(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    with_voicemails: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    entry = with_voicemails
    alice = folder_id(entry, ALICE)
    with pytest.raises(Unresolvable) as missing:
        await media_source.async_resolve_media(hass, f"{alice}/vm-nope", None)
    assert missing.value.translation_key == "not_found"
    assert "no longer at the operator" in str(missing.value)
    for bad in (f"{ROOT}/{entry.entry_id}/nobody/vm-carol", f"{alice}/vm-carol/extra"):
        with pytest.raises(Unresolvable) as unknown:
            await media_source.async_resolve_media(hass, bad, None)
        assert unknown.value.translation_key == "voicemail_media_unknown"
    for bad in (f"{ROOT}/{entry.entry_id}/nobody", f"{ROOT}/{entry.entry_id}"):
        with pytest.raises(BrowseError) as unknown_folder:
            await media_source.async_browse_media(hass, bad)
        assert unknown_folder.value.translation_key == "voicemail_media_unknown"

    # The view: an id the operator does not hold, another subscriber's voicemail, a
    # subscriber that is not loaded.
    client = await hass_client_no_auth()
    key = coordinator_of(entry).number_key(ALICE)
    bob_key = coordinator_of(entry).number_key(BOB)
    for path, status in (
        (f"/api/wgtwo/voicemail/{entry.entry_id}/{key}/vm-nope", HTTPStatus.NOT_FOUND),
        (f"/api/wgtwo/voicemail/{entry.entry_id}/{bob_key}/vm-carol", HTTPStatus.NOT_FOUND),
        (f"/api/wgtwo/voicemail/other-entry/{key}/vm-carol", HTTPStatus.NOT_FOUND),
        (f"/api/wgtwo/voicemail/{entry.entry_id}/{key}/vm-carol", HTTPStatus.OK),
    ):
        signed = async_sign_path(hass, path, timedelta(minutes=1))
        assert (await client.get(signed)).status == status, path


async def test_operator_unreachable(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    with_voicemails: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    entry = with_voicemails
    played = await media_source.async_resolve_media(hass, f"{folder_id(entry, ALICE)}/vm-bob", None)
    await auth_sandbox.stop()
    with pytest.raises(BrowseError) as browse:
        await media_source.async_browse_media(hass, folder_id(entry, ALICE))
    assert browse.value.translation_key == "cannot_connect"
    client = await hass_client_no_auth()
    assert (await client.get(played.url)).status == HTTPStatus.BAD_GATEWAY


@pytest.fixture
async def no_get_scope(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> AsyncGenerator[tuple[SandboxServer, MockConfigEntry]]:
    """An entry whose OAuth client may not fetch voicemails; Alice has one."""
    server = await make_sandbox(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        granted_scopes=ALL_SCOPES - {VOICEMAIL_GET},
    )
    entry = make_entry(server, options=entry_options())
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await publish_and_wait(
        hass, server, entry, [voicemail("vm-1", from_number=BOB, to_number=ALICE)]
    )
    yield server, entry
    await async_unload_and_wait(hass, entry, server)


async def test_without_the_scope_browsing_and_playing_say_why(
    hass: HomeAssistant,
    no_get_scope: tuple[SandboxServer, MockConfigEntry],
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    _, entry = no_get_scope
    alice = folder_id(entry, ALICE)
    with pytest.raises(BrowseError) as browse:
        await media_source.async_browse_media(hass, alice)
    assert browse.value.translation_key == "missing_scope"
    assert (browse.value.translation_placeholders or {})["scope"] == "voicemail.get"
    assert "voicemail.get" in str(browse.value)
    with pytest.raises(Unresolvable) as resolve:
        await media_source.async_resolve_media(hass, f"{alice}/vm-1", None)
    assert resolve.value.translation_key == "missing_scope"

    client = await hass_client_no_auth()
    key = coordinator_of(entry).number_key(ALICE)
    signed = async_sign_path(
        hass, f"/api/wgtwo/voicemail/{entry.entry_id}/{key}/vm-1", timedelta(minutes=1)
    )
    response = await client.get(signed)
    assert response.status == HTTPStatus.FORBIDDEN
    assert "voicemail.get" in await response.text()


async def test_the_view_serves_no_voicemail_left_for_nobody(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    with_voicemails: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    # A voicemail whose metadata names no subscriber belongs to none of them.
    auth_sandbox.voicemails.add("vm-nobody", "", CAROL)
    entry = with_voicemails
    client = await hass_client_no_auth()
    for number in (ALICE, BOB):
        path = f"/api/wgtwo/voicemail/{entry.entry_id}/{coordinator_of(entry).number_key(number)}"
        signed = async_sign_path(hass, f"{path}/vm-nobody", timedelta(minutes=1))
        assert (await client.get(signed)).status == HTTPStatus.NOT_FOUND
