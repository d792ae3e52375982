"""Fixtures for Home Assistant tests that run the integration against a local sandbox.

``config_entry`` is an entry configured for the ``auth_sandbox`` (custom environment,
plaintext loopback, client credentials); ``setup_integration`` adds it, sets it up and
waits until the event stream is connected. ``publish_and_wait`` publishes events and
returns once the integration has handled them.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.wgtwo.client import ConnectionState
from custom_components.wgtwo.const import (
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_ENVIRONMENT,
    CONF_EVENT_TYPES,
    CONF_HOST,
    CONF_PHONEBOOK,
    CONF_PLAINTEXT,
    CONF_SHARE_SMS_TEXT,
    CONF_TOKEN_URL,
    DOMAIN,
    ENV_CUSTOM,
)
from custom_components.wgtwo.hub import StreamState, WgtwoHub
from custom_components.wgtwo.runtime import WgtwoConfigEntry
from custom_components.wgtwo.settings import WgtwoSettings, async_set_settings, get_settings
from wgtwo_sandbox import SandboxServer

CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"
ALL_EVENT_TYPES = [
    "voice",
    "voicemail",
    "sms",
    "sms_delivery_report",
    "roaming",
    "location",
    "handset",
]

# Short timings so reconnects and failed checks take a fraction of a second.
FAST_SETTINGS = WgtwoSettings(
    backoff_initial=0.05,
    backoff_max=0.3,
    ack_timeout=2.0,
    stop_timeout=2.0,
    disconnect_grace=0.0,
    check_timeout=1.5,
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/wgtwo."""


@pytest.fixture(autouse=True)
def fast_settings(hass: HomeAssistant) -> None:
    """Shorten backoffs and the config flow's connection check."""
    async_set_settings(hass, FAST_SETTINGS)


@pytest.fixture(autouse=True)
async def settle_before_stop(hass: HomeAssistant) -> AsyncGenerator[None]:
    """Let what a test scheduled last (a reload after saving options) finish before the stop.

    Otherwise an entry may be set up while Home Assistant stops, and its stream outlives it.
    """
    yield
    await hass.async_block_till_done()


def change_settings(hass: HomeAssistant, **changes: Any) -> WgtwoSettings:
    """Replace some settings for entries set up (and flows started) from now on."""
    settings = replace(get_settings(hass), **changes)
    async_set_settings(hass, settings)
    return settings


@pytest.fixture
def quick_missed_calls(hass: HomeAssistant, fast_settings: None) -> None:
    """Decide missed calls 50 ms after the call ended instead of 2 s."""
    change_settings(hass, missed_call_settle=0.05)


def entry_data_for(
    server: SandboxServer,
    *,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
) -> dict[str, Any]:
    """Config entry data for a custom environment pointing at ``server``."""
    return {
        CONF_ENVIRONMENT: ENV_CUSTOM,
        CONF_HOST: server.grpc_target,
        CONF_PLAINTEXT: True,
        CONF_TOKEN_URL: f"{server.http_url}/oauth2/token",
        CONF_CLIENT_ID: client_id,
        CONF_CLIENT_SECRET: client_secret,
    }


def entry_options(**overrides: Any) -> dict[str, Any]:
    """Entry options with every event type on (override any key)."""
    options: dict[str, Any] = {
        CONF_EVENT_TYPES: list(ALL_EVENT_TYPES),
        CONF_PHONEBOOK: {},
        CONF_SHARE_SMS_TEXT: False,
    }
    options.update(overrides)
    return options


def make_entry(
    server: SandboxServer,
    *,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    options: dict[str, Any] | None = None,
    entry_id: str | None = None,
) -> MockConfigEntry:
    """A config entry (not yet added to hass) for ``server``."""
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=entry_id,
        title="wgtwo sandbox",
        unique_id=f"{ENV_CUSTOM}:{server.grpc_target}:{client_id}",
        data=entry_data_for(server, client_id=client_id, client_secret=client_secret),
        options=options if options is not None else entry_options(),
    )


@pytest.fixture
def entry_options_override() -> dict[str, Any]:
    """Override in a test module to change the ``config_entry`` options."""
    return {}


@pytest.fixture
def config_entry(
    hass: HomeAssistant, auth_sandbox: SandboxServer, entry_options_override: dict[str, Any]
) -> MockConfigEntry:
    """An entry for the auth sandbox, added to hass but not set up."""
    entry = make_entry(auth_sandbox, options=entry_options(**entry_options_override))
    entry.add_to_hass(hass)
    return entry


async def wait_for(
    condition: Callable[[], bool], within: float = 30.0, interval: float = 0.01
) -> None:
    """Poll ``condition`` until it holds; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within} s")
        await asyncio.sleep(interval)


def hub_of(entry: MockConfigEntry) -> WgtwoHub:
    """The hub of a loaded entry."""
    typed: WgtwoConfigEntry = entry
    return typed.runtime_data.hub


async def wait_connected(hass: HomeAssistant, entry: MockConfigEntry, within: float = 30.0) -> None:
    """Wait until the entry's event stream is connected (not only counted up, as after a reload)."""
    await wait_for(lambda: hub_of(entry).state is StreamState.CONNECTED, within)
    await hass.async_block_till_done()


async def async_setup_entry_and_connect(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set up ``entry`` and wait until its stream is connected."""
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await wait_connected(hass, entry)


async def async_unload_and_wait(
    hass: HomeAssistant, entry: MockConfigEntry, server: SandboxServer | None = None
) -> None:
    """Unload ``entry`` once connected and wait until ``server`` saw its stream end.

    Unloading mid-connect would leave a connection attempt in flight that reaches the
    sandbox while it stops; waiting both ways keeps the sandbox's shutdown quiet.
    """
    if entry.state is ConfigEntryState.LOADED:
        hub = hub_of(entry)
        if server is not None and hub.stream.status.state != ConnectionState.FAILED:
            # A test may have left the stream down on purpose: wait briefly, don't fail.
            for _ in range(200):
                if hub.connected:
                    break
                await asyncio.sleep(0.01)
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    if server is not None:
        await wait_for(lambda: server.stats["open_streams"] == 0)


@pytest.fixture
async def setup_integration(
    hass: HomeAssistant, config_entry: MockConfigEntry, auth_sandbox: SandboxServer
) -> AsyncGenerator[MockConfigEntry]:
    """The ``config_entry``, set up and connected; unloaded at teardown."""
    await async_setup_entry_and_connect(hass, config_entry)
    yield config_entry
    await async_unload_and_wait(hass, config_entry, auth_sandbox)


async def publish_and_wait(
    hass: HomeAssistant,
    server: SandboxServer,
    entry: MockConfigEntry,
    events: Iterable[Any],
    *,
    expect: int | None = None,
    within: float = 30.0,
) -> list[int]:
    """Publish events and wait until the integration has handled them.

    ``events`` are ``events_pb2.Event`` objects or protobuf-JSON dicts
    (``{"event": {...}}``). ``expect`` is how many handled events to wait for (default:
    all published; use fewer when some are not subscribed to).
    """
    items = list(events)
    hub = hub_of(entry)
    before = hub.events_handled
    sequences = await server.publish(items)
    wanted = before + (len(items) if expect is None else expect)
    await wait_for(lambda: hub.events_handled >= wanted, within)
    await hass.async_block_till_done()
    return sequences


def _pinned_plugin() -> str | None:
    pins = (Path(__file__).parents[2] / "requirements_test.txt").read_text()
    pinned = re.search(r"^pytest-homeassistant-custom-component==(\S+)$", pins, re.MULTILINE)
    return pinned.group(1) if pinned else None


# Whether this run is on the Home Assistant release the suite pins (scripts/test), not on
# another one (scripts/test --ha VERSION).
WRITTEN_BY_PINNED_PLUGIN = (
    metadata.version("pytest-homeassistant-custom-component") == _pinned_plugin()
)


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots in Home Assistant's form (registry ids and state times left out)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)
