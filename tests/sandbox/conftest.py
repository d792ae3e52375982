"""Helpers for the sandbox's own tests: raw generated stubs over loopback gRPC."""

from __future__ import annotations

import asyncio
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


Stream = grpc.aio.UnaryStreamCall[
    events_pb2.SubscribeEventsRequest, events_pb2.SubscribeEventsResponse
]


class Client:
    """A raw stub on one channel; closes every call and the channel at teardown."""

    def __init__(self, target: str) -> None:
        self.channel = grpc.aio.insecure_channel(target)
        self.stub = events_pb2_grpc.EventsServiceStub(self.channel)
        self.calls: list[Stream] = []

    async def subscribe(self, metadata: Any = None, **request: Any) -> Stream:
        """Open a Subscribe stream and wait until the server accepted it."""
        request.setdefault("type", [VOICE])
        call = self.stub.Subscribe(events_pb2.SubscribeEventsRequest(**request), metadata=metadata)
        self.calls.append(call)
        await call.initial_metadata()
        return call

    async def ack(self, response: events_pb2.SubscribeEventsResponse) -> None:
        """Ack one received event."""
        md = response.event.metadata
        await self.stub.Ack(events_pb2.AckRequest(inbox=md.ack_inbox, sequence=md.sequence))

    async def close(self) -> None:
        """Cancel calls and close the channel."""
        for call in self.calls:
            call.cancel()
        await self.channel.close()


async def read(call: Stream, within: float = 3.0) -> events_pb2.SubscribeEventsResponse:
    """Read one message or fail the test."""
    async with asyncio.timeout(within):
        message = await call.read()
    assert message is not grpc.aio.EOF
    assert isinstance(message, events_pb2.SubscribeEventsResponse)
    return message


async def read_n(
    call: Stream, count: int, within: float = 5.0
) -> list[events_pb2.SubscribeEventsResponse]:
    """Read ``count`` messages."""
    return [await read(call, within) for _ in range(count)]


async def nothing_arrives(call: Stream, wait: float = 0.3) -> bool:
    """Return True if no message arrives within ``wait`` seconds."""
    try:
        async with asyncio.timeout(wait):
            await call.read()
    except TimeoutError:
        return True
    return False


async def eventually(predicate: Callable[[], bool], within: float = 3.0) -> None:
    """Poll until the predicate holds."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling state owned elsewhere
            await asyncio.sleep(0.01)


@pytest.fixture
async def connect() -> AsyncIterator[Callable[[SandboxServer | str], Client]]:
    """Return a factory of raw clients; all closed at teardown."""
    clients: list[Client] = []

    def factory(target: SandboxServer | str) -> Client:
        client = Client(target.grpc_target if isinstance(target, SandboxServer) else target)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """Sandbox tests talk over 127.0.0.1."""
