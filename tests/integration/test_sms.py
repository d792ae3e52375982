"""The wgtwo.send_sms action against the sandbox: response, delivery report, errors, no resend."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.wgtwo.client.proto.wgtwo.sms.v1 import sms_pb2
from custom_components.wgtwo.compat import device_by_identifier
from custom_components.wgtwo.const import (
    CONF_HOME_COUNTRY,
    CONF_PHONEBOOK,
    CONF_SENDER_NAME,
    DOMAIN,
    EVENT_WGTWO,
    service_identifier,
)
from tests.sandbox_fixtures import MakeSandbox
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.scopes import ALL_SCOPES, SMS_SEND

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
from .wgtwo_events import ALICE, BOB, CAROL, call, device_id_of, entity_id, sms

Response = sms_pb2.SendMessageResponse

entry_options_override = pytest.fixture(
    lambda: {CONF_PHONEBOOK: {ALICE: "Alice", BOB: "Bob", CAROL: "Carol"}},
    name="entry_options_override",
)


async def add_subscribers(
    hass: HomeAssistant, server: SandboxServer, entry: MockConfigEntry, *numbers: str
) -> None:
    """Give each number its device with a first event (a received SMS)."""
    events = [
        sms(owner=n, from_number=CAROL, to_number=n, direction="TO_SUBSCRIBER", sms_id=f"in-{n}")
        for n in numbers
    ]
    await publish_and_wait(hass, server, entry, events)


async def send(hass: HomeAssistant, target: dict[str, Any], to: Any, message: str) -> Any:
    return await hass.services.async_call(
        DOMAIN,
        "send_sms",
        {**target, "to": to, "message": message},
        blocking=True,
        return_response=True,
    )


@pytest.fixture
async def alice(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> dict[str, Any]:
    """A target naming Alice's device (Alice has sent an event)."""
    await add_subscribers(hass, auth_sandbox, setup_integration, ALICE)
    return {"device_id": device_id_of(hass, setup_integration, ALICE)}


async def test_send_responds_and_the_delivery_report_carries_the_message_id(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    alice: dict[str, Any],
) -> None:
    fired = async_capture_events(hass, EVENT_WGTWO)

    response = await send(hass, alice, BOB, "Call me back")

    [sent] = auth_sandbox.sms.sent
    assert (sent.from_subscriber, sent.to_address, sent.content) == (ALICE, BOB, "Call me back")
    assert response == {"message_id": response["message_id"], "status": "ok", "fragments": 1}
    assert response["message_id"]
    # The operator reports what happened to the message under the id the send returned.
    await wait_for(lambda: any(e.data["type"] == "sms_delivery_report" for e in fired))
    await hass.async_block_till_done()
    by_type = {event.data["type"]: event.data for event in fired}
    assert by_type["sms_sent"]["message_id"] == response["message_id"]
    assert by_type["sms_sent"]["sms_id"] == response["message_id"]
    report = by_type["sms_delivery_report"]
    assert report["message_id"] == response["message_id"]
    assert report["status"] == "delivered"
    state = hass.states.get(entity_id(hass, setup_integration, "event", ALICE, "sms"))
    assert state is not None
    assert state.attributes["event_type"] == "delivery_report"
    assert state.attributes["message_id"] == response["message_id"]


async def test_long_text_counts_its_fragments(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any]
) -> None:
    response = await send(hass, alice, BOB, "x" * 2000)

    assert response["fragments"] == 14
    assert auth_sandbox.sms.sent[0].content == "x" * 2000


@pytest.mark.parametrize(
    ("to", "number"),
    [
        ("Bob", BOB),
        ("  bOB ", BOB),
        ("+47 999 00 002", BOB),
        ("0047-999-00-002", BOB),
        ("(+46) 7000 0003", CAROL),
        # A template rendering "+4799900002" (or unquoted YAML) gives an int without the +:
        # taken as international when it is a phonebook number ...
        (4799900002, BOB),
        # ... or in the home country (here derived from Alice's +47).
        (4791234567, "+4791234567"),
    ],
)
async def test_recipient_by_name_or_any_spelling(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any], to: Any, number: str
) -> None:
    await send(hass, alice, to, "hi")

    assert [text.to_address for text in auth_sandbox.sms.sent] == [number]


async def test_target_by_any_entity_of_the_subscriber(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    alice: dict[str, Any],
) -> None:
    entry = setup_integration
    missed = entity_id(hass, entry, "sensor", ALICE, "missed_calls")
    notify = entity_id(hass, entry, "notify", ALICE, "sms")

    await send(hass, {"entity_id": missed}, BOB, "one")
    # The device and two of its entities name one subscriber: one text.
    await send(hass, {"entity_id": [notify, missed], **alice}, BOB, "two")

    assert [(t.from_subscriber, t.content) for t in auth_sandbox.sms.sent] == [
        (ALICE, "one"),
        (ALICE, "two"),
    ]


@pytest.mark.parametrize(
    ("to", "message", "key", "placeholders"),
    [
        ("Dave", "hi", "sms_unknown_name", {"name": "Dave"}),
        ("12345", "hi", "sms_invalid_number", None),
        ("+0123456789", "hi", "sms_invalid_number", None),
        ("  ", "hi", "sms_no_recipient", None),
        (BOB, "", "sms_empty", None),
        (BOB, " \n ", "sms_empty", None),
        (BOB, "x" * 2001, "sms_too_long", {"length": "2001", "max_length": "2000"}),
    ],
)
async def test_invalid_input_is_refused_unsent(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    alice: dict[str, Any],
    to: str,
    message: str,
    key: str,
    placeholders: dict[str, str] | None,
) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await send(hass, alice, to, message)

    assert caught.value.translation_domain == DOMAIN
    assert caught.value.translation_key == key
    assert caught.value.translation_placeholders == placeholders
    assert auth_sandbox.sms.sent == []


@pytest.mark.parametrize(
    "to",
    [
        41234567,  # a Norwegian national number: as +41234567 it would go to Switzerland
        2125551234,  # a US national number: +212 is Morocco
        12125551234,  # a US number, but the home country is Norway: no guess
        47123456,  # a Norwegian national number starting with 47: too short after +47
        0,
        -4799900002,
    ],
)
async def test_a_bare_number_that_may_be_national_is_refused(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any], to: int
) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await send(hass, alice, to, "hi")

    assert caught.value.translation_key == "sms_unquoted_number"
    assert caught.value.translation_placeholders is None  # the number is not repeated
    assert "quotes" in str(caught.value)
    assert auth_sandbox.sms.sent == []


async def test_a_bare_number_of_a_subscriber_or_the_home_country_option(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    """Another subscriber's number is known; the home country option decides the rest."""
    server = await make_sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    entry = make_entry(server, options=entry_options(**{CONF_HOME_COUNTRY: "US"}))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await add_subscribers(hass, server, entry, ALICE, CAROL)
    alice = {"device_id": device_id_of(hass, entry, ALICE)}

    await send(hass, alice, 4670000003, "to Carol, a subscriber")
    await send(hass, alice, 12125551234, "to New York: the home country is the US")
    with pytest.raises(ServiceValidationError) as caught:
        await send(hass, alice, 4791234567, "Norway is not home here")
    assert caught.value.translation_key == "sms_unquoted_number"

    assert [text.to_address for text in server.sms.sent] == [CAROL, "+12125551234"]
    await async_unload_and_wait(hass, entry, server)


async def test_a_name_given_two_numbers_is_ambiguous(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    server = await make_sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    phonebook = {BOB: "Bob", CAROL: "bob"}
    entry = make_entry(server, options=entry_options(**{CONF_PHONEBOOK: phonebook}))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await add_subscribers(hass, server, entry, ALICE)

    with pytest.raises(ServiceValidationError) as caught:
        await send(hass, {"device_id": device_id_of(hass, entry, ALICE)}, "Bob", "hi")

    assert caught.value.translation_key == "sms_ambiguous_name"
    assert caught.value.translation_placeholders == {"name": "Bob", "count": "2"}
    assert server.sms.sent == []
    await async_unload_and_wait(hass, entry, server)


async def test_target_must_name_exactly_one_subscriber(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await add_subscribers(hass, auth_sandbox, entry, ALICE, BOB)
    service_device = device_by_identifier(
        dr.async_get(hass), service_identifier(entry.entry_id), entry.entry_id
    )
    assert service_device is not None
    both = {"device_id": [device_id_of(hass, entry, ALICE), device_id_of(hass, entry, BOB)]}

    with pytest.raises(ServiceValidationError) as caught:
        await send(hass, both, CAROL, "hi")
    assert caught.value.translation_key == "sms_several_subscribers"
    assert caught.value.translation_placeholders == {"count": "2"}

    other = er.async_get(hass).async_get_or_create("light", "other", "lamp-1")
    targets = (
        {"device_id": service_device.id},
        {"device_id": "no-such-device"},
        {"entity_id": other.entity_id},  # another integration's entity
    )
    for target in targets:
        with pytest.raises(ServiceValidationError) as caught:
            await send(hass, target, CAROL, "hi")
        assert caught.value.translation_key == "sms_no_subscriber"
    assert auth_sandbox.sms.sent == []


@pytest.mark.parametrize(
    ("status", "key"),
    [
        (Response.SEND_STATUS_REJECT, "operator_rejected"),
        (Response.SEND_STATUS_ERROR, "operator_could_not"),
    ],
)
async def test_refusal_names_the_servers_description(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any], status: int, key: str
) -> None:
    auth_sandbox.sms.refuse_with = (status, "destination barred")  # type: ignore[assignment]

    with pytest.raises(HomeAssistantError) as caught:
        await send(hass, alice, BOB, "hi")

    assert caught.value.translation_key == key
    assert (caught.value.translation_placeholders or {})["detail"] == "destination barred"
    assert "destination barred" in str(caught.value)
    assert auth_sandbox.sms.sent == []


@pytest.mark.parametrize(
    ("code", "key", "detail"),
    [
        (grpc.StatusCode.UNAVAILABLE, "no_answer", "CannotConnectError"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "no_answer", "CannotConnectError"),
        (grpc.StatusCode.INTERNAL, "operator_failed", "INTERNAL"),
    ],
)
async def test_failure_after_the_server_sent_is_not_sent_again(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    alice: dict[str, Any],
    code: grpc.StatusCode,
    key: str,
    detail: str,
) -> None:
    auth_sandbox.sms.fail_after_send = code

    with pytest.raises(HomeAssistantError) as caught:
        await send(hass, alice, BOB, "once only")

    assert caught.value.translation_key == key
    assert (caught.value.translation_placeholders or {})["detail"] == detail
    # The text went out; the lost answer does not make a second one.
    assert len(auth_sandbox.sms.sent) == 1
    assert auth_sandbox.stats["sms_sent"] == 1


async def test_expired_token_is_refreshed_and_the_text_sent_once(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any]
) -> None:
    await send(hass, alice, BOB, "first")
    issued = auth_sandbox.authority.issued
    auth_sandbox.expire_tokens()

    response = await send(hass, alice, BOB, "second")

    # Refused before sending, then sent with a new token: each text went out once.
    assert response["status"] == "ok"
    assert [text.content for text in auth_sandbox.sms.sent] == ["first", "second"]
    assert auth_sandbox.authority.issued > issued


async def test_rejected_credentials_are_named(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any]
) -> None:
    auth_sandbox.authority.client_secret = "rotated"  # the stream keeps its valid token

    with pytest.raises(HomeAssistantError) as caught:
        await send(hass, alice, BOB, "hi")

    assert caught.value.translation_key == "invalid_auth"
    assert auth_sandbox.sms.sent == []


async def test_missing_scope_is_named(hass: HomeAssistant, make_sandbox: MakeSandbox) -> None:
    server = await make_sandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, granted_scopes=ALL_SCOPES - {SMS_SEND}
    )
    entry = make_entry(server)
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await add_subscribers(hass, server, entry, ALICE)

    with pytest.raises(HomeAssistantError) as caught:
        await send(hass, {"device_id": device_id_of(hass, entry, ALICE)}, BOB, "hi")

    assert caught.value.translation_key == "missing_scope"
    assert (caught.value.translation_placeholders or {})["scope"] == "sms.text:send_from_subscriber"
    assert server.sms.sent == []
    await async_unload_and_wait(hass, entry, server)


async def test_scope_missing_from_the_token_the_server_checks(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any]
) -> None:
    """A token without the scope (the server's grants changed): PERMISSION_DENIED, unsent."""
    auth_sandbox.authority.granted_scopes = frozenset(ALL_SCOPES)
    await send(hass, alice, BOB, "allowed")
    for token in auth_sandbox.authority.tokens.values():
        object.__setattr__(token, "scopes", token.scopes - {SMS_SEND})

    with pytest.raises(HomeAssistantError) as caught:
        await send(hass, alice, BOB, "refused")

    assert caught.value.translation_key == "missing_scope"
    assert [text.content for text in auth_sandbox.sms.sent] == ["allowed"]


@pytest.mark.usefixtures("quick_missed_calls")
async def test_automation_replies_to_a_missed_call_and_waits_for_its_report(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    """The README's example: reply by SMS, then wait for the report with the same id."""
    entry = setup_integration
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "alias": "Reply to a missed call",
                "triggers": [
                    {
                        "trigger": "event",
                        "event_type": EVENT_WGTWO,
                        "event_data": {"type": "call_missed", "subscriber": ALICE},
                    }
                ],
                "actions": [
                    {
                        "action": "wgtwo.send_sms",
                        "target": {"device_id": "{{ trigger.event.data.device_id }}"},
                        "data": {
                            "to": "{{ trigger.event.data.from_number }}",
                            "message": "Sorry I missed your call.",
                        },
                        "response_variable": "sent",
                    },
                    {
                        "wait_for_trigger": [
                            {
                                "trigger": "event",
                                "event_type": EVENT_WGTWO,
                                "event_data": {
                                    "type": "sms_delivery_report",
                                    "message_id": "{{ sent.message_id }}",
                                },
                            }
                        ],
                        "timeout": 5,
                    },
                    {
                        "event": "test_reply_done",
                        "event_data": {
                            "status": "{{ wait.trigger.event.data.status if wait.trigger }}",
                            "message_id": "{{ sent.message_id }}",
                        },
                    },
                ],
            }
        },
    )
    done = async_capture_events(hass, "test_reply_done")
    # The report comes once the automation waits for it (it waits with a trigger of its own
    # on wgtwo_event), as a real operator's comes seconds after the send was answered.
    auth_sandbox.sms.hold_reports = True
    listening = hass.bus.async_listeners().get(EVENT_WGTWO, 0)

    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call(
            "missed-1",
            ["CALL_RINGING", "CALL_ENDED"],
            from_number=BOB,
            to_number=ALICE,
            owner=ALICE,
        ),
    )
    await wait_for(lambda: hass.bus.async_listeners().get(EVENT_WGTWO, 0) > listening)
    auth_sandbox.sms.release_reports()
    await wait_for(lambda: bool(done), within=10)

    [text] = auth_sandbox.sms.sent
    assert (text.from_subscriber, text.to_address) == (ALICE, BOB)
    assert done[0].data["status"] == "delivered"
    assert done[0].data["message_id"]


async def send_from(hass: HomeAssistant, target: dict[str, Any], sender: Any, message: str) -> Any:
    return await hass.services.async_call(
        DOMAIN,
        "send_sms",
        {**target, "sender": sender, "message": message},
        blocking=True,
        return_response=True,
    )


async def test_a_text_to_the_subscriber_from_the_sender_name_shows_on_its_sms_entity(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    server = await make_sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    entry = make_entry(server, options=entry_options(**{CONF_SENDER_NAME: "Home"}))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await add_subscribers(hass, server, entry, ALICE)
    fired = async_capture_events(hass, EVENT_WGTWO)

    response = await send_from(
        hass, {"device_id": device_id_of(hass, entry, ALICE)}, "HOME", "The alarm went off"
    )

    [text] = server.sms.to_subscriber
    assert (text.to_subscriber, text.from_address, text.content) == (
        ALICE,
        "Home",
        "The alarm went off",
    )
    assert server.sms.sent == []
    assert response == {"message_id": response["message_id"], "status": "ok", "fragments": 1}
    await wait_for(lambda: any(e.data["type"] == "sms_delivery_report" for e in fired))
    await hass.async_block_till_done()
    by_type = {event.data["type"]: event.data for event in fired}
    received = by_type["sms_received"]
    assert (received["message_id"], received["from_address"]) == (response["message_id"], "Home")
    assert received["from_address_type"] == "text"
    assert by_type["sms_delivery_report"]["status"] == "delivered"
    state = hass.states.get(entity_id(hass, entry, "event", ALICE, "sms"))
    assert state is not None
    assert state.attributes["message_id"] == response["message_id"]
    await async_unload_and_wait(hass, entry, server)


@pytest.mark.parametrize(
    ("options", "sender", "key", "placeholders"),
    [
        ({}, "Home", "sender_name_not_set", {"sender": "Home"}),
        ({CONF_SENDER_NAME: "Home"}, "Cabin", "sender_not_the_entrys",
         {"sender": "Cabin", "name": "Home"}),
        ({CONF_SENDER_NAME: "Home"}, "12", "sender_invalid_number", None),
    ],
)  # fmt: skip
async def test_a_sender_not_the_entrys_is_refused_unsent(
    hass: HomeAssistant,
    make_sandbox: MakeSandbox,
    options: dict[str, str],
    sender: str,
    key: str,
    placeholders: dict[str, str] | None,
) -> None:
    server = await make_sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    entry = make_entry(server, options=entry_options(**options))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await add_subscribers(hass, server, entry, ALICE)

    with pytest.raises(ServiceValidationError) as caught:
        await send_from(hass, {"device_id": device_id_of(hass, entry, ALICE)}, sender, "hi")

    assert caught.value.translation_key == key
    assert caught.value.translation_placeholders == placeholders
    assert server.sms.to_subscriber == []
    await async_unload_and_wait(hass, entry, server)


async def test_a_number_sender_goes_to_the_operator_which_may_refuse_it(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any]
) -> None:
    auth_sandbox.senders.add("+4722334455")
    await send_from(hass, alice, 4722334455, "from the cabin's number")  # a bare integer too
    with pytest.raises(HomeAssistantError) as caught:
        await send_from(hass, alice, "+47 22 33 44 56", "from an unapproved number")

    assert caught.value.translation_key == "operator_rejected"
    assert "sender not approved for this product" in str(caught.value)
    assert [t.from_address for t in auth_sandbox.sms.to_subscriber] == ["+4722334455"]


async def test_to_and_sender_go_one_at_a_time(
    hass: HomeAssistant, auth_sandbox: SandboxServer, alice: dict[str, Any]
) -> None:
    for data in ({"message": "hi"}, {"to": BOB, "sender": "Home", "message": "hi"}):
        with pytest.raises(ServiceValidationError) as caught:
            await hass.services.async_call(
                DOMAIN, "send_sms", {**alice, **data}, blocking=True, return_response=True
            )
        assert caught.value.translation_key == "to_or_sender"
    assert auth_sandbox.sms.sent == auth_sandbox.sms.to_subscriber == []
