"""The Network sensor and the country from the network: read from the sandbox over loopback.

The reads' timing (at setup, after roaming and location events at most once a minute, every
30 minutes) runs on a frozen clock that starts at the real time, so gRPC's deadlines hold.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory, StepTickTimeFactory, TickingDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed_exact,
)

from custom_components.wgtwo.capabilities.network import Network
from custom_components.wgtwo.client import (
    Country,
    CountryChangeEvent,
    Locations,
    LocationUpdateEvent,
)
from custom_components.wgtwo.client.network import SCOPE_NETWORK_INFO
from custom_components.wgtwo.const import CONF_HOME_COUNTRY, EVENT_WGTWO
from custom_components.wgtwo.diagnostics import async_get_config_entry_diagnostics
from wgtwo_sandbox import SandboxServer

from .conftest import (
    async_setup_entry_and_connect,
    async_unload_and_wait,
    hub_of,
    publish_and_wait,
    wait_for,
)
from .wgtwo_events import ALICE, BOB, coordinator_of, entity_id, handle, sms

type Frozen = FrozenDateTimeFactory | StepTickTimeFactory | TickingDateTimeFactory


@pytest.fixture(autouse=True)
async def unload_at_teardown(
    hass: HomeAssistant, config_entry: MockConfigEntry, auth_sandbox: SandboxServer
) -> AsyncGenerator[None]:
    """Unload the entry and let its streams end before the sandbox stops."""
    yield
    await async_unload_and_wait(hass, config_entry, auth_sandbox)


def network_of(entry: MockConfigEntry) -> Network:
    return coordinator_of(entry).capabilities.network


def state_of(
    hass: HomeAssistant, entry: MockConfigEntry, platform: str, key: str, number: str = ALICE
) -> State:
    found = hass.states.get(entity_id(hass, entry, platform, number, key))
    assert found is not None
    return found


async def known(hass: HomeAssistant, entry: MockConfigEntry, *numbers: str) -> None:
    """Give the numbers their devices (as an event would) and let their reads finish."""
    for number in numbers:
        coordinator_of(entry).subscriber(number)
    await settle(hass, entry)


async def settle(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await hass.async_block_till_done()
    await network_of(entry).async_idle()
    await hass.async_block_till_done()


async def tick(hass: HomeAssistant, entry: MockConfigEntry, frozen: Frozen, seconds: float) -> None:
    """Move the frozen clock, run what became due and the reads it started."""
    frozen.tick(timedelta(seconds=seconds))
    async_fire_time_changed_exact(hass)
    await settle(hass, entry)


def moved(number: str, code: str, at: datetime, sequence: int = 1) -> CountryChangeEvent:
    """A roaming event of the number, to a country named by its code."""
    return CountryChangeEvent(
        sequence=sequence,
        timestamp=at,
        owner=number,
        number=number,
        previous=None,
        current=Country(code=code, name={"DE": "Germany", "NO": "Norway"}[code]),
    )


def located(number: str, at: datetime, sequence: int = 2) -> LocationUpdateEvent:
    """A location update of the number."""
    nodes = Locations(msc="4790000001", vlr="4790000001", sgsn=None, mme=None)
    return LocationUpdateEvent(
        sequence=sequence, timestamp=at, owner=number, number=number, previous=None, current=nodes
    )


async def test_the_network_and_the_country_of_subscribers_who_never_roamed(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="custom_components.wgtwo")
    now = dt_util.utcnow().timestamp()
    # Alice's phone is in Sweden; her watch, seen an hour earlier, at home in Norway.
    phone = auth_sandbox.network.attach(ALICE, "telia-se", "5G", seen=now - 60)
    watch = auth_sandbox.network.attach(ALICE, "telenor-no", "4G", seen=now - 3600)
    auth_sandbox.network.attach(BOB, "telenor-no", "4G", seen=now - 60)
    fired = async_capture_events(hass, EVENT_WGTWO)
    await async_setup_entry_and_connect(hass, config_entry)
    texts = [
        sms(owner=number, from_number=number, to_number=ALICE, direction="FROM_SUBSCRIBER")
        for number in (ALICE, BOB)
    ]
    await publish_and_wait(hass, auth_sandbox, config_entry, texts)
    await settle(hass, config_entry)

    network = state_of(hass, config_entry, "sensor", "network")
    assert network.state == "5g"
    assert network.attributes["mcc"] == "240"
    assert network.attributes["mnc"] == "01"
    assert network.attributes["tadig"] == "SWETR"
    assert network.attributes["country"] == "Sweden"
    assert network.attributes["country_code"] == "SE"
    assert network.attributes["mme"] == phone.nodes["mme"]
    assert network.attributes["msc"] == phone.nodes["msc"]
    assert network.attributes["sims"] == 2
    assert network.attributes["updated"] == datetime.fromtimestamp(now - 60, UTC).isoformat()
    # No roaming event ever came: the network's country says Alice roams, Bob is home.
    assert state_of(hass, config_entry, "binary_sensor", "roaming").state == STATE_ON
    country = state_of(hass, config_entry, "sensor", "roaming_country")
    assert country.state == "Sweden"
    assert country.attributes["country_code"] == "SE"
    assert state_of(hass, config_entry, "binary_sensor", "roaming", BOB).state == STATE_OFF
    assert state_of(hass, config_entry, "sensor", "roaming_country", BOB).state == "Norway"
    assert state_of(hass, config_entry, "sensor", "network", BOB).state == "4g"
    # The country came from a read, not from an event: none is fired for it.
    assert {event.data["type"] for event in fired} == {"sms_sent"}
    # The SIMs' ids are nowhere: not in the log, not in the diagnostics.
    diagnostics = await async_get_config_entry_diagnostics(hass, config_entry)
    for sim in (phone, watch):
        assert sim.imsi not in caplog.text
        assert sim.imsi not in str(diagnostics)
        assert sim.iccid not in str(diagnostics)
    assert ALICE not in str(diagnostics)
    assert diagnostics["network"]["granted"] is True


@pytest.mark.parametrize("entry_options_override", [{CONF_HOME_COUNTRY: "SE"}])
async def test_roaming_is_measured_against_the_home_country_option(
    hass: HomeAssistant, auth_sandbox: SandboxServer, config_entry: MockConfigEntry
) -> None:
    auth_sandbox.network.attach(ALICE, "telia-se", "4G")
    auth_sandbox.network.attach(BOB, "telenor-no", "4G")
    await async_setup_entry_and_connect(hass, config_entry)
    await known(hass, config_entry, ALICE, BOB)
    assert state_of(hass, config_entry, "binary_sensor", "roaming").state == STATE_OFF
    assert state_of(hass, config_entry, "binary_sensor", "roaming", BOB).state == STATE_ON


async def test_the_newer_report_of_the_country_wins(
    hass: HomeAssistant, auth_sandbox: SandboxServer, config_entry: MockConfigEntry
) -> None:
    start = dt_util.utcnow()
    auth_sandbox.network.attach(
        ALICE, "telia-se", "4G", seen=(start - timedelta(hours=2)).timestamp()
    )
    await async_setup_entry_and_connect(hass, config_entry)
    await known(hass, config_entry, ALICE)
    assert state_of(hass, config_entry, "sensor", "roaming_country").state == "Sweden"
    coordinator = coordinator_of(config_entry)
    # A roaming event newer than what the network last saw: it stands.
    await handle(coordinator, moved(ALICE, "DE", start - timedelta(hours=1)))
    await settle(hass, config_entry)
    assert state_of(hass, config_entry, "sensor", "roaming_country").state == "Germany"
    with freeze_time(start) as frozen:
        await tick(hass, config_entry, frozen, 61)  # the read the event asked for
        assert auth_sandbox.network.reads == 2
        assert state_of(hass, config_entry, "sensor", "roaming_country").state == "Germany"
        # The phone went to France, and the event of it never came: the next refresh tells.
        auth_sandbox.network.move(ALICE, country="FR")
        await tick(hass, config_entry, frozen, 30 * 60)
        assert auth_sandbox.network.reads == 3
        country = state_of(hass, config_entry, "sensor", "roaming_country")
        assert country.state == "France"
        assert country.attributes["previous_country"] == "Germany"
        assert state_of(hass, config_entry, "binary_sensor", "roaming").state == STATE_ON


async def test_reads_after_events_come_at_most_once_a_minute_and_every_30_minutes(
    hass: HomeAssistant, auth_sandbox: SandboxServer, config_entry: MockConfigEntry
) -> None:
    auth_sandbox.network.attach(ALICE, "telenor-no", "4G")
    await async_setup_entry_and_connect(hass, config_entry)
    with freeze_time(dt_util.utcnow()) as frozen:
        await known(hass, config_entry, ALICE)
        assert auth_sandbox.network.reads == 1
        coordinator = coordinator_of(config_entry)
        now = dt_util.utcnow()
        # Two events within the minute of that read: one read, once the minute is over.
        await handle(coordinator, located(ALICE, now, 1))
        await handle(coordinator, moved(ALICE, "NO", now, 2))
        await settle(hass, config_entry)
        assert auth_sandbox.network.reads == 1
        await tick(hass, config_entry, frozen, 59)
        assert auth_sandbox.network.reads == 1
        await tick(hass, config_entry, frozen, 2)
        assert auth_sandbox.network.reads == 2
        # The phone moved to 5G meanwhile: another event, read a minute after the last read.
        auth_sandbox.network.move(ALICE, generation="5G")
        await handle(coordinator, located(ALICE, dt_util.utcnow(), 3))
        await tick(hass, config_entry, frozen, 30)
        assert state_of(hass, config_entry, "sensor", "network").state == "4g"
        await tick(hass, config_entry, frozen, 31)
        assert auth_sandbox.network.reads == 3
        assert state_of(hass, config_entry, "sensor", "network").state == "5g"
        # Without events, every 30 minutes from the setup (2 minutes have passed).
        await tick(hass, config_entry, frozen, 27 * 60)
        assert auth_sandbox.network.reads == 3
        await tick(hass, config_entry, frozen, 2 * 60)
        assert auth_sandbox.network.reads == 4
        await tick(hass, config_entry, frozen, 30 * 60)
        assert auth_sandbox.network.reads == 5


async def test_a_reconnect_reads_nothing(
    hass: HomeAssistant, auth_sandbox: SandboxServer, config_entry: MockConfigEntry
) -> None:
    auth_sandbox.network.attach(ALICE, "telenor-no", "4G")
    auth_sandbox.network.attach(BOB, "telenor-no", "4G")
    await async_setup_entry_and_connect(hass, config_entry)
    await known(hass, config_entry, ALICE, BOB)
    assert auth_sandbox.network.reads == 2
    hub = hub_of(config_entry)
    first: int = hub.stats["reconnects"]

    def reconnected(times: int) -> Callable[[], bool]:
        return lambda: hub.stats["reconnects"] >= first + times and hub.connected

    for times in (1, 2, 3):
        auth_sandbox.end_streams()
        await wait_for(reconnected(times))
    await settle(hass, config_entry)
    assert auth_sandbox.network.reads == 2


async def test_setup_reads_every_known_subscriber_and_keeps_what_it_knew(
    hass: HomeAssistant, auth_sandbox: SandboxServer, config_entry: MockConfigEntry
) -> None:
    auth_sandbox.network.attach(ALICE, "telia-se", "5G")
    auth_sandbox.network.attach(BOB, "telenor-no", "3G")
    await async_setup_entry_and_connect(hass, config_entry)
    await known(hass, config_entry, ALICE, BOB)
    assert auth_sandbox.network.reads == 2
    await hass.config_entries.async_reload(config_entry.entry_id)
    await settle(hass, config_entry)
    assert auth_sandbox.network.reads == 4
    # The operator in trouble: what was read before stays, after a restart too.
    auth_sandbox.network.fail_with = grpc.StatusCode.UNAVAILABLE
    await hass.config_entries.async_reload(config_entry.entry_id)
    await settle(hass, config_entry)
    assert auth_sandbox.network.reads == 6
    assert state_of(hass, config_entry, "sensor", "network").state == "5g"
    assert state_of(hass, config_entry, "sensor", "network", BOB).state == "3g"
    assert state_of(hass, config_entry, "sensor", "roaming_country").state == "Sweden"
    diagnostics = network_of(config_entry).diagnostics()
    assert (diagnostics["failures"], diagnostics["last_error"]) == (2, "cannot_connect")
    # The next refresh reads again, and takes what changed.
    auth_sandbox.network.fail_with = None
    auth_sandbox.network.move(BOB, generation="4G")
    with freeze_time(dt_util.utcnow()) as frozen:
        await tick(hass, config_entry, frozen, 30 * 60)
    assert state_of(hass, config_entry, "sensor", "network", BOB).state == "4g"


async def test_without_the_scope_there_is_no_network_sensor(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth_sandbox.network.attach(ALICE, "telenor-no", "4G")
    await async_setup_entry_and_connect(hass, config_entry)
    await known(hass, config_entry, ALICE)
    assert state_of(hass, config_entry, "sensor", "network").state == "4g"
    # The product loses the scope; the entry is set up again.
    authority = auth_sandbox.authority
    authority.granted_scopes = authority.granted_scopes - {SCOPE_NETWORK_INFO}
    await hass.config_entries.async_reload(config_entry.entry_id)
    await settle(hass, config_entry)
    registry = er.async_get(hass)
    unique_id = f"{config_entry.entry_id}_{ALICE}_network"
    assert registry.async_get_entity_id("sensor", "wgtwo", unique_id) is None
    # The rest is there, and the country stays what was read.
    assert state_of(hass, config_entry, "sensor", "roaming_country").state == "Norway"
    assert auth_sandbox.network.reads == 1
    assert f"lacks the scope {SCOPE_NETWORK_INFO}" in caplog.text
    diagnostics = await async_get_config_entry_diagnostics(hass, config_entry)
    assert diagnostics["network"]["granted"] is False
    # A subscriber appearing now is not read either.
    await known(hass, config_entry, BOB)
    assert auth_sandbox.network.reads == 1


async def test_a_scope_lost_while_running_makes_the_sensor_unavailable_and_stops_the_reads(
    hass: HomeAssistant, auth_sandbox: SandboxServer, config_entry: MockConfigEntry
) -> None:
    auth_sandbox.network.attach(ALICE, "telenor-no", "4G")
    await async_setup_entry_and_connect(hass, config_entry)
    await known(hass, config_entry, ALICE)
    authority = auth_sandbox.authority
    authority.granted_scopes = authority.granted_scopes - {SCOPE_NETWORK_INFO}
    auth_sandbox.revoke_tokens()
    with freeze_time(dt_util.utcnow()) as frozen:
        await tick(hass, config_entry, frozen, 30 * 60)
        assert state_of(hass, config_entry, "sensor", "network").state == STATE_UNAVAILABLE
        diagnostics = network_of(config_entry).diagnostics()
        assert (diagnostics["granted"], diagnostics["last_error"]) == (False, "missing_scope")
        reads = auth_sandbox.network.reads
        await handle(coordinator_of(config_entry), located(ALICE, dt_util.utcnow()))
        await tick(hass, config_entry, frozen, 30 * 60)
        assert auth_sandbox.network.reads == reads
    # The roaming state the network gave stays.
    assert state_of(hass, config_entry, "binary_sensor", "roaming").state == STATE_OFF
