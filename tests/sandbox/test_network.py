"""NetworkInfoService fake: each subscriber's SIMs, answered over gRPC and moved by control."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import grpc
import pytest

from custom_components.wgtwo.client.proto.wgtwo.common.v0 import identifiers_pb2, phonenumber_pb2
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from custom_components.wgtwo.client.proto.wgtwo.subscription.v0 import (
    network_info_pb2,
    network_info_pb2_grpc,
)
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.network_service import NetworkRegistry
from wgtwo_sandbox.scenario import ALICE, BOB, DAVE, play_demo, seed_demo_network

from .conftest import Client, eventually, read_n

Connect = Callable[..., Client]
NUMBER = "+4791234567"
LOCATION = events_pb2.EventType.LOCATION_UPDATE_EVENT
COUNTRY = events_pb2.EventType.COUNTRY_CHANGE_EVENT


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def ask(
    server: SandboxServer, number: str, metadata: Any = None
) -> network_info_pb2.GetNetworkInfoForSubscriberResponse:
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        stub = network_info_pb2_grpc.NetworkInfoServiceStub(channel)
        request = network_info_pb2.GetNetworkInfoForSubscriberRequest(
            phone_number=phonenumber_pb2.PhoneNumber(e164=number)
        )
        response: network_info_pb2.GetNetworkInfoForSubscriberResponse = (
            await stub.GetNetworkInfoForSubscriber(request, metadata=metadata, timeout=10)
        )
        return response


async def test_each_sim_is_answered_with_its_network(sandbox: SandboxServer) -> None:
    sandbox.network.attach(NUMBER, "telenor-no", "5G", seen=1_700_000_000)
    sandbox.network.attach(NUMBER, "telia-se", "3G", seen=1_700_000_100)
    phone, watch = (await ask(sandbox, NUMBER)).network_infos
    assert (phone.network_identity.mcc, phone.network_identity.mnc) == ("242", "01")
    assert phone.network_generation == identifiers_pb2.NETWORK_GENERATION_5G
    assert phone.tadig.value == "NORTM"
    assert phone.mme.value.endswith(".mnc001.mcc242.3gppnetwork.org")
    assert phone.msc.value.startswith("4790")
    assert phone.vlr.value
    assert phone.sgsn.value
    assert phone.timestamp.seconds == 1_700_000_000
    assert (watch.network_identity.mcc, watch.network_identity.mnc) == ("240", "01")
    assert watch.network_generation == identifiers_pb2.NETWORK_GENERATION_3G
    assert watch.mme.value == ""  # no MME on 3G
    # Two SIMs of the home operator: their own IMSI and ICCID each.
    assert phone.imsi.value.startswith("24201")
    assert watch.imsi.value.startswith("24201")
    assert phone.imsi.value != watch.imsi.value
    assert phone.iccid.value != watch.iccid.value
    assert sandbox.network.current(NUMBER) is sandbox.network.sims[NUMBER][1]
    assert (await ask(sandbox, "+4700000000")).network_infos == []
    assert sandbox.stats["network"] == {"subscribers": 1, "sims": 2, "reads": 2}


async def test_reading_needs_the_scope_and_an_e164_number(make_sandbox: MakeSandbox) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID, client_secret=TEST_CLIENT_SECRET, granted_scopes={"x.y"}
    )
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await ask(server, NUMBER)
    assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED
    token, _ = server.authority.issue(
        TEST_CLIENT_ID, TEST_CLIENT_SECRET, "client_credentials", "x.y"
    )
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await ask(server, NUMBER, (("authorization", f"Bearer {token}"),))
    assert missing.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "subscription.network_information:read" in (missing.value.details() or "")
    sandbox = await make_sandbox()
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await ask(sandbox, "91234567")
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    sandbox.network.fail_with = grpc.StatusCode.UNAVAILABLE
    with pytest.raises(grpc.aio.AioRpcError) as failing:
        await ask(sandbox, NUMBER)
    assert failing.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_moving_abroad_sends_the_country_change_and_the_location_update(
    sandbox: SandboxServer, session: aiohttp.ClientSession, connect: Connect
) -> None:
    sandbox.network.attach(NUMBER, "telenor-no", "4G")
    before = sandbox.network.sims[NUMBER][0].nodes
    stream = await connect(sandbox).subscribe(type=[COUNTRY, LOCATION])
    url = f"{sandbox.http_url}/control/network"
    async with session.post(url, json={"number": NUMBER, "country": "se"}) as response:
        assert response.status == 200
        body = await response.json()
    assert body == {"sequences": [1, 2], "network": "telia-se", "country": "SE", "generation": "4G"}
    change, location = (item.event for item in await read_n(stream, 2))
    assert change.owner.phone_number.e164 == NUMBER
    assert change.country_change_event.msisdn.e164 == NUMBER
    assert (
        change.country_change_event.previous.code,
        change.country_change_event.previous.name,
    ) == (
        "NO",
        "Norway",
    )
    assert (change.country_change_event.current.code, change.country_change_event.current.name) == (
        "SE",
        "Sweden",
    )
    update = location.location_update_event
    assert update.number.e164 == NUMBER
    assert update.previous.mme.value == before["mme"]
    assert update.current.mme.value.endswith(".mnc001.mcc240.3gppnetwork.org")
    [info] = (await ask(sandbox, NUMBER)).network_infos
    assert info.network_identity.mcc == "240"
    assert info.mme.value == update.current.mme.value

    # Within the same country: other nodes, no country change.
    async with session.post(url, json={"number": NUMBER, "generation": "5G"}) as response:
        assert (await response.json())["sequences"] == [3]
    [only] = await read_n(stream, 1)
    assert only.event.HasField("location_update_event")
    [info] = (await ask(sandbox, NUMBER)).network_infos
    assert (info.network_identity.mcc, info.network_generation) == (
        "240",
        identifiers_pb2.NETWORK_GENERATION_5G,
    )


async def test_a_number_without_a_sim_gets_one_on_its_first_move(sandbox: SandboxServer) -> None:
    sandbox.move_subscriber(NUMBER, network="vodafone-de", generation="3G")
    change, location = (
        events_pb2.Event.FromString(stored.body) for stored in sandbox.broker.history
    )
    assert not change.country_change_event.HasField("previous")
    assert change.country_change_event.current.code == "DE"
    assert not location.location_update_event.HasField("previous")
    assert location.location_update_event.current.mme.value == ""  # 3G
    [info] = (await ask(sandbox, NUMBER)).network_infos
    assert info.network_identity.mcc == "262"


async def test_a_second_sim_moves_on_its_own(sandbox: SandboxServer) -> None:
    registry = sandbox.network
    registry.attach(NUMBER, seen=100.0)
    registry.attach(NUMBER, seen=200.0)
    sandbox.move_subscriber(NUMBER, country="JP", sim=1)
    phone, watch = registry.sims[NUMBER]
    assert (phone.network.country_code, watch.network.country_code) == ("NO", "JP")
    assert registry.current(NUMBER) is watch


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "expected"),
        ({"country": "SE"}, "expected"),
        ({"number": NUMBER, "country": 5}, "country must be a string"),
        ({"number": NUMBER, "sim": True}, "sim must be a number"),
        ({"number": NUMBER, "country": "XX"}, "no network in 'XX'"),
        ({"number": NUMBER, "network": "nope"}, "unknown network 'nope'"),
        ({"number": NUMBER, "network": "telia-se", "country": "SE"}, "not both"),
        ({"number": NUMBER, "generation": "6G"}, "generation must be one of"),
        ({"number": BOB, "sim": 2}, "sim must be 0 to 1"),
    ],
)
async def test_bad_moves_are_refused_and_change_nothing(
    sandbox: SandboxServer, session: aiohttp.ClientSession, body: Any, message: str
) -> None:
    seed_demo_network(sandbox.network)
    before = {
        number: [sim.network for sim in sims] for number, sims in sandbox.network.sims.items()
    }
    async with session.post(f"{sandbox.http_url}/control/network", json=body) as response:
        assert response.status == 400
        assert message in (await response.json())["error"]
    after = {number: [sim.network for sim in sims] for number, sims in sandbox.network.sims.items()}
    assert after == before
    assert sandbox.stats["published"] == 0


def test_the_demo_subscribers_start_at_home_but_dave() -> None:
    registry = NetworkRegistry(clock=lambda: 1000.0)
    seed_demo_network(registry)
    seed_demo_network(registry)  # once only
    assert [sim.generation for sim in registry.sims[ALICE]] == ["4G"]
    assert [sim.generation for sim in registry.sims[BOB]] == ["5G", "4G"]
    assert {sim.network.name for sim in registry.sims[ALICE] + registry.sims[BOB]} == {"telenor-no"}
    # Dave, who consents but never calls, is seen abroad from the start.
    assert [(sim.network.name, sim.generation) for sim in registry.sims[DAVE]] == [
        ("telia-se", "3G")
    ]
    with pytest.raises(ValueError, match="generation"):
        registry.attach(ALICE, generation="1G")


async def test_the_demo_attaches_its_subscribers_before_its_first_event(
    sandbox: SandboxServer,
) -> None:
    task = asyncio.create_task(play_demo(sandbox, 60.0, seed=1))
    try:
        await eventually(lambda: sandbox.stats["published"] > 0, 5)
        assert set(sandbox.network.sims) == {ALICE, BOB, DAVE}
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
