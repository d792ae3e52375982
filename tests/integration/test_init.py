"""Setup, unload, reload and the running event stream, against a local sandbox."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta

import grpc
import pytest
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState, ConfigFlowResult
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.wgtwo.client import ActionError, ConnectionState, MissingScopeError
from custom_components.wgtwo.compat import device_by_identifier
from custom_components.wgtwo.const import (
    CONF_CLIENT_SECRET,
    CONF_EVENT_TYPES,
    CONF_TOKEN_URL,
    DOMAIN,
)
from custom_components.wgtwo.hub import StreamState, subscription_name
from custom_components.wgtwo.migrate import unique_id_for
from tests.sandbox_fixtures import MakeSandbox, free_port
from wgtwo_sandbox import SandboxServer

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
    wait_connected,
    wait_for,
)
from .wgtwo_events import ALICE, BOB, call, coordinator_of, voicemail

VOICE_SCOPE = "events.voice.subscribe"


def reauth_flows(hass: HomeAssistant, entry: MockConfigEntry) -> list[ConfigFlowResult]:
    return [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"].get("source") == SOURCE_REAUTH
        and flow["context"].get("entry_id") == entry.entry_id
    ]


async def test_setup_connects_and_unload_stops_everything(
    hass: HomeAssistant, auth_sandbox: SandboxServer, config_entry: MockConfigEntry
) -> None:
    await async_setup_entry_and_connect(hass, config_entry)

    hub = hub_of(config_entry)
    connected = f"binary_sensor.{config_entry.title.replace(' ', '_')}_connected"
    assert hass.states.get(connected).state == STATE_ON  # type: ignore[union-attr]
    (subscription,) = auth_sandbox.stats["subscriptions"]
    name = subscription_name(config_entry.entry_id)
    assert subscription["durable_name"] == name
    assert subscription["queue_name"] == name
    assert subscription["manual_ack"]
    assert subscription["max_in_flight"] == 50

    await async_unload_and_wait(hass, config_entry, auth_sandbox)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.NOT_LOADED
    assert not hub.connected
    assert hub.state is StreamState.STOPPED
    await wait_for(lambda: auth_sandbox.stats["open_streams"] == 0)


async def test_reload_resubscribes(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    first = hub_of(entry)

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await wait_connected(hass, entry)

    assert hub_of(entry) is not first
    assert not first.connected
    await publish_and_wait(
        hass, auth_sandbox, entry, [voicemail("vm1", from_number=BOB, to_number=ALICE)]
    )


async def test_not_ready_while_the_server_is_down(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    await auth_sandbox.stop()

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert entry.reason.startswith("Events: cannot reach the operator")
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_not_ready_on_unexpected_token_answer(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_TOKEN_URL: f"{auth_sandbox.http_url}/nowhere"}
    )

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert entry.reason.startswith("Events: the token endpoint refused the request (HTTP ")
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_wrong_credentials_start_reauth(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(auth_sandbox, client_secret="wrong")
    entry.add_to_hass(hass)

    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert len(reauth_flows(hass, entry)) == 1


async def test_revoked_credentials_while_running_start_reauth(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = setup_integration
    hub = hub_of(entry)
    auth_sandbox.authority.client_secret = "rotated-secret"
    auth_sandbox.revoke_tokens()
    auth_sandbox.end_streams(grpc.StatusCode.UNAVAILABLE, "maintenance")

    await wait_for(lambda: bool(reauth_flows(hass, entry)))

    assert not hub.connected
    assert hub.state is StreamState.STOPPED
    assert "test-secret" not in caplog.text
    assert "rotated-secret" not in caplog.text

    # The user enters the new secret: the entry reloads and connects again.
    flow = reauth_flows(hass, entry)[0]
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"],
        {"client_id": CLIENT_ID, "client_secret": "rotated-secret"},
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_CLIENT_SECRET] == "rotated-secret"
    await wait_connected(hass, entry)


async def test_scope_withdrawn_while_running_raises_fixable_issue(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
) -> None:
    entry = setup_integration
    issue_id = f"missing_scopes_{entry.entry_id}"
    # The operator withdraws the voice grant: issued tokens lose it, new ones are refused.
    auth_sandbox.authority.granted_scopes -= {VOICE_SCOPE}
    for token in auth_sandbox.authority.tokens.values():
        token.scopes = token.scopes - {VOICE_SCOPE}
    auth_sandbox.end_streams(grpc.StatusCode.UNAVAILABLE, "maintenance")

    registry = ir.async_get(hass)
    await wait_for(lambda: registry.async_get_issue(DOMAIN, issue_id) is not None)
    issue = registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_key == "missing_scopes"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["scopes"] == VOICE_SCOPE
    assert not hub_of(entry).connected

    # Granted again; the fix flow reloads the entry, which connects and clears the issue.
    auth_sandbox.authority.granted_scopes |= {VOICE_SCOPE}
    assert await async_setup_component(hass, "repairs", {})
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"] == issue.translation_placeholders
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] == "create_entry"
    await hass.async_block_till_done()
    await wait_connected(hass, entry)
    assert registry.async_get_issue(DOMAIN, issue_id) is None


async def test_missing_scope_at_setup_retries_with_issue(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    server = await make_sandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, granted_scopes={VOICE_SCOPE}
    )
    entry = make_entry(server, options=entry_options(**{CONF_EVENT_TYPES: ["voice", "sms"]}))
    entry.add_to_hass(hass)

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert entry.reason.startswith(
        "Events: your OAuth client lacks the scope events.sms.subscribe."
    )
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"missing_scopes_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["scopes"] == "events.sms.subscribe"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_events_published_while_stopped_arrive_after_restart(
    hass: HomeAssistant, auth_sandbox: SandboxServer, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    await async_unload_and_wait(hass, entry, auth_sandbox)

    await auth_sandbox.publish(
        call(
            "c1", ["CALL_INITIATED", "CALL_RINGING"], from_number=BOB, to_number=ALICE, owner=ALICE
        )
    )
    await async_setup_entry_and_connect(hass, entry)

    hub = hub_of(entry)
    await wait_for(lambda: hub.events_handled == 2)
    await hass.async_block_till_done()
    device = device_by_identifier(
        dr.async_get(hass), (DOMAIN, f"{entry.entry_id}_{ALICE}"), entry.entry_id
    )
    assert device is not None


async def test_connection_loss_and_recovery_logged_once(
    hass: HomeAssistant,
    make_sandbox: MakeSandbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    grpc_port, http_port = free_port(), free_port()
    server = await make_sandbox(
        grpc_port=grpc_port, http_port=http_port, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    entry = make_entry(server)
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    hub = hub_of(entry)
    caplog.set_level(logging.INFO, logger="custom_components.wgtwo")

    await server.stop()
    await wait_for(lambda: hub.stream.stats.reconnects >= 3)
    assert not hub.connected
    replacement = await make_sandbox(
        grpc_port=grpc_port, http_port=http_port, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    await wait_connected(hass, entry)

    messages = [r.getMessage() for r in caplog.records if r.name == "custom_components.wgtwo"]
    assert sum("lost" in m for m in messages) == 1
    assert sum("restored" in m for m in messages) == 1
    assert all(
        r.levelno == logging.INFO for r in caplog.records if r.name == "custom_components.wgtwo"
    )
    await publish_and_wait(
        hass, replacement, entry, [voicemail("vm1", from_number=BOB, to_number=ALICE)]
    )
    await async_unload_and_wait(hass, entry, replacement)


async def test_subscriber_device_can_be_removed(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    entry = setup_integration
    await publish_and_wait(
        hass, auth_sandbox, entry, [voicemail("vm1", from_number=BOB, to_number=ALICE)]
    )
    registry = dr.async_get(hass)
    device = device_by_identifier(registry, (DOMAIN, f"{entry.entry_id}_{ALICE}"), entry.entry_id)
    assert device is not None
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)

    await client.send_json_auto_id(
        {
            "type": "config/device_registry/remove_config_entry",
            "config_entry_id": entry.entry_id,
            "device_id": device.id,
        }
    )
    response = await client.receive_json()

    assert response["success"]
    assert registry.async_get(device.id) is None


async def test_devices_can_be_removed_while_the_entry_is_not_loaded(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A stale subscriber goes even while the server is unreachable; the service stays."""
    entry = setup_integration
    await publish_and_wait(
        hass, auth_sandbox, entry, [voicemail("vm1", from_number=BOB, to_number=ALICE)]
    )
    registry = dr.async_get(hass)
    subscriber = device_by_identifier(
        registry, (DOMAIN, f"{entry.entry_id}_{ALICE}"), entry.entry_id
    )
    service = device_by_identifier(registry, (DOMAIN, entry.entry_id), entry.entry_id)
    assert subscriber is not None
    assert service is not None
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)

    results = {}
    for device in (subscriber, service):
        await client.send_json_auto_id(
            {
                "type": "config/device_registry/remove_config_entry",
                "config_entry_id": entry.entry_id,
                "device_id": device.id,
            }
        )
        results[device.id] = (await client.receive_json())["success"]

    assert results == {subscriber.id: True, service.id: False}
    assert registry.async_get(subscriber.id) is None
    assert registry.async_get(service.id) is not None


async def test_actions_use_one_scope_each(hass: HomeAssistant, make_sandbox: MakeSandbox) -> None:
    server = await make_sandbox(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        granted_scopes={
            VOICE_SCOPE,
            "events.voicemail.subscribe",
            "voicemail.get",
            "voicemail.update",
            "voicemail.delete",
        },
    )
    entry = make_entry(server, options=entry_options(**{CONF_EVENT_TYPES: ["voice", "voicemail"]}))
    entry.add_to_hass(hass)
    await async_setup_entry_and_connect(hass, entry)
    await publish_and_wait(
        hass, server, entry, [voicemail("vm1", from_number=BOB, to_number=ALICE)]
    )
    actions = coordinator_of(entry).api

    fetched = await actions.get_voicemail("vm1")
    assert fetched.from_number == BOB
    assert not fetched.played
    await actions.mark_voicemail_read("vm1")
    assert (await actions.get_voicemail("vm1")).played
    await actions.delete_voicemail("vm1")
    with pytest.raises(ActionError) as err:
        await actions.get_voicemail("vm1")
    assert err.value.not_found

    # SMS sending is not granted: only that action fails.
    with pytest.raises(MissingScopeError):
        await actions.send_sms(ALICE, BOB, "hi")
    await async_unload_and_wait(hass, entry, server)


async def test_actions_exist_without_a_loaded_entry(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()

    assert hass.services.has_service(DOMAIN, "reset_missed_calls")
    assert hass.services.has_service(DOMAIN, "mark_voicemail_heard")
    assert hass.services.has_service(DOMAIN, "send_sms")
    assert hass.services.has_service(DOMAIN, "send_mms")
    # Nothing to act on: nothing happens.
    await hass.services.async_call(
        DOMAIN, "reset_missed_calls", {"device_id": "nonexistent"}, blocking=True
    )


async def test_broken_server_address_fails_setup(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={
            "environment": "custom",
            "host": "example.com",
            "plaintext": True,
            "token_url": "https://id.example.com/oauth2/token",
            "client_id": "c",
            "client_secret": "s",
        },
        options=entry_options(),
    )
    entry.add_to_hass(hass)

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None
    assert entry.reason.startswith("The configured server address is not valid")


async def test_removing_the_entry_deletes_its_issues(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    server = await make_sandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, granted_scopes={VOICE_SCOPE}
    )
    entry = make_entry(server, options=entry_options(**{CONF_EVENT_TYPES: ["voice", "sms"]}))
    entry.add_to_hass(hass)
    other = make_entry(server, client_id="other")
    other.add_to_hass(hass)
    registry = ir.async_get(hass)
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"missing_scopes_{other.entry_id}",
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="missing_scopes",
    )
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert registry.async_get_issue(DOMAIN, f"missing_scopes_{entry.entry_id}") is not None

    assert (await hass.config_entries.async_remove(entry.entry_id))["require_restart"] is False

    assert registry.async_get_issue(DOMAIN, f"missing_scopes_{entry.entry_id}") is None
    assert registry.async_get_issue(DOMAIN, f"missing_scopes_{other.entry_id}") is not None


def retry_delay_logged(caplog: pytest.LogCaptureFixture) -> int:
    """The pause (s) the log announces before the next try of a refused request."""
    found = re.findall(r"trying again in (\d+) s", caplog.text)
    assert len(found) == 1
    return int(found[0])


async def test_refused_request_waits_long_before_retrying(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    setup_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = hub_of(setup_integration)

    auth_sandbox.end_streams(grpc.StatusCode.INVALID_ARGUMENT, "bad request")

    await wait_for(lambda: hub.state is StreamState.DOWN)
    await hass.async_block_till_done()
    assert not hub.connected
    assert hub.error is not None
    assert setup_integration.state is ConfigEntryState.LOADED
    assert "The event stream stopped: server refused the subscription (INVALID_ARGUMENT)" in (
        caplog.text
    )
    assert not reauth_flows(hass, setup_integration)
    # The client gave up (it does not retry on its own); the next try is 30-60 s away.
    assert hub.stream.status.state is ConnectionState.FAILED
    assert 30 <= retry_delay_logged(caplog) <= 60


async def test_refused_request_is_tried_again_much_later(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Never dead for good: a refused subscription comes back after a long pause."""
    await async_setup_entry_and_connect(hass, config_entry)
    hub = hub_of(config_entry)
    opened = auth_sandbox.stats["streams_opened"]

    auth_sandbox.end_streams(grpc.StatusCode.FAILED_PRECONDITION, "not now")

    await wait_for(lambda: hub.state is StreamState.DOWN)
    assert auth_sandbox.stats["streams_opened"] == opened
    assert 30 <= retry_delay_logged(caplog) <= 60
    # The pause is over: the stream comes back.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=61))
    await hass.async_block_till_done()
    await wait_for(lambda: hub.connected, within=30)
    assert auth_sandbox.stats["streams_opened"] == opened + 1
    assert await hass.config_entries.async_unload(config_entry.entry_id)


async def test_unload_during_the_long_pause_is_immediate(
    hass: HomeAssistant, auth_sandbox: SandboxServer, config_entry: MockConfigEntry
) -> None:
    await async_setup_entry_and_connect(hass, config_entry)
    hub = hub_of(config_entry)
    auth_sandbox.end_streams(grpc.StatusCode.FAILED_PRECONDITION, "not now")
    await wait_for(lambda: not hub.connected)
    async with asyncio.timeout(20):  # the pause is 30 s or more
        assert await hass.config_entries.async_unload(config_entry.entry_id)


async def test_a_routine_stream_end_is_not_shown_as_a_loss(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Streams end now and then; a reconnect within the grace keeps `connected` on."""
    change_settings(hass, disconnect_grace=15.0)
    await async_setup_entry_and_connect(hass, config_entry)
    hub = hub_of(config_entry)
    coordinator = coordinator_of(config_entry)
    changes: list[bool] = []

    @callback
    def record() -> None:
        if coordinator.stream_up != (changes[-1] if changes else True):
            changes.append(coordinator.stream_up)

    coordinator.listeners.async_add_stream_listener(record)
    caplog.set_level(logging.INFO, logger="custom_components.wgtwo")
    opened = auth_sandbox.stats["streams_opened"]

    auth_sandbox.end_streams(grpc.StatusCode.UNAVAILABLE, "routine")
    await wait_for(
        lambda: auth_sandbox.stats["streams_opened"] > opened and hub.state is StreamState.CONNECTED
    )
    # Back within the grace: when it runs out, nothing is shown.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=16))
    await hass.async_block_till_done()
    assert hub.connected
    assert changes == []
    assert "lost" not in caplog.text

    # A loss that lasts is shown once the grace has passed.
    await auth_sandbox.stop()
    await wait_for(lambda: hub.state is StreamState.RECONNECTING)
    assert hub.connected  # still within the grace
    assert changes == []
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=16))
    await hass.async_block_till_done()
    assert hub.state is StreamState.DOWN
    assert changes == [False]
    assert "Connection to the wgtwo event stream lost" in caplog.text
    assert await hass.config_entries.async_unload(config_entry.entry_id)


async def test_a_reload_is_covered_by_the_grace_but_a_lasting_loss_after_it_is_shown(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    change_settings(hass, disconnect_grace=15.0)
    await async_setup_entry_and_connect(hass, config_entry)
    connected = f"binary_sensor.{config_entry.title.replace(' ', '_')}_connected"
    assert hass.states.get(connected).state == STATE_ON  # type: ignore[union-attr]
    caplog.set_level(logging.INFO, logger="custom_components.wgtwo")

    # Unloaded and set up again, but the stream cannot get through this time.
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    auth_sandbox.set_stalled(True)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    hub = hub_of(config_entry)
    assert hub.state is StreamState.RECONNECTING
    assert hass.states.get(connected).state == STATE_ON  # type: ignore[union-attr]

    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=16))
    await hass.async_block_till_done()
    assert hub_of(config_entry).state is StreamState.DOWN
    assert hass.states.get(connected).state == STATE_OFF  # type: ignore[union-attr]
    assert "Connection to the wgtwo event stream lost" in caplog.text

    auth_sandbox.set_stalled(False)
    await wait_connected(hass, config_entry)
    assert hass.states.get(connected).state == STATE_ON  # type: ignore[union-attr]
    await async_unload_and_wait(hass, config_entry, auth_sandbox)


async def test_an_entry_of_the_previous_version_is_migrated_at_setup(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    """Home Assistant runs the migration before setup: the unique id takes the new form."""
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, unique_id=f"custom:{auth_sandbox.grpc_target.upper()}:{CLIENT_ID}"
    )
    assert entry.minor_version == 1
    await async_setup_entry_and_connect(hass, entry)
    assert entry.minor_version == 2
    assert entry.unique_id == unique_id_for(entry.data)
    await async_unload_and_wait(hass, entry, auth_sandbox)
