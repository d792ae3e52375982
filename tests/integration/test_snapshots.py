"""Every platform's entities and states, and the diagnostics, after a subscriber's day.

The day (``fixtures/subscriber_day.json``) is handed to the coordinator as typed events
under a frozen clock, so event entities and timestamps are the same in every run.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from unittest.mock import PropertyMock, patch

import pytest
from freezegun import freeze_time
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.wgtwo.const import CONF_PHONEBOOK, DOMAIN, PLATFORMS
from custom_components.wgtwo.diagnostics import async_get_config_entry_diagnostics
from custom_components.wgtwo.storage import STORAGE_VERSION
from wgtwo_sandbox import SandboxServer

from .conftest import (
    WRITTEN_BY_PINNED_PLUGIN,
    async_setup_entry_and_connect,
    async_unload_and_wait,
    entry_options,
    make_entry,
    wait_for,
)
from .events import typed_events
from .wgtwo_events import ALICE, BOB, CAROL, coordinator_of, handle

ENTRY_ID = "01SNAPSHOTENTRY0000000000"
PHONE_SEEN = datetime(2026, 11, 27, 10, 0, 5, tzinfo=UTC)  # the day's location update
WATCH_SEEN = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
# The entry's secret for the keys in media ids, fixed so that the ids are the same each run.
ID_SECRET = "5e" * 32


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create the entities that are disabled by default enabled, so they are snapshotted."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
async def day_entry(
    hass: HomeAssistant, auth_sandbox: SandboxServer, hass_storage: dict[str, Any]
) -> AsyncGenerator[MockConfigEntry]:
    """An entry with a phonebook, connected to the sandbox (unloaded at teardown)."""
    key = f"{DOMAIN}.{ENTRY_ID}.facts"
    hass_storage[key] = {
        "version": STORAGE_VERSION,
        "minor_version": 1,
        "key": key,
        "data": {"id_secret": ID_SECRET, "subscribers": {}},
    }
    phonebook = {ALICE: "Alice", BOB: "Bob", CAROL: "Carol"}
    # Alice's phone is in Sweden since the day's roaming event; her watch stayed home.
    auth_sandbox.network.attach(ALICE, "telia-se", "4G", seen=PHONE_SEEN.timestamp())
    auth_sandbox.network.attach(ALICE, "telenor-no", "3G", seen=WATCH_SEEN.timestamp())
    entry = make_entry(
        auth_sandbox, options=entry_options(**{CONF_PHONEBOOK: phonebook}), entry_id=ENTRY_ID
    )
    entry.add_to_hass(hass)
    yield entry
    await async_unload_and_wait(hass, entry, auth_sandbox)


@asynccontextmanager
async def a_day_lived(hass: HomeAssistant, entry: MockConfigEntry) -> AsyncIterator[None]:
    """Connect, then let the fixture's events happen at their own times, and stay there.

    The clock is frozen only once connected (the stream's own timing stays real) and is
    released before the entry unloads. Alice's device is there before the day, and her network
    read (gRPC's deadlines need the real clock); the day's roaming and location events then
    ask for another read a minute after that one, a minute that does not pass.
    """
    await async_setup_entry_and_connect(hass, entry)
    coordinator = coordinator_of(entry)
    coordinator.subscriber(ALICE)
    await coordinator.capabilities.network.async_idle()
    events = typed_events("subscriber_day")
    with freeze_time(events[0].timestamp) as frozen:
        for event in events:
            frozen.move_to(event.timestamp)
            await handle(coordinator, event)
        await hass.async_block_till_done()
        yield


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "quick_missed_calls")
@pytest.mark.parametrize("platform", PLATFORMS)
# Entity states and registry entries are written as the pinned test plugin's Home Assistant
# writes them; other releases name attribute keys and registry fields differently.
@pytest.mark.skipif(
    not WRITTEN_BY_PINNED_PLUGIN, reason="snapshots of entities are in the pinned release's form"
)
async def test_platform_snapshot(
    hass: HomeAssistant,
    day_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    with patch("custom_components.wgtwo.PLATFORMS", [platform]):
        async with a_day_lived(hass, day_entry):
            await snapshot_platform(hass, entity_registry, snapshot, day_entry.entry_id)


@pytest.mark.usefixtures("quick_missed_calls")
async def test_diagnostics_snapshot(
    hass: HomeAssistant,
    day_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    async with a_day_lived(hass, day_entry):
        runtime = day_entry.runtime_data
        consent = runtime.coordinator.capabilities.consent
        # The consents are listed, and the consent stream opened, in the background.
        await wait_for(
            lambda: (
                consent.listing.listed_at is not None
                and all(s.stream.status.state.value == "connected" for s in runtime.hub.v1_streams)
            )
        )
        diagnostics = await async_get_config_entry_diagnostics(hass, day_entry)
    # The sandbox listens on free ports; when the stream last saw an event is wall time.
    assert diagnostics == snapshot(
        exclude=props("endpoint", "host", "token_url", "last_event_time", "reconnects")
    )
