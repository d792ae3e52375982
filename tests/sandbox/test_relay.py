"""The stall-capable TCP relay on its own: intact bulk transfer, flow control, closing."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from wgtwo_sandbox.relay import DelayRelay, StallableRelay

PAYLOAD = os.urandom(8 * 1024 * 1024)


class Upstream:
    """A TCP server that sends PAYLOAD to each client and echoes what it receives."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.received = bytearray()
        self.tasks: set[asyncio.Task[None]] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            writer.write(PAYLOAD)
            await writer.drain()
            while chunk := await reader.read(65536):
                self.received += chunk
        finally:
            writer.close()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.server.wait_closed()


@pytest.fixture
async def upstream(socket_enabled: None) -> AsyncIterator[Upstream]:
    server = Upstream()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def relay(upstream: Upstream) -> AsyncIterator[StallableRelay]:
    assert upstream.server is not None
    relay = StallableRelay(int(upstream.server.sockets[0].getsockname()[1]))
    await relay.start(0)
    yield relay
    await relay.stop()


async def open_client(relay: StallableRelay) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    assert relay._server is not None
    port = relay._server.sockets[0].getsockname()[1]
    return await asyncio.open_connection("127.0.0.1", port)


async def test_bulk_transfer_with_a_slow_reader_arrives_intact(
    relay: StallableRelay, upstream: Upstream
) -> None:
    reader, writer = await open_client(relay)
    await asyncio.sleep(0.2)  # let the relay's buffers fill: flow control kicks in
    data = await reader.readexactly(len(PAYLOAD))
    assert hashlib.sha256(data).digest() == hashlib.sha256(PAYLOAD).digest()
    writer.write(b"ping")
    await writer.drain()
    async with asyncio.timeout(3):
        while bytes(upstream.received) != b"ping":  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    writer.close()
    await writer.wait_closed()


async def test_stall_holds_both_directions(relay: StallableRelay, upstream: Upstream) -> None:
    relay.set_stalled(True)
    reader, writer = await open_client(relay)
    writer.write(b"held")
    await writer.drain()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await reader.read(1)
    assert upstream.received == b""
    relay.set_stalled(False)
    data = await reader.readexactly(len(PAYLOAD))
    assert data == PAYLOAD
    async with asyncio.timeout(3):
        while bytes(upstream.received) != b"held":  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    relay.set_stalled(True)
    relay.set_stalled(False)
    writer.write_eof()  # a half-close ends the relayed connection
    assert await reader.read() == b""
    writer.close()
    await writer.wait_closed()


async def test_unreachable_upstream_closes_the_client(socket_enabled: None) -> None:
    relay = StallableRelay(1)  # nothing listens on port 1
    await relay.start(0)
    try:
        reader, writer = await open_client(relay)
        async with asyncio.timeout(3):
            assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
    finally:
        await relay.stop()


async def test_delay_relay_delays_each_direction_and_keeps_the_data(
    upstream: Upstream,
) -> None:
    assert upstream.server is not None
    relay = DelayRelay(int(upstream.server.sockets[0].getsockname()[1]), 0.2)
    await relay.start()
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
        first = await reader.readexactly(1)
        assert loop.time() - started >= 0.2
        data = first + await reader.readexactly(len(PAYLOAD) - 1)
        assert data == PAYLOAD
        sent = loop.time()
        writer.write(b"ping")
        await writer.drain()
        async with asyncio.timeout(3):
            while bytes(upstream.received) != b"ping":  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert loop.time() - sent >= 0.2
        writer.write_eof()
        assert await reader.read() == b""  # the end arrives (late) and closes the relay
        writer.close()
        await writer.wait_closed()
    finally:
        await relay.stop()


async def test_delay_relay_closes_the_client_without_upstream(socket_enabled: None) -> None:
    relay = DelayRelay(1, 0.1)  # nothing listens on port 1
    await relay.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
        async with asyncio.timeout(3):
            assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
    finally:
        await relay.stop()
