"""Subscribe/publish basics: filtering, metadata, start positions."""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.empty_pb2 import Empty
from google.protobuf.timestamp_pb2 import Timestamp

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from tests.sandbox_fixtures import MakeSandbox
from wgtwo_sandbox import SandboxServer

from .conftest import EXAMPLE, SMS, VOICE, Client, read, read_n, sms, voice


class Clock:
    """The broker's clock, moved by the test (seconds since the epoch)."""

    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_example_event_round_trips_with_metadata(
    sandbox: SandboxServer, connect: Callable[..., Client]
) -> None:
    client = connect(sandbox)
    call = await client.subscribe(type=[VOICE])
    assert await sandbox.publish(EXAMPLE) == [1]
    message = await read(call)
    event = message.event
    assert event.metadata.sequence == 1
    assert event.metadata.ack_inbox
    assert not event.metadata.is_redelivered
    assert event.voice_event.call_id == "e70b8117-6e3d-49e1-83f6-0e7f932e5bb2"
    assert event.voice_event.caller_id_hidden
    assert event.owner.phone_number.e164 == "+46724450024"
    assert event.timestamp.ToJsonString() == "2024-08-02T10:08:55.668065022Z"


async def test_type_filter(sandbox: SandboxServer, connect: Callable[..., Client]) -> None:
    client = connect(sandbox)
    voice_call = await client.subscribe(type=[VOICE])
    sms_call = await client.subscribe(type=[SMS])
    await sandbox.publish([voice("a"), sms("b"), voice("c")])
    assert (await read(voice_call)).event.voice_event.call_id == "a"
    assert (await read(voice_call)).event.voice_event.call_id == "c"
    received = await read(sms_call)
    assert received.event.sms_event.id == "b"
    assert received.event.metadata.sequence == 2
    # The next SMS comes next: no voice event went to the SMS stream in between.
    await sandbox.publish([sms("last")])
    assert (await read(sms_call)).event.sms_event.id == "last"


async def test_initial_metadata_arrives_before_any_event(
    sandbox: SandboxServer, connect: Callable[..., Client]
) -> None:
    call = await connect(sandbox).subscribe(type=[VOICE])
    assert sandbox.stats["open_streams"] == 1
    assert sandbox.stats["published"] == 0
    await sandbox.publish([voice("first")])
    assert (await read(call)).event.voice_event.call_id == "first"


async def test_no_start_position_means_new_events_only(
    sandbox: SandboxServer, connect: Callable[..., Client]
) -> None:
    await sandbox.publish([voice("old")])
    call = await connect(sandbox).subscribe(type=[VOICE])
    await sandbox.publish([voice("new")])
    assert (await read(call)).event.voice_event.call_id == "new"


async def test_start_at_oldest_possible(
    sandbox: SandboxServer, connect: Callable[..., Client]
) -> None:
    await sandbox.publish([voice("a"), sms("b"), voice("c")])
    call = await connect(sandbox).subscribe(type=[VOICE], start_at_oldest_possible=Empty())
    assert [m.event.metadata.sequence for m in await read_n(call, 2)] == [1, 3]


async def test_start_at_sequence(sandbox: SandboxServer, connect: Callable[..., Client]) -> None:
    await sandbox.publish([voice(str(i)) for i in range(5)])
    call = await connect(sandbox).subscribe(type=[VOICE], start_at_sequence=4)
    assert [m.event.voice_event.call_id for m in await read_n(call, 2)] == ["3", "4"]
    await sandbox.publish([voice("last")])
    assert (await read(call)).event.voice_event.call_id == "last"


async def test_start_at_timestamp_and_time_delta(
    sandbox: SandboxServer, connect: Callable[..., Client]
) -> None:
    clock = Clock()
    sandbox.broker.clock = clock
    await sandbox.publish([voice("before")])
    clock.now += 30
    middle = Timestamp()
    middle.FromNanoseconds(int(clock.now * 1e9))
    clock.now += 10
    await sandbox.publish([voice("after")])
    clock.now += 10
    client = connect(sandbox)
    by_time = await client.subscribe(type=[VOICE], start_at_timestamp=middle)
    assert (await read(by_time)).event.voice_event.call_id == "after"
    by_delta = await client.subscribe(type=[VOICE], start_at_time_delta=Duration(seconds=30))
    assert (await read(by_delta)).event.voice_event.call_id == "after"
    await sandbox.publish([voice("last")])
    assert (await read(by_delta)).event.voice_event.call_id == "last"
    everything = await client.subscribe(type=[VOICE], start_at_time_delta=Duration(seconds=60))
    assert [m.event.voice_event.call_id for m in await read_n(everything, 2)] == [
        "before",
        "after",
    ]


async def test_start_with_last_received(
    sandbox: SandboxServer, connect: Callable[..., Client]
) -> None:
    client = connect(sandbox)
    empty = await client.subscribe(type=[VOICE], start_with_last_received=Empty())
    await sandbox.publish([voice("a"), voice("b"), sms("c")])
    assert (await read(empty)).event.voice_event.call_id == "a"
    call = await client.subscribe(type=[VOICE], start_with_last_received=Empty())
    assert (await read(call)).event.voice_event.call_id == "b"
    await sandbox.publish([voice("last")])
    assert (await read(call)).event.voice_event.call_id == "last"


async def test_history_is_limited(
    make_sandbox: MakeSandbox, connect: Callable[..., Client]
) -> None:
    server = await make_sandbox(history_seconds=60)
    clock = Clock()
    server.broker.clock = clock
    await server.publish([voice("gone")])
    clock.now += 61
    await server.publish([voice("kept")])
    call = await connect(server).subscribe(type=[VOICE], start_at_sequence=1)
    message = await read(call)
    assert message.event.voice_event.call_id == "kept"
    assert message.event.metadata.sequence == 2
    assert server.stats["first_sequence"] == 2


async def test_request_without_types_is_invalid(
    sandbox: SandboxServer, connect: Callable[..., Client]
) -> None:
    client = connect(sandbox)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await read(await client.subscribe(type=[]))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await read(await client.subscribe(type=[VOICE], durable_name="d"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "client_id" in (err.value.details() or "")


async def test_publish_accepts_protos_and_fills_timestamp(
    sandbox: SandboxServer, connect: Callable[..., Client]
) -> None:
    call = await connect(sandbox).subscribe(type=[VOICE, SMS])
    event = events_pb2.Event(voice_event=events_pb2.VoiceEvent(call_id="p"))
    event.metadata.sequence = 99  # ignored: the server numbers events
    before = time.time()
    assert await sandbox.publish(event) == [1]
    assert await sandbox.publish(
        events_pb2.SubscribeEventsResponse(
            event=events_pb2.Event(sms_event=events_pb2.SmsEvent(id="s"))
        )
    ) == [2]
    first, second = await read_n(call, 2)
    assert first.event.metadata.sequence == 1
    assert first.event.timestamp.ToNanoseconds() / 1e9 >= before - 1
    assert second.event.sms_event.id == "s"


async def test_publish_rejects_bad_input(sandbox: SandboxServer) -> None:
    with pytest.raises(ValueError, match="event"):
        await sandbox.publish([{"voiceEvent": {}}])
    with pytest.raises(ValueError, match="SubscribeEventsResponse"):
        await sandbox.publish([{"event": {"noSuchField": 1}}])
    with pytest.raises(ValueError, match="payload"):
        await sandbox.publish([{"event": {"serviceId": "x"}}])
    with pytest.raises(ValueError, match="JSON object"):
        await sandbox.publish(["nope"])  # type: ignore[list-item]
    assert sandbox.stats["published"] == 0
