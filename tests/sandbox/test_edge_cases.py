"""Shutdown with work in flight, events pruned before redelivery, the context-manager API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from tests.sandbox_fixtures import MakeSandbox
from wgtwo_sandbox import SandboxServer

from .conftest import Client, eventually, read, voice

Connect = Callable[..., Client]
MANUAL = {"enable": True, "timeout": {"nanos": 200_000_000}}


async def test_context_manager_and_stop_with_unacked_events(
    socket_enabled: None, connect: Connect
) -> None:
    async with SandboxServer() as server:
        assert server.grpc_target == f"127.0.0.1:{server.grpc_port}"
        client = connect(server)
        stream = await client.subscribe(client_id="c", durable_name="d", manual_ack=MANUAL)
        await server.publish([voice("1")])
        await read(stream)
        await client.close()  # leaves the durable idle with an expiry timer pending
        await eventually(lambda: server.stats["open_streams"] == 0)
    await server.stop()  # a second stop is harmless


async def test_stop_while_streams_hold_unacked_events(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    server = await make_sandbox()
    stream = await connect(server).subscribe(
        manual_ack={"enable": True, "timeout": {"seconds": 30}}
    )
    await server.publish([voice("1"), voice("2")])
    await read(stream)
    await server.stop()  # every ack timer is cancelled (the test plugin checks for leftovers)


async def test_event_pruned_before_its_redelivery_is_skipped(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    server = await make_sandbox(history_seconds=0.3)
    durable = {"client_id": "c", "durable_name": "d", "manual_ack": MANUAL}
    stream = await connect(server).subscribe(**durable, max_in_flight=1)
    await server.publish([voice("old")])
    assert (await read(stream)).event.voice_event.call_id == "old"
    server.end_streams()  # nobody there to receive the redelivery for a while
    await asyncio.sleep(0.4)
    stream = await connect(server).subscribe(**durable)
    await server.publish([voice("new")])
    assert (await read(stream)).event.voice_event.call_id == "new"


async def test_event_without_payload_is_unspecified(sandbox: SandboxServer) -> None:
    assert await sandbox.publish(events_pb2.Event(service_id="t")) == [1]
    assert sandbox.broker.history[0].event_type == events_pb2.EventType.UNSPECIFIED
