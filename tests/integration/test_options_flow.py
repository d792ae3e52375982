"""The options menu's subscriber and caller-name steps, and how every step merges its options."""

from __future__ import annotations

import json
from typing import Any

import pytest
from homeassistant.auth.const import GROUP_ID_ADMIN, GROUP_ID_USER
from homeassistant.components.notify.const import ATTR_MESSAGE, SERVICE_SEND_MESSAGE
from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.wgtwo.const import (
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_EVENT_TYPES,
    CONF_FORWARDING_NUMBER,
    CONF_HOME_COUNTRY,
    CONF_NAME_CALLERS,
    CONF_NAME_MAX_AGE,
    CONF_OWNERS,
    CONF_PHONEBOOK,
    CONF_SENDER_NAME,
    CONF_SHARE_SMS_TEXT,
    CONF_SMS_BUDGET,
    CONF_SMS_RECIPIENT,
    CONF_SUBSCRIBERS,
    CONF_TOKEN_URL,
)
from custom_components.wgtwo.diagnostics import async_get_config_entry_diagnostics
from tests.sandbox_fixtures import MakeSandbox, free_port
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.scopes import ALL_SCOPES, LOOKUP

from .conftest import (
    ALL_EVENT_TYPES,
    CLIENT_ID,
    CLIENT_SECRET,
    async_unload_and_wait,
    entry_options,
    make_entry,
    publish_and_wait,
)
from .wgtwo_events import ALICE, BOB, CAROL, coordinator_of, entity_id, sms

SAVED_ELSEWHERE: dict[str, Any] = {
    CONF_SUBSCRIBERS: {ALICE: {CONF_SMS_RECIPIENT: BOB, CONF_FORWARDING_NUMBER: CAROL}},
    CONF_NAME_CALLERS: True,
    CONF_NAME_MAX_AGE: 30,
}


async def open_options(hass: HomeAssistant, entry: MockConfigEntry, step: str) -> ConfigFlowResult:
    """Open the options menu and choose ``step``."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )


def suggested(result: ConfigFlowResult, key: str) -> Any:
    """The value a form shows prefilled for ``key``."""
    schema = result["data_schema"]
    assert schema is not None
    for marker in schema.schema:
        if marker == key:
            return (marker.description or {}).get("suggested_value")
    raise KeyError(key)


async def settle(hass: HomeAssistant, entry: MockConfigEntry, server: SandboxServer) -> None:
    """Let the reload that saving started finish, then unload (the sandbox stops next)."""
    await hass.async_block_till_done()
    await async_unload_and_wait(hass, entry, server)


async def add_subscribers(
    hass: HomeAssistant, server: SandboxServer, entry: MockConfigEntry, *numbers: str
) -> None:
    events = [
        sms(owner=n, from_number=CAROL, to_number=n, direction="TO_SUBSCRIBER", sms_id=f"in-{n}")
        for n in numbers
    ]
    await publish_and_wait(hass, server, entry, events)


async def test_general_step_keeps_what_the_other_steps_saved(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    options = entry_options(**{CONF_HOME_COUNTRY: "NO", **SAVED_ELSEWHERE})
    entry = make_entry(auth_sandbox, options=options)
    entry.add_to_hass(hass)
    result = await open_options(hass, entry, "general")
    assert suggested(result, CONF_HOME_COUNTRY) == "NO"
    assert suggested(result, CONF_SMS_BUDGET) == 20  # the default, never saved yet

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_EVENT_TYPES: list(ALL_EVENT_TYPES),
            CONF_PHONEBOOK: "+4799900001 = Alice",
            CONF_SHARE_SMS_TEXT: False,
            CONF_SMS_BUDGET: 5.0,  # the number box gives a float
        },
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    # The home country was cleared (derived from each number again); the rest stays.
    assert entry.options == {
        CONF_EVENT_TYPES: list(ALL_EVENT_TYPES),
        CONF_PHONEBOOK: {ALICE: "Alice"},
        CONF_SHARE_SMS_TEXT: False,
        CONF_SMS_BUDGET: 5,
        **SAVED_ELSEWHERE,
    }
    await hass.async_block_till_done()
    result = await open_options(hass, entry, "general")
    assert suggested(result, CONF_SMS_BUDGET) == 5
    await settle(hass, entry, auth_sandbox)


async def test_the_sender_name_is_checked_saved_and_cleared(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    general = {
        CONF_EVENT_TYPES: list(ALL_EVENT_TYPES),
        CONF_SHARE_SMS_TEXT: False,
        CONF_SMS_BUDGET: 20,
    }
    result = await open_options(hass, entry, "general")
    assert suggested(result, CONF_SENDER_NAME) is None

    for wrong in ("12345", "Home-Alarm", "Home alarm 12", "Hjem\u00e6"):
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {**general, CONF_SENDER_NAME: wrong}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {CONF_SENDER_NAME: "invalid_sender_name"}
        assert suggested(result, CONF_SENDER_NAME) == wrong  # kept to correct
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**general, CONF_SENDER_NAME: "  Home 2 "}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_SENDER_NAME] == "Home 2"
    await hass.async_block_till_done()

    result = await open_options(hass, entry, "general")
    assert suggested(result, CONF_SENDER_NAME) == "Home 2"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**general, CONF_SENDER_NAME: ""}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_SENDER_NAME not in entry.options
    await settle(hass, entry, auth_sandbox)


async def test_subscriber_step_aborts_without_subscribers(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)

    result = await open_options(hass, entry, "subscriber")

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_subscribers"


OTHER_CAROL = "+4799900009"


@pytest.mark.parametrize(
    "entry_options_override",
    [{CONF_PHONEBOOK: {ALICE: "Alice", BOB: "Bob", CAROL: "Carol", OTHER_CAROL: "Carol"}}],
)
async def test_sms_recipient_may_be_a_phonebook_name(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    """A name is taken as wgtwo.send_sms takes it; stored as the name, looked up when sending."""
    entry = setup_integration
    await add_subscribers(hass, auth_sandbox, entry, ALICE)
    result = await open_options(hass, entry, "subscriber")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"subscriber": ALICE}
    )

    for entered, error in (("Dave", "unknown_recipient"), ("carol", "ambiguous_recipient")):
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_SMS_RECIPIENT: entered}
        )
        assert result["errors"] == {CONF_SMS_RECIPIENT: error}
        assert result["description_placeholders"] == {"name": "Alice", "recipient": entered}
        assert suggested(result, CONF_SMS_RECIPIENT) == entered

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SMS_RECIPIENT: " bob "}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_SUBSCRIBERS][ALICE][CONF_SMS_RECIPIENT] == "bob"
    await hass.async_block_till_done()

    notify_entity = entity_id(hass, entry, "notify", ALICE, "sms")
    await hass.services.async_call(
        "notify",
        SERVICE_SEND_MESSAGE,
        {ATTR_ENTITY_ID: notify_entity, ATTR_MESSAGE: "hi"},
        blocking=True,
    )
    assert [(t.from_subscriber, t.to_address) for t in auth_sandbox.sms.sent] == [(ALICE, BOB)]
    await settle(hass, entry, auth_sandbox)


@pytest.mark.parametrize(
    "entry_options_override", [{CONF_PHONEBOOK: {ALICE: "Alice"}, CONF_NAME_CALLERS: True}]
)
async def test_subscriber_numbers_are_checked_saved_and_used(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await add_subscribers(hass, auth_sandbox, entry, BOB, ALICE)

    result = await open_options(hass, entry, "subscriber")
    assert result["step_id"] == "subscriber"
    [marker] = result["data_schema"].schema  # type: ignore[union-attr]
    selector = result["data_schema"].schema[marker]  # type: ignore[union-attr]
    # Sorted by name; a device named by its number is not shown twice.
    assert selector.config["options"] == [
        {"value": BOB, "label": BOB},
        {"value": ALICE, "label": f"Alice ({ALICE})"},
    ]

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"subscriber": ALICE}
    )
    assert result["step_id"] == "subscriber_settings"
    assert result["description_placeholders"] == {"name": "Alice"}
    assert suggested(result, CONF_SMS_RECIPIENT) is None

    entered = {CONF_SMS_RECIPIENT: "12345", CONF_FORWARDING_NUMBER: "+47 abc"}
    result = await hass.config_entries.options.async_configure(result["flow_id"], entered)
    assert result["errors"] == {
        CONF_SMS_RECIPIENT: "invalid_recipient",
        CONF_FORWARDING_NUMBER: "invalid_number",
    }
    assert suggested(result, CONF_SMS_RECIPIENT) == "12345"
    # Forwarding Alice's calls to Alice would loop.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_FORWARDING_NUMBER: "+47 999 00 001"}
    )
    assert result["errors"] == {CONF_FORWARDING_NUMBER: "forwarding_to_itself"}

    hub_before = entry.runtime_data.hub
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SMS_RECIPIENT: " 0047 999 00 002 ", CONF_FORWARDING_NUMBER: ""}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_SUBSCRIBERS] == {
        ALICE: {CONF_SMS_RECIPIENT: BOB, CONF_FORWARDING_NUMBER: "", CONF_OWNERS: []}
    }
    assert entry.options[CONF_NAME_CALLERS] is True  # other options stay
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.hub is not hub_before

    # Alice's notify entity now texts Bob.
    await hass.services.async_call(
        "notify",
        SERVICE_SEND_MESSAGE,
        {ATTR_ENTITY_ID: entity_id(hass, entry, "notify", ALICE, "sms"), ATTR_MESSAGE: "hi"},
        blocking=True,
    )
    assert [(t.from_subscriber, t.to_address) for t in auth_sandbox.sms.sent] == [(ALICE, BOB)]

    # Shown again, and Bob's settings are his own.
    result = await open_options(hass, entry, "subscriber")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"subscriber": ALICE}
    )
    assert suggested(result, CONF_SMS_RECIPIENT) == BOB
    assert suggested(result, CONF_FORWARDING_NUMBER) == ""
    hass.config_entries.options.async_abort(result["flow_id"])
    assert ALICE in coordinator_of(entry).subscribers

    # Diagnostics tell what is set, never the numbers.
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["entry"]["options"][CONF_SUBSCRIBERS] == {
        "entries": 1,
        CONF_SMS_RECIPIENT: 1,
        CONF_FORWARDING_NUMBER: 0,
        CONF_OWNERS: 0,
    }
    dumped = json.dumps(diagnostics)
    assert BOB[1:] not in dumped
    assert ALICE[1:] not in dumped


@pytest.mark.parametrize(
    "entry_options_override",
    [{CONF_SUBSCRIBERS: {ALICE: {CONF_SMS_RECIPIENT: BOB, CONF_OWNERS: ["kari", "removed"]}}}],
)
async def test_owners_are_chosen_among_the_people_who_log_in(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    admins = await hass.auth.async_get_group(GROUP_ID_ADMIN)
    users = await hass.auth.async_get_group(GROUP_ID_USER)
    assert admins is not None
    assert users is not None
    MockUser(id="bo", name="bo", groups=[users]).add_to_hass(hass)
    MockUser(id="kari", name="Kari", groups=[users]).add_to_hass(hass)
    MockUser(id="anne", name="Anne", groups=[admins]).add_to_hass(hass)
    MockUser(id="robot", name="Robot", system_generated=True).add_to_hass(hass)
    await add_subscribers(hass, auth_sandbox, entry, ALICE)

    result = await open_options(hass, entry, "subscriber")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"subscriber": ALICE}
    )
    schema = result["data_schema"]
    assert schema is not None
    [selector] = [schema.schema[marker] for marker in schema.schema if marker == CONF_OWNERS]
    # People who log in, by name; no system user. A removed user is not shown as chosen.
    assert selector.config["options"] == [
        {"value": "anne", "label": "Anne"},
        {"value": "bo", "label": "bo"},
        {"value": "kari", "label": "Kari"},
    ]
    assert selector.config["multiple"] is True
    assert suggested(result, CONF_OWNERS) == ["kari"]
    assert suggested(result, CONF_SMS_RECIPIENT) == BOB

    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_SMS_RECIPIENT: BOB, CONF_OWNERS: ["robot"]}
        )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SMS_RECIPIENT: BOB, CONF_OWNERS: ["kari", "bo"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_SUBSCRIBERS][ALICE] == {
        CONF_SMS_RECIPIENT: BOB,
        CONF_FORWARDING_NUMBER: "",
        CONF_OWNERS: ["kari", "bo"],
    }
    await hass.async_block_till_done()
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["entry"]["options"][CONF_SUBSCRIBERS][CONF_OWNERS] == 1
    assert "kari" not in json.dumps(diagnostics)


async def test_caller_names_defaults_and_save(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(auth_sandbox, options=entry_options(**{CONF_HOME_COUNTRY: "NO"}))
    entry.add_to_hass(hass)
    result = await open_options(hass, entry, "caller_names")
    assert result["step_id"] == "caller_names"
    assert suggested(result, CONF_NAME_CALLERS) is False
    assert suggested(result, CONF_NAME_MAX_AGE) == 60

    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_NAME_CALLERS: True, CONF_NAME_MAX_AGE: 14}
        )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_NAME_CALLERS: True, CONF_NAME_MAX_AGE: 30.0}
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == entry_options(
        **{CONF_HOME_COUNTRY: "NO", CONF_NAME_CALLERS: True, CONF_NAME_MAX_AGE: 30}
    )
    # The token asked for the lookup scope only.
    assert any(token.scopes == {LOOKUP} for token in auth_sandbox.authority.tokens.values())
    await settle(hass, entry, auth_sandbox)


async def test_caller_names_need_the_lookup_scope(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    server = await make_sandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, granted_scopes=ALL_SCOPES - {LOOKUP}
    )
    entry = make_entry(server)
    entry.add_to_hass(hass)
    result = await open_options(hass, entry, "caller_names")

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_NAME_CALLERS: True, CONF_NAME_MAX_AGE: 60}
    )
    assert result["errors"] == {"base": "missing_lookup_scope"}
    assert result["description_placeholders"] == {"scope": "lookup.number:read"}
    assert suggested(result, CONF_NAME_CALLERS) is True
    assert CONF_NAME_CALLERS not in entry.options

    # Turning it off (or leaving it off) needs no grant.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_NAME_CALLERS: False, CONF_NAME_MAX_AGE: 90}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_NAME_CALLERS] is False
    assert entry.options[CONF_NAME_MAX_AGE] == 90
    await settle(hass, entry, server)


async def test_caller_names_already_on_are_not_rechecked(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    server = await make_sandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, granted_scopes=ALL_SCOPES - {LOOKUP}
    )
    entry = make_entry(server, options=entry_options(**{CONF_NAME_CALLERS: True}))
    entry.add_to_hass(hass)
    result = await open_options(hass, entry, "caller_names")
    assert suggested(result, CONF_NAME_CALLERS) is True

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_NAME_CALLERS: True, CONF_NAME_MAX_AGE: 15}
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_NAME_MAX_AGE] == 15
    assert server.authority.issued == 0
    await settle(hass, entry, server)


@pytest.mark.parametrize(
    ("data", "error", "placeholders"),
    [
        ({CONF_CLIENT_SECRET: "wrong"}, "invalid_auth", {}),
        ({CONF_TOKEN_URL: "http://127.0.0.1:{free}/oauth2/token"}, "cannot_connect", {}),
        ({CONF_TOKEN_URL: "{http}/oauth2/elsewhere"}, "token_rejected", {"status": "404"}),
    ],
)
async def test_caller_names_check_names_every_token_failure(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    data: dict[str, str],
    error: str,
    placeholders: dict[str, str],
) -> None:
    base = make_entry(auth_sandbox)
    values = {
        key: value.format(free=free_port(), http=auth_sandbox.http_url)
        for key, value in data.items()
    }
    entry = MockConfigEntry(
        domain=base.domain,
        title=base.title,
        unique_id=base.unique_id,
        data={**base.data, **values},
        options=dict(base.options),
    )
    entry.add_to_hass(hass)
    result = await open_options(hass, entry, "caller_names")

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_NAME_CALLERS: True, CONF_NAME_MAX_AGE: 60}
    )

    assert result["errors"] == {"base": error}
    assert result["description_placeholders"] == placeholders


async def test_caller_names_on_a_server_without_authentication(
    hass: HomeAssistant, sandbox: SandboxServer
) -> None:
    entry = make_entry(sandbox, client_id="", client_secret="")
    entry.add_to_hass(hass)
    result = await open_options(hass, entry, "caller_names")

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_NAME_CALLERS: True, CONF_NAME_MAX_AGE: 60}
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_NAME_CALLERS] is True
    assert entry.data[CONF_CLIENT_ID] == ""
    await settle(hass, entry, sandbox)
