"""Ids that stand for a phone number (voicemail media ids, the consent issue): a keyed digest
with a secret of the entry, not a plain digest that trying numbers reverses; every part of a
media id is checked, and voicemail ids are percent-encoded."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import pytest
from homeassistant.components import media_source
from homeassistant.components.http.auth import async_sign_path
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.components.media_source import Unresolvable
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.wgtwo.const import DOMAIN, EVENT_WGTWO
from custom_components.wgtwo.storage import STORAGE_VERSION
from tests.sandbox_fixtures import MakeSandbox
from wgtwo_sandbox import SandboxServer

from .conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    async_setup_entry_and_connect,
    async_unload_and_wait,
    make_entry,
    publish_and_wait,
)
from .wgtwo_events import ALICE, BOB, consent_revoke, voicemail

ROOT = "media-source://wgtwo"


def plain_digests(entry_id: str, number: str) -> list[str]:
    """Digests anyone can compute from a number (and the entry id, which ids show)."""
    return [hashlib.sha256(text.encode()).hexdigest() for text in (number, f"{entry_id}:{number}")]


async def left_voicemail(
    hass: HomeAssistant, server: SandboxServer, entry: MockConfigEntry, voicemail_id: str
) -> str:
    """Leave Alice a voicemail from Bob; return the media id its bus event carries."""
    fired = async_capture_events(hass, EVENT_WGTWO)
    await publish_and_wait(
        hass, server, entry, [voicemail(voicemail_id, from_number=BOB, to_number=ALICE)]
    )
    [event] = [e for e in fired if e.data["type"] == "voicemail_new"]
    media_id: str = event.data["media_content_id"]
    return media_id


def signed_path(hass: HomeAssistant, path: str) -> str:
    """Sign a view path, keeping its percent-encoding (Home Assistant hands back decoded)."""
    signature = async_sign_path(hass, path, timedelta(minutes=1)).rpartition("?")[2]
    return f"{path}?{signature}"


def key_in(media_id: str) -> str:
    return media_id.removeprefix(f"{ROOT}/").split("/")[1]


async def test_a_subscriber_key_is_secret_per_entry_and_survives_a_restart(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    make_sandbox: MakeSandbox,
    setup_integration: MockConfigEntry,
) -> None:
    first = setup_integration
    other_server = await make_sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    second = make_entry(other_server)
    second.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, second)
    first_id = await left_voicemail(hass, auth_sandbox, first, "vm-1")
    second_id = await left_voicemail(hass, other_server, second, "vm-1")
    first_key, second_key = key_in(first_id), key_in(second_id)
    # The same number has another key in another entry, and none a number gives away.
    assert first_key != second_key
    for entry, key in ((first, first_key), (second, second_key)):
        assert key.isalnum()
        assert ALICE.removeprefix("+") not in key
        for digest in plain_digests(entry.entry_id, ALICE):
            assert not digest.startswith(key)
    # The key is kept: after a restart the same id still plays.
    assert await hass.config_entries.async_reload(first.entry_id)
    await hass.async_block_till_done()
    root = await media_source.async_browse_media(hass, ROOT)
    assert f"{first_id.rsplit('/', 1)[0]}" in [c.media_content_id for c in root.children or []]
    played = await media_source.async_resolve_media(hass, first_id, None)
    assert played.mime_type == "audio/wav"
    await async_unload_and_wait(hass, second, other_server)


async def test_the_consent_issue_id_is_keyed_and_survives_a_restart(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    registry = ir.async_get(hass)
    # An issue an older version raised (a plain digest) goes when the subscriber is back.
    legacy = f"consent_revoked_{entry.entry_id}_{hashlib.sha256(ALICE.encode()).hexdigest()[:16]}"
    ir.async_create_issue(
        hass,
        DOMAIN,
        legacy,
        is_fixable=False,
        is_persistent=True,
        severity=ir.IssueSeverity.WARNING,
        translation_key="consent_revoked",
        translation_placeholders={"name": "Alice", "entry_title": entry.title},
    )
    await left_voicemail(hass, auth_sandbox, entry, "vm-1")
    assert registry.async_get_issue(DOMAIN, legacy) is None

    await publish_and_wait(hass, auth_sandbox, entry, [consent_revoke(ALICE, seconds=5)])
    [issue_id] = [
        issue_id
        for (domain, issue_id), issue in registry.issues.items()
        if domain == DOMAIN and issue.translation_key == "consent_revoked"
    ]
    digest = issue_id.removeprefix(f"consent_revoked_{entry.entry_id}_")
    for plain in plain_digests(entry.entry_id, ALICE):
        assert not plain.startswith(digest)
    # Consent given again after a restart: the issue of the same number goes.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await left_voicemail(hass, auth_sandbox, entry, "vm-2")
    assert registry.async_get_issue(DOMAIN, issue_id) is None


@pytest.mark.parametrize("voicemail_id", ["vm/1", "vm 1?x=1#y", "100%", "svar-ä", "a+b"], ids=repr)
async def test_any_voicemail_id_is_browsed_and_played(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    hass_client: ClientSessionGenerator,
    voicemail_id: str,
) -> None:
    """The operator's voicemail ids are percent-encoded in media ids and the view's path."""
    entry = setup_integration
    media_id = await left_voicemail(hass, auth_sandbox, entry, voicemail_id)
    assert media_id.endswith("/" + quote(voicemail_id, safe=""))
    folder = await media_source.async_browse_media(hass, media_id.rsplit("/", 1)[0])
    assert [item.media_content_id for item in folder.children or []] == [media_id]
    played = await media_source.async_resolve_media(hass, media_id, None)
    client = await hass_client_no_auth()
    response = await client.get(played.url)
    assert response.status == HTTPStatus.OK
    assert await response.read() == auth_sandbox.voicemails.voicemails[voicemail_id].wav
    # The notification attachment of the README: the media id with the view's prefix,
    # fetched with a login.
    path = media_id.replace(f"{ROOT}/", "/api/wgtwo/voicemail/")
    response = await (await hass_client()).get(path)
    assert response.status == HTTPStatus.OK


async def test_malformed_media_ids_are_refused(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    entry = setup_integration
    media_id = await left_voicemail(hass, auth_sandbox, entry, "vm-1")
    entry_id, key, voicemail_id = media_id.removeprefix(f"{ROOT}/").split("/")
    malformed: list[tuple[str, str, str]] = [
        (entry_id, key.upper(), voicemail_id),
        (entry_id, key[:-1], voicemail_id),
        (entry_id, key + "0", voicemail_id),
        (entry_id, "ä" * len(key), voicemail_id),
        (entry_id, "..", voicemail_id),
        (entry_id, f"{key[:-1]}%67", voicemail_id),
        (f"{entry_id}%00", key, voicemail_id),
        (entry_id, key, "vm%2D1"),  # not the encoding the integration gives
        (entry_id, key, "vm%ZZ"),
        (entry_id, key, "vm%00"),
        (entry_id, key, "%C3"),
        (entry_id, key, "%2E%2E"),
        (entry_id, key, ""),
        (entry_id, key, "x" * 1000),
    ]
    for parts in malformed:
        bad = f"{ROOT}/{'/'.join(parts)}"
        with pytest.raises(Unresolvable) as unresolvable:
            await media_source.async_resolve_media(hass, bad, None)
        assert unresolvable.value.translation_key == "voicemail_media_unknown", bad
    for folder in (f"{entry_id}/{key.upper()}", f"{entry_id}/{key}%20", f"{entry_id}%2F/{key}"):
        with pytest.raises(BrowseError) as unknown:
            await media_source.async_browse_media(hass, f"{ROOT}/{folder}")
        assert unknown.value.translation_key == "voicemail_media_unknown", folder

    # The view: a malformed key, or a voicemail id no media id can carry (even one the
    # operator holds), is not found.
    too_long = "x" * 300
    await left_voicemail(hass, auth_sandbox, entry, too_long)
    client = await hass_client_no_auth()
    for path_key, path_id in (
        (key.upper(), voicemail_id),
        (quote("ä" * len(key)), voicemail_id),
        (key, too_long),
    ):
        path = f"/api/wgtwo/voicemail/{entry_id}/{path_key}/{path_id}"
        assert (await client.get(signed_path(hass, path))).status == HTTPStatus.NOT_FOUND, path
    path = f"/api/wgtwo/voicemail/{entry_id}/{key}/{voicemail_id}"
    assert (await client.get(signed_path(hass, path))).status == HTTPStatus.OK


@pytest.mark.parametrize("voicemail_id", ["..", "vm\n1", "x" * 300], ids=repr)
async def test_a_voicemail_whose_id_cannot_be_in_a_path_has_no_media_id(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    voicemail_id: str,
) -> None:
    """It is announced (without a media id) and counted unheard, but cannot be browsed."""
    entry = setup_integration
    fired = async_capture_events(hass, EVENT_WGTWO)
    await publish_and_wait(
        hass, auth_sandbox, entry, [voicemail(voicemail_id, from_number=BOB, to_number=ALICE)]
    )
    [event] = [e for e in fired if e.data["type"] == "voicemail_new"]
    assert event.data["voicemail_id"] == voicemail_id
    assert event.data["media_content_id"] is None
    root = await media_source.async_browse_media(hass, ROOT)
    [folder] = root.children or []
    assert (await media_source.async_browse_media(hass, folder.media_content_id)).children == []


@pytest.mark.parametrize("stored", [5, "zz" * 32, "ab" * 8], ids=["number", "not-hex", "short"])
async def test_a_malformed_stored_secret_is_replaced(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    hass_storage: dict[str, Any],
    stored: object,
) -> None:
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    key = f"{DOMAIN}.{entry.entry_id}.facts"
    hass_storage[key] = {
        "version": STORAGE_VERSION,
        "minor_version": 1,
        "key": key,
        "data": {"id_secret": stored, "subscribers": {}},
    }
    await async_setup_entry_and_connect(hass, entry)
    secret = hass_storage[key]["data"]["id_secret"]
    assert secret != stored
    assert len(bytes.fromhex(secret)) == 32
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_a_number_keeps_its_key_however_many_numbers_came_since(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    """Keys of recent numbers are kept at hand; a number's key never changes."""
    coordinator = setup_integration.runtime_data.coordinator
    first = coordinator.number_key(ALICE)
    keys = {coordinator.number_key(f"+4670{n:07d}") for n in range(5000)}
    assert len(keys) == 5000
    assert coordinator.number_key(ALICE) == first
    assert coordinator.number_key("+46700000000") in keys
