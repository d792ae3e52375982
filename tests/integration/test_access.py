"""Who may use a subscriber's line: its owners, administrators and automations.

Alice's line is owned by Kari; Bob's has no owner (administrators only). Ola is a user
like Kari but owns nothing; Anne is an administrator. Every refusal is checked at the
sandbox too: nothing reached the operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import jwt
import pytest
from homeassistant.auth.const import GROUP_ID_ADMIN, GROUP_ID_USER
from homeassistant.components import media_source
from homeassistant.components.http.auth import async_sign_path
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON
from homeassistant.core import Context, HomeAssistant, ServiceCall
from homeassistant.exceptions import Unauthorized
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import CLIENT_ID, MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)
from yarl import URL

from custom_components.wgtwo.const import (
    CONF_FORWARDING_NUMBER,
    CONF_OWNERS,
    CONF_SMS_RECIPIENT,
    CONF_SUBSCRIBERS,
    DOMAIN,
)
from wgtwo_sandbox import SandboxServer

from .conftest import publish_and_wait, wait_for
from .test_services import miss_calls, missed
from .wgtwo_events import ALICE, BOB, CAROL, coordinator_of, device_id_of, entity_id, voicemail

ADMIN_ID = "anne-admin"
OWNER_ID = "kari-owner"
STRANGER_ID = "ola-stranger"
HOME = "+4722334455"  # the forwarding number in Alice's options
OFFICE = "+4722001122"
CABIN = "+4761009988"
ROOT = "media-source://wgtwo"


@dataclass
class People:
    admin: MockUser
    owner: MockUser
    stranger: MockUser


@pytest.fixture
async def people(hass: HomeAssistant) -> People:
    admins = await hass.auth.async_get_group(GROUP_ID_ADMIN)
    users = await hass.auth.async_get_group(GROUP_ID_USER)
    assert admins is not None
    assert users is not None
    return People(
        admin=MockUser(id=ADMIN_ID, name="Anne", groups=[admins]).add_to_hass(hass),
        owner=MockUser(id=OWNER_ID, name="Kari", groups=[users]).add_to_hass(hass),
        stranger=MockUser(id=STRANGER_ID, name="Ola", groups=[users]).add_to_hass(hass),
    )


def alice_settings(*owners: str) -> dict[str, Any]:
    return {
        CONF_SUBSCRIBERS: {
            ALICE: {
                CONF_SMS_RECIPIENT: "",
                CONF_FORWARDING_NUMBER: HOME,
                CONF_OWNERS: list(owners),
            }
        }
    }


@pytest.fixture
def entry_options_override() -> dict[str, Any]:
    return alice_settings(OWNER_ID)


@pytest.fixture
async def lines(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    people: People,
) -> MockConfigEntry:
    """Alice and Bob each have a voicemail (and so a device)."""
    entry = setup_integration
    for voicemail_id, number in (("vm-a", ALICE), ("vm-b", BOB)):
        await publish_and_wait(
            hass,
            auth_sandbox,
            entry,
            [voicemail(voicemail_id, from_number=CAROL, to_number=number)],
        )
    return entry


def as_user(user_id: str) -> Context:
    return Context(user_id=user_id)


async def send_sms(
    hass: HomeAssistant, entry: MockConfigEntry, context: Context, number: str = ALICE
) -> None:
    await hass.services.async_call(
        DOMAIN,
        "send_sms",
        {"device_id": device_id_of(hass, entry, number), "to": CAROL, "message": "hi"},
        blocking=True,
        context=context,
    )


def senders(server: SandboxServer) -> list[str]:
    return [text.from_subscriber for text in server.sms.sent]


async def test_texting_from_a_line_needs_an_owner_or_an_administrator(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    lines: MockConfigEntry,
    hass_read_only_user: MockUser,
) -> None:
    entry = lines
    for user_id in (STRANGER_ID, hass_read_only_user.id, "removed-user"):
        with pytest.raises(Unauthorized) as refused:
            await send_sms(hass, entry, as_user(user_id))
        assert refused.value.translation_key == "not_owner"
        assert str(refused.value).startswith(
            "Only administrators and the owners of this subscriber may do this."
        )
    # Kari owns Alice's line, not Bob's (which has no owner: administrators only).
    with pytest.raises(Unauthorized):
        await send_sms(hass, entry, as_user(OWNER_ID), BOB)
    assert auth_sandbox.sms.sent == []

    # The owner, an administrator, and a call no person made.
    await send_sms(hass, entry, as_user(OWNER_ID))
    await send_sms(hass, entry, as_user(ADMIN_ID))
    await send_sms(hass, entry, as_user(ADMIN_ID), BOB)
    await send_sms(hass, entry, Context())
    assert senders(auth_sandbox) == [ALICE, ALICE, BOB, ALICE]


async def test_the_notify_entity_texts_only_for_an_owner_or_an_administrator(
    hass: HomeAssistant, auth_sandbox: SandboxServer, lines: MockConfigEntry
) -> None:
    entry = lines
    target = {ATTR_ENTITY_ID: entity_id(hass, entry, "notify", ALICE, "sms"), "message": "hi"}
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            "notify", "send_message", target, blocking=True, context=as_user(STRANGER_ID)
        )
    assert auth_sandbox.sms.sent == []
    for user_id in (OWNER_ID, ADMIN_ID):
        await hass.services.async_call(
            "notify", "send_message", target, blocking=True, context=as_user(user_id)
        )
    assert senders(auth_sandbox) == [ALICE, ALICE]


async def test_an_automation_acts_whoever_set_it_off_a_script_acts_as_who_ran_it(
    hass: HomeAssistant, auth_sandbox: SandboxServer, lines: MockConfigEntry
) -> None:
    entry = lines
    text = {
        "action": f"{DOMAIN}.send_sms",
        "target": {"device_id": device_id_of(hass, entry, ALICE)},
        "data": {"to": CAROL, "message": "ding dong"},
    }
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "triggers": [{"trigger": "event", "event_type": "doorbell"}],
                "actions": [text],
            }
        },
    )
    assert await async_setup_component(
        hass, "script", {"script": {"text_carol": {"sequence": [text]}}}
    )
    await hass.async_block_till_done()

    # Ola rang the doorbell; the automation texts as itself.
    hass.bus.async_fire("doorbell", context=as_user(STRANGER_ID))
    await wait_for(lambda: len(auth_sandbox.sms.sent) == 1)

    # A script Ola runs acts for Ola.
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            "script", "text_carol", blocking=True, context=as_user(STRANGER_ID)
        )
    await hass.services.async_call("script", "text_carol", blocking=True, context=as_user(OWNER_ID))
    assert senders(auth_sandbox) == [ALICE, ALICE]


def forwarding_at_operator(server: SandboxServer) -> dict[str, str] | None:
    subscribers: dict[str, dict[str, str]] = server.stats["call_forwarding"]["subscribers"]
    return subscribers.get(ALICE)


async def test_call_forwarding_needs_an_owner_and_another_number_an_administrator(
    hass: HomeAssistant, auth_sandbox: SandboxServer, lines: MockConfigEntry
) -> None:
    entry = lines
    select = entity_id(hass, entry, "select", ALICE, "call_forwarding")

    async def forward(context: Context, mode: str, number: str | None = None) -> None:
        data: dict[str, Any] = {ATTR_ENTITY_ID: select, "mode": mode}
        if number is not None:
            data["number"] = number
        await hass.services.async_call(
            DOMAIN, "set_call_forwarding", data, blocking=True, context=context
        )

    with pytest.raises(Unauthorized) as by_select:
        await hass.services.async_call(
            "select",
            "select_option",
            {ATTR_ENTITY_ID: select, "option": "voicemail"},
            blocking=True,
            context=as_user(STRANGER_ID),
        )
    assert by_select.value.translation_key == "not_owner"
    with pytest.raises(Unauthorized):
        await forward(as_user(STRANGER_ID), "number")
    assert forwarding_at_operator(auth_sandbox) is None

    # The owner may forward to the number in the options, however it is written ...
    await forward(as_user(OWNER_ID), "number")
    assert forwarding_at_operator(auth_sandbox) == {"mode": "unconditional", "to": HOME}
    await forward(as_user(OWNER_ID), "voicemail")
    await forward(as_user(OWNER_ID), "number", "0047 22 33 44 55")
    assert forwarding_at_operator(auth_sandbox) == {"mode": "unconditional", "to": HOME}
    # ... but not to another.
    with pytest.raises(Unauthorized) as elsewhere:
        await forward(as_user(OWNER_ID), "number", OFFICE)
    assert elsewhere.value.translation_key == "forwarding_number_needs_admin"
    assert "Only an administrator may forward calls" in str(elsewhere.value)
    assert forwarding_at_operator(auth_sandbox) == {"mode": "unconditional", "to": HOME}
    state = hass.states.get(select)
    assert state is not None
    assert (state.state, state.attributes["forwarded_to"]) == ("number", HOME)

    await forward(as_user(ADMIN_ID), "number", OFFICE)
    assert forwarding_at_operator(auth_sandbox) == {"mode": "unconditional", "to": OFFICE}
    await forward(Context(), "number", CABIN)  # an automation
    assert forwarding_at_operator(auth_sandbox) == {"mode": "unconditional", "to": CABIN}
    await hass.services.async_call(
        "select",
        "select_option",
        {ATTR_ENTITY_ID: select, "option": "off"},
        blocking=True,
        context=as_user(OWNER_ID),
    )
    assert forwarding_at_operator(auth_sandbox) == {"mode": "disabled"}


async def test_voicemails_are_heard_and_deleted_by_owners_and_administrators(
    hass: HomeAssistant, auth_sandbox: SandboxServer, lines: MockConfigEntry
) -> None:
    entry = lines
    held = auth_sandbox.voicemails.voicemails
    new_voicemail = entity_id(hass, entry, "binary_sensor", ALICE, "new_voicemail")
    button = entity_id(hass, entry, "button", ALICE, "mark_voicemail_heard")

    def unheard() -> str:
        state = hass.states.get(new_voicemail)
        assert state is not None
        return state.state

    def played(voicemail_id: str) -> bool:
        return bool(held[voicemail_id].metadata.played)

    stranger = as_user(STRANGER_ID)
    for domain, service, data in (
        (DOMAIN, "delete_voicemail", {ATTR_ENTITY_ID: new_voicemail, "voicemail_id": "vm-a"}),
        (DOMAIN, "delete_voicemail", {"device_id": device_id_of(hass, entry, ALICE)}),
        (DOMAIN, "mark_voicemail_heard", {ATTR_ENTITY_ID: new_voicemail}),
        ("button", "press", {ATTR_ENTITY_ID: button}),
    ):
        with pytest.raises(Unauthorized):
            await hass.services.async_call(domain, service, data, blocking=True, context=stranger)
    # Kari owning one of the two lines targeted: refused before either is acted on, whichever
    # comes first.
    both = {"device_id": [device_id_of(hass, entry, ALICE), device_id_of(hass, entry, BOB)]}
    options = dict(entry.options)
    for owned in (ALICE, BOB):
        subscribers = {owned: {CONF_OWNERS: [OWNER_ID]}}
        hass.config_entries.async_update_entry(
            entry, options={**options, CONF_SUBSCRIBERS: subscribers}
        )
        calls: list[tuple[str, dict[str, Any]]] = [
            ("mark_voicemail_heard", both),
            ("delete_voicemail", both),
            ("set_call_forwarding", {**both, "mode": "voicemail"}),
        ]
        for action, action_data in calls:
            with pytest.raises(Unauthorized):
                await hass.services.async_call(
                    DOMAIN, action, action_data, blocking=True, context=as_user(OWNER_ID)
                )
    hass.config_entries.async_update_entry(entry, options=options)
    assert auth_sandbox.stats["call_forwarding"]["subscribers"] == {}
    assert set(held) == {"vm-a", "vm-b"}
    assert not played("vm-a")
    assert not played("vm-b")
    assert unheard() == STATE_ON
    bob_state = hass.states.get(entity_id(hass, entry, "binary_sensor", BOB, "new_voicemail"))
    assert bob_state is not None
    assert bob_state.state == STATE_ON

    await hass.services.async_call(
        "button", "press", {ATTR_ENTITY_ID: button}, blocking=True, context=as_user(OWNER_ID)
    )
    assert unheard() == STATE_OFF
    assert played("vm-a")
    await hass.services.async_call(
        DOMAIN,
        "delete_voicemail",
        {ATTR_ENTITY_ID: new_voicemail, "voicemail_id": "vm-a"},
        blocking=True,
        context=as_user(OWNER_ID),
    )
    await hass.services.async_call(
        DOMAIN,
        "delete_voicemail",
        {"device_id": device_id_of(hass, entry, BOB)},
        blocking=True,
        context=as_user(ADMIN_ID),
    )
    assert held == {}


async def test_anyone_may_reset_the_missed_calls_count(
    hass: HomeAssistant, auth_sandbox: SandboxServer, lines: MockConfigEntry
) -> None:
    # Home Assistant's own count, not the line: no owner needed.
    entry = lines
    await miss_calls(hass, auth_sandbox, entry, ALICE, 2)
    await hass.services.async_call(
        "button",
        "press",
        {ATTR_ENTITY_ID: entity_id(hass, entry, "button", ALICE, "reset_missed_calls")},
        blocking=True,
        context=as_user(STRANGER_ID),
    )
    assert missed(hass, entry, ALICE) == "0"


async def access_token(hass: HomeAssistant, user: MockUser) -> tuple[str, str]:
    """Return a refresh token id and an access token of ``user``."""
    refresh_token = await hass.auth.async_create_refresh_token(user, CLIENT_ID)
    return refresh_token.id, hass.auth.async_create_access_token(refresh_token)


async def test_refusals_through_the_rest_api_and_the_websocket(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    lines: MockConfigEntry,
    people: People,
    hass_client: ClientSessionGenerator,
    hass_ws_client: WebSocketGenerator,
) -> None:
    entry = lines
    device = device_id_of(hass, entry, ALICE)
    # Both before the first client starts the web server.
    assert await async_setup_component(hass, "api", {})
    assert await async_setup_component(hass, "websocket_api", {})
    _, stranger_token = await access_token(hass, people.stranger)
    _, owner_token = await access_token(hass, people.owner)

    rest = await hass_client(stranger_token)
    response = await rest.post(
        f"/api/services/{DOMAIN}/send_sms",
        json={"device_id": device, "to": CAROL, "message": "hi"},
    )
    assert response.status == HTTPStatus.UNAUTHORIZED

    async def over_websocket(token: str) -> dict[str, Any]:
        client = await hass_ws_client(hass, token)
        await client.send_json_auto_id(
            {
                "type": "call_service",
                "domain": DOMAIN,
                "service": "send_sms",
                "target": {"device_id": device},
                "service_data": {"to": CAROL, "message": "hi"},
            }
        )
        answer: dict[str, Any] = await client.receive_json()
        return answer

    refused = await over_websocket(stranger_token)
    assert not refused["success"]
    # What the frontend shows: the translated message.
    assert refused["error"]["translation_key"] == "not_owner"
    assert refused["error"]["translation_domain"] == DOMAIN
    assert auth_sandbox.sms.sent == []

    assert (await over_websocket(owner_token))["success"]
    assert senders(auth_sandbox) == [ALICE]


def folder_id(entry: MockConfigEntry, number: str) -> str:
    return f"{ROOT}/{entry.entry_id}/{coordinator_of(entry).number_key(number)}"


def view_path(entry: MockConfigEntry, number: str, voicemail_id: str) -> str:
    key = coordinator_of(entry).number_key(number)
    return f"/api/wgtwo/voicemail/{entry.entry_id}/{key}/{voicemail_id}"


async def test_voicemail_audio_goes_to_owners_and_administrators(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    lines: MockConfigEntry,
    people: People,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
    hass_ws_client: WebSocketGenerator,
) -> None:
    entry = lines
    wav = auth_sandbox.voicemails.voicemails["vm-a"].wav
    tokens = {
        user.id: await access_token(hass, user)
        for user in (people.admin, people.owner, people.stranger)
    }

    async def ask(user_id: str, request: dict[str, Any]) -> dict[str, Any]:
        client = await hass_ws_client(hass, tokens[user_id][1])
        await client.send_json_auto_id(request)
        answer: dict[str, Any] = await client.receive_json()
        return answer

    async def browse(user_id: str, media_id: str = ROOT) -> dict[str, Any]:
        return await ask(
            user_id, {"type": "media_source/browse_media", "media_content_id": media_id}
        )

    async def resolve(user_id: str, voicemail_id: str = "vm-a") -> dict[str, Any]:
        media_id = f"{folder_id(entry, ALICE)}/{voicemail_id}"
        return await ask(
            user_id, {"type": "media_source/resolve_media", "media_content_id": media_id}
        )

    def folders(answer: dict[str, Any]) -> list[str]:
        assert answer["success"], answer
        return [child["media_content_id"] for child in answer["result"]["children"]]

    # The browser shows each user the lines they may hear.
    assert sorted(folders(await browse(ADMIN_ID))) == sorted(
        [folder_id(entry, ALICE), folder_id(entry, BOB)]
    )
    assert folders(await browse(OWNER_ID)) == [folder_id(entry, ALICE)]
    assert folders(await browse(STRANGER_ID)) == []
    assert not (await browse(STRANGER_ID, folder_id(entry, ALICE)))["success"]
    assert folders(await browse(OWNER_ID, folder_id(entry, ALICE))) == [
        f"{folder_id(entry, ALICE)}/vm-a"
    ]

    # Resolving: refused to Ola; for Kari a path signed for Kari.
    refused = await resolve(STRANGER_ID)
    assert not refused["success"]
    assert "Only administrators and the owners" in refused["error"]["message"]
    resolved = await resolve(OWNER_ID)
    assert resolved["success"], resolved
    anyone = await hass_client_no_auth()
    played = await anyone.get(resolved["result"]["url"])
    assert played.status == HTTPStatus.OK
    assert await played.read() == wav
    admin_url = (await resolve(ADMIN_ID))["result"]["url"]
    assert (await anyone.get(admin_url)).status == HTTPStatus.OK

    # The view checks whom a path was signed for, and who logged in.
    path = view_path(entry, ALICE, "vm-a")
    for user_id, status in (
        (STRANGER_ID, HTTPStatus.FORBIDDEN),
        (OWNER_ID, HTTPStatus.OK),
        (ADMIN_ID, HTTPStatus.OK),
    ):
        refresh_token_id, token = tokens[user_id]
        signed = async_sign_path(
            hass, path, timedelta(minutes=1), refresh_token_id=refresh_token_id
        )
        assert (await anyone.get(signed)).status == status, user_id
        logged_in = await hass_client(token)
        assert (await logged_in.get(path)).status == status, user_id
    # Bob's line has no owner; an unknown line is not found for anyone.
    bob = async_sign_path(
        hass,
        view_path(entry, BOB, "vm-b"),
        timedelta(minutes=1),
        refresh_token_id=tokens[OWNER_ID][0],
    )
    assert (await anyone.get(bob)).status == HTTPStatus.FORBIDDEN
    nobody = async_sign_path(
        hass,
        f"/api/wgtwo/voicemail/{entry.entry_id}/nobody/vm-a",
        timedelta(minutes=1),
        refresh_token_id=tokens[OWNER_ID][0],
    )
    assert (await anyone.get(nobody)).status == HTTPStatus.NOT_FOUND
    assert (await anyone.get(path)).status == HTTPStatus.UNAUTHORIZED

    # Kari's URL stops playing once Kari no longer owns the line.
    hass.config_entries.async_update_entry(entry, options={**entry.options, **alice_settings()})
    assert (await anyone.get(resolved["result"]["url"])).status == HTTPStatus.FORBIDDEN
    assert (await anyone.get(admin_url)).status == HTTPStatus.OK


async def test_a_voicemail_resolved_while_serving_a_rest_call_is_for_its_user(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    lines: MockConfigEntry,
    people: People,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    # A media player's action resolves the media it is given while Home Assistant serves
    # the REST call: this stands in for one.
    entry = lines
    resolved: list[str] = []

    async def play(call: ServiceCall) -> None:
        media = await media_source.async_resolve_media(hass, call.data["media"], None)
        resolved.append(media.url)

    hass.services.async_register("test", "play", play)
    assert await async_setup_component(hass, "api", {})
    media = {"media": f"{folder_id(entry, ALICE)}/vm-a"}
    owner_refresh_token_id, owner_token = await access_token(hass, people.owner)
    _, stranger_token = await access_token(hass, people.stranger)

    refused = await (await hass_client(stranger_token)).post("/api/services/test/play", json=media)
    assert refused.status == HTTPStatus.INTERNAL_SERVER_ERROR
    # The message, as JSON or (before 2026.10) as plain text.
    assert "Only administrators and the owners" in await refused.text()
    assert resolved == []

    played = await (await hass_client(owner_token)).post("/api/services/test/play", json=media)
    assert played.status == HTTPStatus.OK
    [url] = resolved
    signature = URL(url).query["authSig"]
    claims = jwt.decode(signature, options={"verify_signature": False})
    assert claims["iss"] == owner_refresh_token_id
    audio = await (await hass_client_no_auth()).get(url)
    assert audio.status == HTTPStatus.OK
