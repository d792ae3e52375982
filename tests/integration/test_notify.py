"""The SMS notify entity of a subscriber: texts itself by default, or the chosen recipient."""

from __future__ import annotations

import pytest
from homeassistant.components.notify.const import ATTR_MESSAGE, ATTR_TITLE, SERVICE_SEND_MESSAGE
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wgtwo.const import (
    CONF_FORWARDING_NUMBER,
    CONF_SENDER_NAME,
    CONF_SMS_RECIPIENT,
    CONF_SUBSCRIBERS,
    DOMAIN,
)
from tests.sandbox_fixtures import MakeSandbox
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.scopes import ALL_SCOPES, SMS_SEND, SMS_TO_SUBSCRIBER

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
from .wgtwo_events import ALICE, BOB, CAROL, entity_id, sms

entry_options_override = pytest.fixture(
    lambda: {CONF_SUBSCRIBERS: {BOB: {CONF_SMS_RECIPIENT: CAROL, CONF_FORWARDING_NUMBER: ""}}},
    name="entry_options_override",
)


async def notify(hass: HomeAssistant, entity: str, message: str, title: str | None = None) -> None:
    data = {ATTR_ENTITY_ID: entity, ATTR_MESSAGE: message}
    if title is not None:
        data[ATTR_TITLE] = title
    await hass.services.async_call("notify", SERVICE_SEND_MESSAGE, data, blocking=True)


async def subscriber_notify(
    hass: HomeAssistant, server: SandboxServer, entry: MockConfigEntry, number: str
) -> str:
    """Give ``number`` its device (a first event) and return its notify entity."""
    event = sms(owner=number, from_number=CAROL, to_number=number, direction="TO_SUBSCRIBER")
    await publish_and_wait(hass, server, entry, [event])
    return entity_id(hass, entry, "notify", number, "sms")


async def test_texts_the_subscriber_itself_with_the_title_first(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entity = await subscriber_notify(hass, auth_sandbox, setup_integration, ALICE)
    state = hass.states.get(entity)
    assert state is not None
    assert state.state == STATE_UNKNOWN
    # The name says it sends (the SMS event entity is "SMS"); the entity id is as before.
    assert state.name == f"{ALICE} Send SMS"  # the device is named by its number here
    assert state.entity_id == "notify.4799900001_sms"

    await notify(hass, entity, "The alarm went off", title="Home")
    await notify(hass, entity, "No title")

    assert [(t.from_subscriber, t.to_address, t.content) for t in auth_sandbox.sms.sent] == [
        (ALICE, ALICE, "Home\nThe alarm went off"),
        (ALICE, ALICE, "No title"),
    ]
    state = hass.states.get(entity)
    assert state is not None
    assert state.state != STATE_UNKNOWN  # the time of the last message


async def test_texts_the_recipient_chosen_in_the_options(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entity = await subscriber_notify(hass, auth_sandbox, setup_integration, BOB)

    await notify(hass, entity, "Door open")

    assert [(t.from_subscriber, t.to_address) for t in auth_sandbox.sms.sent] == [(BOB, CAROL)]


async def test_a_text_too_long_with_its_title_is_refused_unsent(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entity = await subscriber_notify(hass, auth_sandbox, setup_integration, ALICE)

    with pytest.raises(ServiceValidationError) as caught:
        await notify(hass, entity, "x" * 1995, title="Alarm")

    assert caught.value.translation_domain == DOMAIN
    assert caught.value.translation_key == "sms_too_long"
    assert caught.value.translation_placeholders == {"length": "2001", "max_length": "2000"}
    assert auth_sandbox.sms.sent == []
    state = hass.states.get(entity)
    assert state is not None
    assert state.state == STATE_UNKNOWN


async def test_missing_scope_is_named(hass: HomeAssistant, make_sandbox: MakeSandbox) -> None:
    server = await make_sandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, granted_scopes=ALL_SCOPES - {SMS_SEND}
    )
    entry = make_entry(server)
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    entity = await subscriber_notify(hass, server, entry, ALICE)

    with pytest.raises(HomeAssistantError) as caught:
        await notify(hass, entity, "hi")

    assert caught.value.translation_key == "missing_scope"
    assert (caught.value.translation_placeholders or {})["scope"] == SMS_SEND
    assert server.sms.sent == []
    await async_unload_and_wait(hass, entry, server)


async def test_a_message_from_the_sender_name_reaches_the_subscribers_sms_entity(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    """With a sender name each subscriber gets "Message from Home", which texts it from Home."""
    server = await make_sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    entry = make_entry(server, options=entry_options(**{CONF_SENDER_NAME: "Home"}))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await subscriber_notify(hass, server, entry, ALICE)
    entity = entity_id(hass, entry, "notify", ALICE, "message")
    assert entity == f"notify.{ALICE.lstrip('+')}_message"
    state = hass.states.get(entity)
    assert state is not None
    assert state.name == f"{ALICE} Message from Home"

    await notify(hass, entity, "The alarm went off", title="Alarm")

    [text] = server.sms.to_subscriber
    assert (text.to_subscriber, text.from_address) == (ALICE, "Home")
    assert text.content == "Alarm\nThe alarm went off"
    assert server.sms.sent == []  # the SMS entity's way, from the subscriber, is not used
    sms_entity = entity_id(hass, entry, "event", ALICE, "sms")

    def received_from_home() -> bool:
        state = hass.states.get(sms_entity)
        return state is not None and state.attributes.get("from_address") == "Home"

    await wait_for(received_from_home)
    state = hass.states.get(sms_entity)
    assert state is not None
    assert state.attributes["event_type"] in ("received", "delivery_report")
    await async_unload_and_wait(hass, entry, server)


async def test_without_a_sender_name_there_is_no_message_entity(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    server = await make_sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    entry = make_entry(server, options=entry_options(**{CONF_SENDER_NAME: "Home"}))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await subscriber_notify(hass, server, entry, ALICE)
    entity = entity_id(hass, entry, "notify", ALICE, "message")

    # The option cleared: the entity leaves (not left behind unavailable).
    hass.config_entries.async_update_entry(entry, options=entry_options())
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()

    assert hass.states.get(entity) is None
    assert er.async_get(hass).async_get(entity) is None
    assert hass.states.get(entity_id(hass, entry, "notify", ALICE, "sms")) is not None
    await async_unload_and_wait(hass, entry, server)


async def test_the_sender_notify_needs_its_scope(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    server = await make_sandbox(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        granted_scopes=ALL_SCOPES - {SMS_TO_SUBSCRIBER},
    )
    entry = make_entry(server, options=entry_options(**{CONF_SENDER_NAME: "Home"}))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await subscriber_notify(hass, server, entry, ALICE)

    with pytest.raises(HomeAssistantError) as caught:
        await notify(hass, entity_id(hass, entry, "notify", ALICE, "message"), "hi")

    assert caught.value.translation_key == "missing_scope"
    assert (caught.value.translation_placeholders or {})["scope"] == SMS_TO_SUBSCRIBER
    assert server.sms.to_subscriber == []
    await async_unload_and_wait(hass, entry, server)
