"""Stalled connections: open, silent, and caught by a client's keepalive."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import grpc
import pytest

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from tests.sandbox_fixtures import MakeSandbox
from wgtwo_sandbox import SandboxServer

from .conftest import Client, nothing_arrives, read, voice

Connect = Callable[..., Client]

# A client with a 1 s keepalive that also pings while a stream is idle. grpcio applies
# keepalive_timeout only through the ping timeout, so both are set. The answer may take
# 5 s: pings cross the sandbox's relay on the test's own event loop, which a busy
# two-core machine can hold up for longer than a second.
KEEPALIVE = (
    ("grpc.keepalive_time_ms", 1000),
    ("grpc.keepalive_timeout_ms", 5000),
    ("grpc.http2.ping_timeout_ms", 5000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.keepalive_permit_without_calls", 1),
)


async def test_keepalive_detects_a_stall_and_service_resumes(
    sandbox: SandboxServer, connect: Connect
) -> None:
    client = connect(sandbox, KEEPALIVE)
    stream = await client.subscribe()
    # Frequent keepalive pings are accepted while the connection flows.
    assert await nothing_arrives(stream, 2.5)
    sandbox.set_stalled(True)
    await sandbox.publish([voice("held")])
    # Without keepalive a stall goes unnoticed (below): the error is the pings' doing.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await read(stream, 30.0)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    sandbox.set_stalled(False)
    # A fresh channel, as a reconnecting client gets after its backoff.
    again = await connect(sandbox, KEEPALIVE).subscribe(start_at_oldest_possible={})
    assert (await read(again)).event.voice_event.call_id == "held"


async def test_stalled_stream_delivers_what_was_held_once_thawed(
    sandbox: SandboxServer, connect: Connect
) -> None:
    client = connect(sandbox)  # no keepalive: the stall goes unnoticed
    stream = await client.subscribe()
    sandbox.set_stalled(True)
    await sandbox.publish([voice("1")])
    assert await nothing_arrives(stream, 0.3)
    sandbox.set_stalled(False)
    assert (await read(stream)).event.voice_event.call_id == "1"


async def test_new_connections_stall_too(sandbox: SandboxServer, connect: Connect) -> None:
    sandbox.set_stalled(True)
    client = connect(sandbox)
    request = events_pb2.AckRequest(inbox="_INBOX.x", sequence=1)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await client.stub.Ack(request, timeout=0.5)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert sandbox.stats["connections"] == 1
    sandbox.set_stalled(False)
    await client.stub.Ack(request, timeout=30)


async def test_without_the_relay_streams_work_but_cannot_stall(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    server = await make_sandbox(stall_relay=False)
    stream = await connect(server).subscribe()
    await server.publish([voice("direct")])
    assert (await read(stream)).event.voice_event.call_id == "direct"
    with pytest.raises(RuntimeError):
        server.set_stalled(True)
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.http_url}/control/stall", json={"stalled": True}) as response,
    ):
        assert response.status == 409
    assert server.stats["connections"] == 0
