"""Helpers for the sandbox's own tests: raw generated stubs over loopback gRPC."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2, events_pb2_grpc
from wgtwo_sandbox import SandboxServer

VOICE = events_pb2.EventType.VOICE_EVENT
SMS = events_pb2.EventType.SMS_EVENT

# The seed's example event.
EXAMPLE: dict[str, Any] = {
    "event": {
        "timestamp": "2024-08-02T10:08:55.668065022Z",
        "voiceEvent": {
            "callId": "e70b8117-6e3d-49e1-83f6-0e7f932e5bb2",
            "type": "CALL_INITIATED",
            "fromNumber": {"e164": "+4799948352"},
            "toNumber": {"e164": "+46724450024"},
            "callerIdHidden": True,
        },
        "owner": {"phoneNumber": {"e164": "+46724450024"}, "sub": "66cd1a"},
    }
}


def voice(call_id: str) -> dict[str, Any]:
    """Return a voice event JSON with a given call id."""
    return {"event": {"voiceEvent": {"callId": call_id, "type": "CALL_RINGING"}}}


def sms(sms_id: str) -> dict[str, Any]:
    """Return an SMS event JSON with a given id."""
    return {"event": {"smsEvent": {"id": sms_id, "text": "hi"}}}


Call = grpc.aio.UnaryStreamCall[
    events_pb2.SubscribeEventsRequest, events_pb2.SubscribeEventsResponse
]
Item = events_pb2.SubscribeEventsResponse | BaseException | None


class Stream:
    """An open Subscribe call read by a background task, so a read can time out safely.

    (Cancelling ``call.read()`` itself would cancel the whole RPC.)
    """

    def __init__(self, call: Call) -> None:
        self.call = call
        self.queue: asyncio.Queue[Item] = asyncio.Queue()
        self.task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        try:
            async for message in self.call:
                self.queue.put_nowait(message)
            self.queue.put_nowait(None)
        except grpc.aio.AioRpcError as err:
            self.queue.put_nowait(err)

    def cancel(self) -> None:
        """Cancel the RPC (the client leaves)."""
        self.call.cancel()

    async def close(self) -> None:
        """Cancel the RPC and the reader task."""
        self.call.cancel()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class Client:
    """A raw stub on one channel; closes every call and the channel at teardown."""

    def __init__(self, target: str, options: Any = None) -> None:
        self.channel = grpc.aio.insecure_channel(target, options=options)
        self.stub = events_pb2_grpc.EventsServiceStub(self.channel)
        self.streams: list[Stream] = []

    async def subscribe(self, metadata: Any = None, **request: Any) -> Stream:
        """Open a Subscribe stream and wait until the server accepted it."""
        request.setdefault("type", [VOICE])
        call = self.stub.Subscribe(events_pb2.SubscribeEventsRequest(**request), metadata=metadata)
        stream = Stream(call)
        self.streams.append(stream)
        async with asyncio.timeout(30):
            await call.initial_metadata()
        return stream

    async def ack(self, response: events_pb2.SubscribeEventsResponse) -> None:
        """Ack one received event."""
        md = response.event.metadata
        await self.stub.Ack(events_pb2.AckRequest(inbox=md.ack_inbox, sequence=md.sequence))

    async def close(self) -> None:
        """Cancel calls and close the channel."""
        for stream in self.streams:
            await stream.close()
        await self.channel.close()


def basic_auth(user: str, password: str) -> str:
    """An HTTP Basic ``Authorization`` value (aiohttp's helper for it differs by release)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def next_item(stream: Stream, within: float = 30.0) -> Item:
    """Return the next message, error or end of stream (None)."""
    async with asyncio.timeout(within):
        return await stream.queue.get()


async def read(stream: Stream, within: float = 30.0) -> events_pb2.SubscribeEventsResponse:
    """Read one message (raising the stream's error if it failed)."""
    item = await next_item(stream, within)
    if isinstance(item, BaseException):
        raise item
    assert item is not None, "stream ended"
    return item


async def read_n(
    stream: Stream, count: int, within: float = 30.0
) -> list[events_pb2.SubscribeEventsResponse]:
    """Read ``count`` messages."""
    return [await read(stream, within) for _ in range(count)]


async def nothing_arrives(stream: Stream, wait: float = 0.3) -> bool:
    """Return True if nothing (no message, no error) arrives within ``wait`` seconds."""
    try:
        await next_item(stream, wait)
    except TimeoutError:
        return True
    return False


async def eventually(predicate: Callable[[], bool], within: float = 30.0) -> None:
    """Poll until the predicate holds."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling state owned elsewhere
            await asyncio.sleep(0.01)


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Client]]:
    """Return a factory of raw clients; all closed at teardown."""
    clients: list[Client] = []

    def factory(target: SandboxServer | str, options: Any = None) -> Client:
        address = target.grpc_target if isinstance(target, SandboxServer) else target
        client = Client(address, options)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """Sandbox tests talk over 127.0.0.1."""
