"""Delivery semantics: durable resume, queue groups, manual ack, flow control, ending streams."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

import grpc
import pytest
from google.protobuf.empty_pb2 import Empty

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from tests.sandbox_fixtures import MakeSandbox
from wgtwo_sandbox import SandboxServer

from .conftest import Client, eventually, next_item, nothing_arrives, read, read_n, voice

Connect = Callable[..., Client]
MANUAL = {"enable": True, "timeout": {"nanos": 300_000_000}}


def ids(messages: Sequence[events_pb2.SubscribeEventsResponse]) -> list[str]:
    return [m.event.voice_event.call_id for m in messages]


async def test_durable_resumes_where_it_left_off(sandbox: SandboxServer, connect: Connect) -> None:
    request = {"client_id": "c", "durable_name": "d", "manual_ack": MANUAL}
    first = connect(sandbox)
    call = await first.subscribe(**request)
    await sandbox.publish([voice("1"), voice("2")])
    one, _ = await read_n(call, 2)
    await first.ack(one)  # "2" stays unacked
    call.cancel()
    await eventually(lambda: sandbox.stats["open_streams"] == 0)
    await sandbox.publish([voice("3")])  # while nobody is connected

    second = connect(sandbox)
    resumed = await second.subscribe(**request, start_at_oldest_possible=Empty())
    messages = await read_n(resumed, 2)
    assert ids(messages) == ["2", "3"]
    assert messages[0].event.metadata.is_redelivered
    assert not messages[1].event.metadata.is_redelivered
    for message in messages:
        await second.ack(message)
    assert await nothing_arrives(resumed, 0.4)  # nothing twice, even after the ack timeout


async def test_plain_subscription_forgets_its_position(
    sandbox: SandboxServer, connect: Connect
) -> None:
    client = connect(sandbox)
    call = await client.subscribe(client_id="c")
    await sandbox.publish([voice("1")])
    await read(call)
    call.cancel()
    await eventually(lambda: sandbox.stats["subscriptions"] == [])
    await sandbox.publish([voice("2")])
    again = await client.subscribe(client_id="c")
    await sandbox.publish([voice("3")])
    assert ids([await read(again)]) == ["3"]


async def test_durable_expires_after_the_last_client_left(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    server = await make_sandbox(durable_expiry_seconds=0.2)
    client = connect(server)
    call = await client.subscribe(client_id="c", durable_name="d")
    await server.publish([voice("1")])
    await read(call)
    call.cancel()
    await eventually(lambda: server.stats["subscriptions"] == [])
    await server.publish([voice("2")])
    fresh = await client.subscribe(client_id="c", durable_name="d")
    await server.publish([voice("3")])
    assert ids([await read(fresh)]) == ["3"]


async def test_queue_members_share_events_disjointly(
    sandbox: SandboxServer, connect: Connect
) -> None:
    client = connect(sandbox)
    long_ack = {"enable": True, "timeout": {"seconds": 30}}
    request = {"client_id": "c", "queue_name": "q", "manual_ack": long_ack, "max_in_flight": 2}
    members = [await client.subscribe(**request) for _ in range(2)]
    await sandbox.publish([voice(str(i)) for i in range(10)])
    seen: list[list[str]] = [[], []]

    async def drain(index: int) -> None:
        with contextlib.suppress(TimeoutError):
            while True:
                message = await read(members[index], 0.5)
                seen[index].append(message.event.voice_event.call_id)
                await client.ack(message)

    await asyncio.gather(drain(0), drain(1))
    assert seen[0]
    assert seen[1]
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1], key=int) == [str(i) for i in range(10)]
    assert sandbox.stats["redeliveries"] == 0


async def test_queue_member_leaving_hands_its_unacked_events_to_the_others(
    sandbox: SandboxServer, connect: Connect
) -> None:
    client = connect(sandbox)
    request = {"client_id": "c", "queue_name": "q", "durable_name": "d", "manual_ack": MANUAL}
    leaving = await client.subscribe(**request, max_in_flight=1)
    await sandbox.publish([voice("1")])
    assert ids([await read(leaving)]) == ["1"]
    staying = await client.subscribe(**request)
    leaving.cancel()
    message = await read(staying)
    assert ids([message]) == ["1"]
    assert message.event.metadata.is_redelivered


async def test_unacked_event_is_redelivered_after_the_timeout(
    sandbox: SandboxServer, connect: Connect
) -> None:
    client = connect(sandbox)
    call = await client.subscribe(manual_ack=MANUAL)
    await sandbox.publish([voice("1")])
    first = await read(call)
    assert not first.event.metadata.is_redelivered
    again = await read(call, 2.0)
    assert again.event.metadata.sequence == first.event.metadata.sequence
    assert again.event.metadata.is_redelivered
    await client.ack(again)
    await client.ack(again)  # acks are idempotent
    assert await nothing_arrives(call, 0.5)
    stats = sandbox.stats
    assert stats["redeliveries"] == 1
    assert stats["acks"] == 1
    assert stats["ack_timeouts"] == 1


async def test_late_ack_of_a_timed_out_event_stops_its_redelivery(
    sandbox: SandboxServer, connect: Connect
) -> None:
    client = connect(sandbox)
    call = await client.subscribe(manual_ack=MANUAL, max_in_flight=1)
    await sandbox.publish([voice("1")])
    first = await read(call)
    await eventually(lambda: sandbox.stats["ack_timeouts"] == 1)
    # The redelivery is due but not yet read from the wire... ack the original instead.
    await client.ack(first)
    await sandbox.publish([voice("2")])
    rest = [await read(call)]
    if rest[0].event.metadata.is_redelivered:  # it may already have been written
        await client.ack(rest[0])
        rest.append(await read(call))
    assert ids(rest)[-1] == "2"


async def test_max_in_flight_is_respected(sandbox: SandboxServer, connect: Connect) -> None:
    client = connect(sandbox)
    long_ack = {"enable": True, "timeout": {"seconds": 30}}
    call = await client.subscribe(manual_ack=long_ack, max_in_flight=3)
    await sandbox.publish([voice(str(i)) for i in range(10)])
    received = await read_n(call, 3)
    assert await nothing_arrives(call, 0.2)
    assert sandbox.stats["subscriptions"][0]["in_flight"] == 3
    for message in received:
        await client.ack(message)
    for _ in range(7):
        message = await read(call)
        received.append(message)
        await client.ack(message)
    assert ids(received) == [str(i) for i in range(10)]
    assert sandbox.stats["max_in_flight_seen"] == 3


async def test_without_manual_ack_events_count_as_acked_once_sent(
    sandbox: SandboxServer, connect: Connect
) -> None:
    call = await connect(sandbox).subscribe(max_in_flight=1)
    await sandbox.publish([voice(str(i)) for i in range(5)])
    assert ids(await read_n(call, 5)) == [str(i) for i in range(5)]
    await eventually(lambda: sandbox.stats["acks"] == 5)
    assert sandbox.stats["subscriptions"][0]["unacked"] == 0
    assert await nothing_arrives(call, 0.3)


async def test_ack_validates_its_request(sandbox: SandboxServer, connect: Connect) -> None:
    client = connect(sandbox)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await client.stub.Ack(events_pb2.AckRequest(inbox="", sequence=1))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Unknown inbox: accepted, nothing happens.
    await client.stub.Ack(events_pb2.AckRequest(inbox="_INBOX.nope", sequence=1))
    assert sandbox.stats["acks"] == 0


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL])
async def test_end_streams_with_a_status(
    sandbox: SandboxServer, connect: Connect, code: grpc.StatusCode
) -> None:
    client = connect(sandbox)
    calls = [await client.subscribe(), await client.subscribe(client_id="c", queue_name="q")]
    assert sandbox.end_streams(code, "maintenance") == 2
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await read(call)
        assert err.value.code() == code
        assert err.value.details() == "maintenance"
    await eventually(lambda: sandbox.stats["open_streams"] == 0)
    assert sandbox.stats["streams_ended_by_control"] == 2


async def test_end_streams_ok_completes_them(sandbox: SandboxServer, connect: Connect) -> None:
    call = await connect(sandbox).subscribe()
    sandbox.end_streams(grpc.StatusCode.OK)
    assert await next_item(call) is None
    assert await call.call.code() == grpc.StatusCode.OK


async def test_queue_with_durable_keeps_its_position_when_all_members_left(
    sandbox: SandboxServer, connect: Connect
) -> None:
    client = connect(sandbox)
    request = {"client_id": "c", "queue_name": "q", "durable_name": "d"}
    members = [await client.subscribe(**request) for _ in range(2)]
    await sandbox.publish([voice("1")])
    await eventually(lambda: sandbox.stats["acks"] == 1)
    for member in members:
        member.cancel()
    await eventually(lambda: sandbox.stats["open_streams"] == 0)
    await sandbox.publish([voice("2"), voice("3")])
    back = await client.subscribe(**request)
    assert ids(await read_n(back, 2)) == ["2", "3"]
    [subscription] = sandbox.stats["subscriptions"]
    assert subscription["max_in_flight"] == 100  # 0 in the request: the default
    assert subscription["durable"]
