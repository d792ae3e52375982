"""TCP relays in front of the gRPC server: one that can stall, one that adds latency.

A stalled connection stays open but nothing passes in either direction, HTTP/2 PING acks
included, exactly what a client's keepalive must detect. The relay hands whole chunks from
one transport to the other and relies on asyncio's flow control, so it costs little.
``DelayRelay`` makes a loopback server look far away, as a slow link does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

_LOGGER = logging.getLogger(__name__)

_LATE_ACCEPT: Final = "Error on transport creation for incoming connection"


async def _stop_serving(server: asyncio.Server | None, drop: Callable[[], Awaitable[None]]) -> None:
    """Close ``server``, ``drop`` the connections, wait until closed: a relay's stop.

    Without a report of a connection the server accepted last: asyncio makes an accepted
    connection's transport in a task of its own, and when the server closes in between,
    that task fails on an assertion and hands it to the loop's exception handler (Home
    Assistant's, in the tests, which fails the test). The connection is gone either way:
    such a report is dropped while the relay stops and a few loop turns after.
    """
    if server is None:
        await drop()
        return
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == _LATE_ACCEPT and isinstance(
            context.get("exception"), AssertionError
        ):
            return
        if previous is None:
            loop.default_exception_handler(context)
        else:
            previous(loop, context)

    loop.set_exception_handler(handler)
    try:
        server.close()
        # Also drops a connection accepted while closing, which ``drop`` can't see.
        server.abort_clients()
        await drop()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await server.wait_closed()
        for _ in range(3):
            await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)


class _Side(asyncio.Protocol):
    """One end of a relayed connection (the client side or the upstream side)."""

    def __init__(self, relay: StallableRelay) -> None:
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.held: list[bytes] = []
        self.closed = False
        self.peer_writable = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.relay.sides.add(self)
        if self.relay.stalled:
            transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if self.relay.stalled or peer is None or peer.transport is None:
            self.held.append(data)
            if self.transport is not None:
                self.transport.pause_reading()
            return
        peer.transport.write(data)

    def eof_received(self) -> bool | None:
        self.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.relay.sides.discard(self)
        if self.peer is not None:
            self.peer.close()

    def pause_writing(self) -> None:
        # Our outgoing buffer is full: stop reading from the peer until it drains.
        if self.peer is not None and self.peer.transport is not None:
            self.peer.peer_writable = False
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.peer_writable = True
            if not self.relay.stalled:
                self.peer.transport.resume_reading()

    def flush(self) -> None:
        """Forward data held while stalled or connecting, then read again."""
        peer = self.peer
        if peer is None or peer.transport is None or self.transport is None:
            return
        for chunk in self.held:
            peer.transport.write(chunk)
        self.held.clear()
        if self.peer_writable and not self.closed:
            self.transport.resume_reading()

    def close(self) -> None:
        """Close this end after writing what is buffered."""
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()


class StallableRelay:
    """Listen on a public port and relay each connection to an upstream port."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.stalled = False
        self.sides: set[_Side] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, port: int) -> int:
        """Start listening on 127.0.0.1:port and return the bound port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._accept, "127.0.0.1", port)
        return int(self._server.sockets[0].getsockname()[1])

    def _accept(self) -> _Side:
        side = _Side(self)
        task = asyncio.get_running_loop().create_task(self._connect(side))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return side

    async def _connect(self, client: _Side) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, upstream = await loop.create_connection(
                lambda: _Side(self), "127.0.0.1", self.upstream_port
            )
        except OSError:
            _LOGGER.warning("Relay could not reach the gRPC server")
            client.close()
            return
        if client.closed:
            upstream.close()
            return
        client.peer, upstream.peer = upstream, client
        if not self.stalled:
            client.flush()

    def set_stalled(self, stalled: bool) -> None:
        """Stop or resume all traffic on existing and new connections."""
        self.stalled = stalled
        for side in list(self.sides):
            if side.transport is None or side.closed:
                continue
            if stalled:
                side.transport.pause_reading()
            else:
                side.flush()

    @property
    def connections(self) -> int:
        """Return how many relayed sockets are open (both ends counted)."""
        return len(self.sides)

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        await _stop_serving(self._server, self._drop)
        self._server = None

    async def _drop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for side in list(self.sides):
            if side.transport is not None:
                side.transport.abort()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


class DelayRelay:
    """Relay each connection to an upstream port, delaying both directions by ``delay`` s.

    A stand-in for a slow link (a round trip of ``2 * delay``): bytes keep flowing at full
    speed, each chunk and the end of the stream just arrive ``delay`` seconds late.
    """

    def __init__(self, upstream_port: int, delay: float) -> None:
        self.upstream_port = upstream_port
        self.delay = delay
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """Return the bound port (after ``start``)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, port: int = 0) -> int:
        """Start listening on 127.0.0.1:port and return the bound port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        return self.port

    def _track(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        self._track(self._pipe(reader, up_writer))
        self._track(self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one direction: read at once, write each chunk ``delay`` s after it came."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                if not chunk:  # the end of the stream arrives late too
                    break
                writer.write(chunk)
                await writer.drain()

        delivery = loop.create_task(deliver())
        try:
            while chunk := await reader.read(65536):
                queue.put_nowait((loop.time() + self.delay, chunk))
            queue.put_nowait((loop.time() + self.delay, b""))
            await delivery
        except OSError:
            pass
        finally:
            delivery.cancel()
            await asyncio.gather(delivery, return_exceptions=True)
            writer.close()

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        await _stop_serving(self._server, self._drop)
        self._server = None

    async def _drop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
