"""Caller names on the handsets: the entry answers the sandbox's number lookups."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import pytest
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.wgtwo.caller_names import CallerNameStream
from custom_components.wgtwo.const import (
    CONF_NAME_CALLERS,
    CONF_NAME_MAX_AGE,
    CONF_PHONEBOOK,
    DOMAIN,
)
from tests.sandbox_fixtures import MakeSandbox
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.lookup_service import NoAnswerError
from wgtwo_sandbox.scopes import ALL_SCOPES, LOOKUP, LOOKUP_DETAILED

from .conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    async_setup_entry_and_connect,
    async_unload_and_wait,
    change_settings,
    entry_options,
    hub_of,
    make_entry,
    publish_and_wait,
    wait_for,
)
from .wgtwo_events import ALICE, BOB, OUTSIDER, call

CALLER = "+4790012345"
PHONEBOOK = {CALLER: "Dora", OUTSIDER: "Olav"}


def names_options(**overrides: Any) -> dict[str, Any]:
    """Entry options with caller names on and a phonebook."""
    return entry_options(
        **{CONF_NAME_CALLERS: True, CONF_PHONEBOOK: PHONEBOOK, CONF_NAME_MAX_AGE: 30, **overrides}
    )


def names_of(entry: MockConfigEntry) -> CallerNameStream:
    """The entry's caller-name stream (caller names must be on)."""
    names = hub_of(entry).caller_names
    assert names is not None
    return names


async def setup_with_names(
    hass: HomeAssistant, server: SandboxServer, entry: MockConfigEntry
) -> CallerNameStream:
    """Set ``entry`` up and wait until both streams are connected."""
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    names = names_of(entry)
    await wait_for(lambda: names.stream_state == "connected" and bool(server.lookups.streams))
    return names


def lookup_issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"missing_lookup_scope_{entry.entry_id}")


async def test_phonebook_names_answer_lookups(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    hass_client: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = make_entry(auth_sandbox, options=names_options())
    names = await setup_with_names(hass, auth_sandbox, entry)

    known = await auth_sandbox.lookups.ask("+47 900 12 345".replace(" ", ""), BOB)
    assert known.name == "Dora"
    assert known.error is None
    assert known.max_age == 30 * 60  # the option's minutes
    unknown = await auth_sandbox.lookups.ask("+4799999999", BOB)
    assert unknown.name == ""
    assert unknown.error is None

    # A ringing call makes the sandbox ask on its own, and log what the handset shows.
    caplog.set_level(logging.INFO, logger="wgtwo_sandbox.lookup")
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call(
            "c1",
            ["CALL_INITIATED", "CALL_RINGING"],
            from_number=CALLER,
            to_number=ALICE,
            owner=ALICE,
        ),
    )
    await wait_for(lambda: "would show" in caplog.text)
    assert 'subscriber #1 would show "Dora"' in caplog.text
    assert auth_sandbox.stats["lookup"]["asked"] == 3  # once per call, not per event
    assert auth_sandbox.stats["lookup"]["echo_mismatches"] == 0
    # Neither side logs a number.
    ours = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(("custom_components.wgtwo", "wgtwo_sandbox"))
    )
    assert "would show" in ours
    for number in (CALLER, ALICE, BOB):
        assert number[1:] not in ours

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    last_request = diagnostics["caller_names"].pop("last_request_time")
    assert last_request == names.stream.stats.as_dict()["last_request_time"] is not None
    assert diagnostics["caller_names"] == {
        "enabled": True,
        "state": "connected",
        "max_age_minutes": 30,
        "last_error": None,
        "asked": 3,
        "named": 2,
        "unknown": 1,
        "errors": 0,
        "reconnects": 0,
    }
    assert "Dora" not in str(diagnostics)
    assert CALLER not in str(diagnostics)
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_name_max_age_is_at_least_fifteen_minutes(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(auth_sandbox, options=names_options(**{CONF_NAME_MAX_AGE: 5}))
    await setup_with_names(hass, auth_sandbox, entry)

    answer = await auth_sandbox.lookups.ask(CALLER)

    assert answer.name == "Dora"
    assert answer.max_age == 15 * 60
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_names_only_for_the_entrys_subscribers(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    """A server that names the called subscriber gets names for this entry's only."""
    # Without client credentials the sandbox sends the recipient to every stream.
    server = await make_sandbox()
    entry = make_entry(server, client_id="", client_secret="", options=names_options())
    await setup_with_names(hass, server, entry)
    await publish_and_wait(
        hass,
        server,
        entry,
        call("c1", ["CALL_ENDED"], from_number=OUTSIDER, to_number=ALICE, owner=ALICE),
    )

    assert (await server.lookups.ask(CALLER, ALICE)).name == "Dora"
    assert (await server.lookups.ask(CALLER, BOB)).name == ""  # no device of this entry
    assert (await server.lookups.ask(CALLER)).name == "Dora"  # no recipient: answered
    await async_unload_and_wait(hass, entry, server)


async def test_missing_lookup_scope_raises_issue_while_events_flow(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    server = await make_sandbox(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        granted_scopes=ALL_SCOPES - {LOOKUP, LOOKUP_DETAILED},
    )
    entry = make_entry(server, options=names_options())
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    names = names_of(entry)

    await wait_for(lambda: lookup_issue(hass, entry) is not None)
    issue = lookup_issue(hass, entry)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_key == "missing_lookup_scope"
    assert issue.translation_placeholders == {"scopes": LOOKUP, "title": entry.title}
    assert names.stream_state == "stopped"
    assert entry.options[CONF_NAME_CALLERS] is True
    # The event stream is unaffected: connected, handling events, no scope issue of its own.
    assert hub_of(entry).connected
    await publish_and_wait(
        hass,
        server,
        entry,
        call("c1", ["CALL_RINGING"], from_number=CALLER, to_number=ALICE, owner=ALICE),
    )
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"missing_scopes_{entry.entry_id}") is None
    with pytest.raises(NoAnswerError):
        await server.lookups.ask(CALLER)

    # Granted; the fix flow reloads the entry, the lookup stream connects, the issue goes.
    server.authority.granted_scopes |= {LOOKUP}
    assert await async_setup_component(hass, "repairs", {})
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result = await manager.async_init(DOMAIN, data={"issue_id": issue.issue_id})
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"] == issue.translation_placeholders
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] == "create_entry"
    await hass.async_block_till_done()
    await wait_for(lambda: bool(server.lookups.streams) and lookup_issue(hass, entry) is None)
    assert (await server.lookups.ask(CALLER)).name == "Dora"
    await async_unload_and_wait(hass, entry, server)


async def test_scope_refused_on_the_stream_raises_issue(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    """The grant withdrawn while running: the stream is refused, the issue names the scope."""
    entry = make_entry(auth_sandbox, options=names_options())
    names = await setup_with_names(hass, auth_sandbox, entry)
    auth_sandbox.authority.granted_scopes -= {LOOKUP}
    for token in auth_sandbox.authority.tokens.values():
        token.scopes = token.scopes - {LOOKUP}
    auth_sandbox.lookups.end_streams()

    await wait_for(lambda: lookup_issue(hass, entry) is not None)
    issue = lookup_issue(hass, entry)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["scopes"] == LOOKUP
    assert names.stream_state == "stopped"
    assert hub_of(entry).connected
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_rejected_credentials_start_reauth_events_keep_flowing(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(auth_sandbox, options=names_options())
    names = await setup_with_names(hass, auth_sandbox, entry)
    auth_sandbox.authority.client_secret = "rotated-secret"
    auth_sandbox.revoke_tokens()
    auth_sandbox.lookups.end_streams()

    await wait_for(
        lambda: any(
            flow["context"].get("source") == SOURCE_REAUTH
            and flow["context"].get("entry_id") == entry.entry_id
            for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        )
    )
    assert names.stream_state == "stopped"
    # The open event stream is not disturbed by the lookup stream's refusal.
    assert hub_of(entry).connected
    await publish_and_wait(
        hass,
        auth_sandbox,
        entry,
        call("c1", ["CALL_ENDED"], from_number=CALLER, to_number=ALICE, owner=ALICE),
    )
    assert auth_sandbox.stats["lookup"]["open_streams"] == 0
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_event_stream_loss_leaves_lookups_alone(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(auth_sandbox, options=names_options())
    names = await setup_with_names(hass, auth_sandbox, entry)

    auth_sandbox.end_streams(grpc.StatusCode.UNAVAILABLE, "maintenance")
    await wait_for(lambda: hub_of(entry).stream.stats.reconnects >= 1)

    assert (await auth_sandbox.lookups.ask(CALLER)).name == "Dora"
    assert auth_sandbox.stats["lookup"]["streams_opened"] == 1
    assert names.stream.stats.reconnects == 0
    await async_unload_and_wait(hass, entry, auth_sandbox)
    assert not auth_sandbox.lookups.streams


async def test_lookup_stream_reconnects(hass: HomeAssistant, auth_sandbox: SandboxServer) -> None:
    entry = make_entry(auth_sandbox, options=names_options())
    names = await setup_with_names(hass, auth_sandbox, entry)

    auth_sandbox.lookups.end_streams()
    await wait_for(lambda: auth_sandbox.stats["lookup"]["streams_opened"] == 2)
    await wait_for(lambda: bool(auth_sandbox.lookups.streams))

    assert (await auth_sandbox.lookups.ask(OUTSIDER)).name == "Olav"
    assert names.stream.stats.reconnects == 1
    assert lookup_issue(hass, entry) is None
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_option_off_opens_no_lookup_stream(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    hass_client: ClientSessionGenerator,
) -> None:
    entry = make_entry(auth_sandbox, options=entry_options(**{CONF_PHONEBOOK: PHONEBOOK}))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)

    assert hub_of(entry).caller_names is None
    assert auth_sandbox.stats["lookup"]["streams_opened"] == 0
    with pytest.raises(NoAnswerError):
        await auth_sandbox.lookups.ask(CALLER)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["caller_names"] == {"enabled": False}
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_turning_names_off_clears_a_stale_issue(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    server = await make_sandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, granted_scopes=ALL_SCOPES - {LOOKUP}
    )
    entry = make_entry(server, options=names_options())
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await wait_for(lambda: lookup_issue(hass, entry) is not None)

    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_NAME_CALLERS: False}
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()

    assert lookup_issue(hass, entry) is None
    assert hub_of(entry).caller_names is None
    await async_unload_and_wait(hass, entry, server)


async def test_a_refused_lookup_stream_is_tried_again_later(
    hass: HomeAssistant, auth_sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    change_settings(hass, refused_retry_initial=0.2, refused_retry_max=0.4)
    entry = make_entry(auth_sandbox, options=names_options())
    names = await setup_with_names(hass, auth_sandbox, entry)

    auth_sandbox.lookups.end_streams(grpc.StatusCode.INVALID_ARGUMENT, "bad request")
    await wait_for(lambda: "Caller names stopped" in caplog.text)
    assert names.error is not None
    assert names.last_error is not None
    assert hub_of(entry).connected
    await wait_for(lambda: auth_sandbox.stats["lookup"]["streams_opened"] == 2)
    await wait_for(lambda: names.stream_state == "connected" and names.error is None)
    assert (await auth_sandbox.lookups.ask(CALLER)).name == "Dora"
    assert lookup_issue(hass, entry) is None

    # Refused again, then unloaded while the retry waits: nothing runs afterwards.
    auth_sandbox.lookups.end_streams(grpc.StatusCode.INVALID_ARGUMENT, "bad request")
    await wait_for(lambda: names.error is not None)
    await async_unload_and_wait(hass, entry, auth_sandbox)
    assert names.stream_state == "stopped"
    assert not auth_sandbox.lookups.streams
