"""The HTTP control endpoints of consents and the v1 streams, read back over gRPC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import pytest

from custom_components.wgtwo.client.proto.wgtwo.consents.v1 import (
    consent_events_pb2,
    consent_events_pb2_grpc,
)
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from custom_components.wgtwo.client.proto.wgtwo.events.v1 import stream_pb2
from custom_components.wgtwo.client.proto.wgtwo.subscription.v1 import (
    subscription_events_pb2,
    subscription_events_pb2_grpc,
)
from wgtwo_sandbox import SandboxServer

from .conftest import eventually

ALICE = "+4791234567"
VOICE = "events.voice.subscribe"
ROAMING = "events.roaming.subscribe"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def channel(sandbox: SandboxServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(sandbox.grpc_target) as channel:
        yield channel


async def post(session: aiohttp.ClientSession, url: str, body: Any = None) -> tuple[int, Any]:
    async with session.post(url, json=body) as response:
        return response.status, await response.json()


def config(queue: str) -> stream_pb2.StreamConfiguration:
    configuration = stream_pb2.StreamConfiguration(max_in_flight=10)
    configuration.durable_queue.custom_name = queue
    configuration.start_at_oldest_possible.SetInParent()
    return configuration


async def read(call: Any) -> Any:
    async with asyncio.timeout(30):
        return await call.read()


async def test_consent_controls_change_the_list_and_emit_the_events(
    sandbox: SandboxServer, session: aiohttp.ClientSession, channel: grpc.aio.Channel
) -> None:
    base = f"{sandbox.http_url}/control/consents"
    added = await post(session, f"{base}/add", {"number": ALICE, "scopes": [VOICE, ROAMING]})
    assert added == (200, {"ok": True, "consents": 1})
    updated = await post(session, f"{base}/update", {"number": ALICE, "scopes": [VOICE]})
    assert updated == (200, {"ok": True, "consents": 1})
    assert [(c.number, c.scopes) for c in sandbox.consents.consents] == [(ALICE, [VOICE])]
    assert await post(session, f"{base}/revoke", {"number": ALICE}) == (
        200,
        {"ok": True, "consents": 0},
    )
    # The consent change stream tells all three, in order; the revocation also on v0.
    stub = consent_events_pb2_grpc.ConsentEventServiceStub(channel)
    call = stub.StreamConsentChangeEvents(
        consent_events_pb2.StreamConsentChangeEventsRequest(stream_configuration=config("q"))
    )
    changes = [(await read(call)).consent_change_event for _ in range(3)]
    assert [c.WhichOneof("type") for c in changes] == ["added", "updated", "revoked"]
    assert [c.number.e164 for c in changes] == [ALICE] * 3
    assert list(changes[0].added.scopes) == [ROAMING, VOICE]
    assert list(changes[1].updated.scopes) == [VOICE]
    call.cancel()
    [stored] = sandbox.broker.history
    assert events_pb2.Event.FromString(stored.body).consent_revoke_event.msisdn.e164 == ALICE


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("update", {"number": ALICE, "scopes": [VOICE]}, 404),
        ("revoke", {"number": ALICE}, 404),
        ("delete", {"number": ALICE}, 400),
        ("add", {"number": "4791234567", "scopes": []}, 400),
        ("add", {"number": ALICE, "scopes": "events.voice.subscribe"}, 400),
        ("add", [ALICE], 400),
    ],
)
async def test_consent_controls_refuse_what_they_cannot_do(
    sandbox: SandboxServer,
    session: aiohttp.ClientSession,
    path: str,
    body: Any,
    status: int,
) -> None:
    answer = await post(session, f"{sandbox.http_url}/control/consents/{path}", body)
    assert answer[0] == status
    assert answer[1]["error"]
    assert sandbox.consents.consents == []
    assert sandbox.consents.topic.events == []


async def test_subscription_event_control_publishes_on_its_stream(
    sandbox: SandboxServer, session: aiohttp.ClientSession, channel: grpc.aio.Channel
) -> None:
    url = f"{sandbox.http_url}/control/subscription-event"
    event = {"number": {"e164": ALICE}, "current": {"code": "SE", "name": "Sweden"}}
    assert await post(session, url, {"kind": "country_change", "event": event}) == (
        200,
        {"id": 1},
    )
    stub = subscription_events_pb2_grpc.SubscriptionEventServiceStub(channel)
    call = stub.StreamCountryChangeEvents(
        subscription_events_pb2.StreamCountryChangeEventsRequest(stream_configuration=config("q"))
    )
    response = await read(call)
    assert response.country_change_event.number.e164 == ALICE
    assert response.country_change_event.current.name == "Sweden"
    assert response.metadata.ack_info.value
    call.cancel()
    # Nothing reached the other streams.
    assert sandbox.subscription_events.topics["handset_change"].events == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "weather", "event": {}}, "unknown kind 'weather'"),
        ({"kind": "country_change", "event": {"nope": 1}}, "not a CountryChangeEvent"),
        ({"kind": "country_change"}, '{"kind": "country_change", "event"'),
        (["country_change"], '{"kind": "country_change", "event"'),
    ],
)
async def test_subscription_event_control_refuses_bad_bodies(
    sandbox: SandboxServer, session: aiohttp.ClientSession, body: Any, message: str
) -> None:
    status, answer = await post(session, f"{sandbox.http_url}/control/subscription-event", body)
    assert status == 400
    assert message in answer["error"]
    assert all(t.events == [] for t in sandbox.subscription_events.topics.values())


async def test_end_v1_streams_over_http(
    sandbox: SandboxServer, session: aiohttp.ClientSession, channel: grpc.aio.Channel
) -> None:
    url = f"{sandbox.http_url}/control/end-v1-streams"
    consents = consent_events_pb2_grpc.ConsentEventServiceStub(channel)
    facts = subscription_events_pb2_grpc.SubscriptionEventServiceStub(channel)

    def open_both() -> tuple[Any, Any]:
        return (
            consents.StreamConsentChangeEvents(
                consent_events_pb2.StreamConsentChangeEventsRequest(
                    stream_configuration=config("c")
                )
            ),
            facts.StreamHandsetChangeEvents(
                subscription_events_pb2.StreamHandsetChangeEventsRequest(
                    stream_configuration=config("h")
                )
            ),
        )

    async def opened(count: int) -> None:
        def open_streams() -> int:
            stats = sandbox.stats
            facts = stats["subscription_events"].values()
            return int(stats["consents"]["stream"]["open_streams"]) + sum(
                int(t["open_streams"]) for t in facts
            )

        await eventually(lambda: open_streams() == count)

    calls = open_both()
    await opened(2)
    # No body: OK, as the operator ends a stream after its hour.
    async with session.post(url) as response:
        assert (response.status, await response.json()) == (200, {"ended": 2})
    for call in calls:
        assert await read(call) is grpc.aio.EOF
        assert await call.code() == grpc.StatusCode.OK
    calls = open_both()
    await opened(2)
    assert await post(session, url, {"code": "unavailable"}) == (200, {"ended": 2})
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await read(call)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    await opened(0)
    assert (await post(session, url, {"code": "NOPE"}))[0] == 400
    assert await post(session, url, {}) == (200, {"ended": 0})
