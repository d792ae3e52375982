"""Helpers for client tests: a recording handler, fast settings, a running subscription."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import grpc

from custom_components.wgtwo.client import (
    ConnectionState,
    ConnectionStatus,
    Endpoint,
    EventSubscription,
    EventType,
    SubscriptionConfig,
    TokenProvider,
    WgtwoEvent,
)
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from wgtwo_sandbox import SandboxServer

from .samples import SAMPLE_TYPES, sample_json


def endpoint_of(server: SandboxServer) -> Endpoint:
    """The plaintext loopback endpoint of a sandbox."""
    return Endpoint.parse(server.grpc_target, plaintext=True)


def fast_config(*types: EventType, **kwargs: Any) -> SubscriptionConfig:
    """Settings with small timeouts so failure paths finish quickly."""
    defaults: dict[str, Any] = {
        "backoff_initial": 0.05,
        "backoff_max": 0.2,
        # A slow ack on a busy machine must not look like a lost one (tests of redelivery
        # set a short one).
        "ack_timeout": 30.0,
        "keepalive_time": 5.0,
        "keepalive_timeout": 2.0,
        "stop_timeout": 2.0,
    }
    defaults.update(kwargs)
    return SubscriptionConfig(event_types=tuple(types or (EventType.VOICE_EVENT,)), **defaults)


async def wait_for(
    condition: Callable[[], object],
    timeout: float = 30.0,  # noqa: ASYNC109
    message: str = "condition",
) -> None:
    """Poll ``condition`` until it is truthy."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.01)


class Recorder:
    """A handler that records events, optionally failing or blocking on chosen ones."""

    def __init__(
        self,
        fail: Callable[[WgtwoEvent, int], bool] | None = None,
        before: Callable[[WgtwoEvent], Awaitable[None]] | None = None,
    ) -> None:
        self.events: list[WgtwoEvent] = []
        self.calls: dict[int, int] = {}
        self.states: list[ConnectionStatus] = []
        self._fail = fail
        self._before = before

    async def __call__(self, event: WgtwoEvent) -> None:
        """Handle one event (after ``before``, if given)."""
        if self._before is not None:
            await self._before(event)
        self.record(event)

    def record(self, event: WgtwoEvent) -> None:
        """Count a call for ``event``; fail it if chosen, else record it as handled."""
        count = self.calls.get(event.sequence, 0) + 1
        self.calls[event.sequence] = count
        if self._fail is not None and self._fail(event, count):
            raise RuntimeError("handler failed on purpose")
        self.events.append(event)

    def on_state(self, status: ConnectionStatus) -> None:
        """Record connection states."""
        self.states.append(status)

    @property
    def sequences(self) -> list[int]:
        """Sequences handled successfully, in order."""
        return [e.sequence for e in self.events]

    def count(self, state: ConnectionState) -> int:
        """How often a state was reported."""
        return sum(1 for s in self.states if s.state is state)

    async def wait_events(self, count: int, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until ``count`` events were handled."""
        await wait_for(lambda: len(self.events) >= count, timeout, f"{count} events")


class PlainRecorder(Recorder):
    """A :class:`Recorder` that handles each event without suspending: it returns None."""

    def __call__(self, event: WgtwoEvent) -> None:  # type: ignore[override]
        """Handle one event at once."""
        self.record(event)


@contextlib.asynccontextmanager
async def events_server(subscribe: Callable[..., Any]) -> AsyncIterator[Endpoint]:
    """A loopback EventsService whose Subscribe is ``subscribe`` (for misbehaving servers)."""
    handler = grpc.method_handlers_generic_handler(
        "wgtwo.events.v0.EventsService",
        {
            "Subscribe": grpc.unary_stream_rpc_method_handler(
                subscribe,
                request_deserializer=events_pb2.SubscribeEventsRequest.FromString,
                response_serializer=events_pb2.SubscribeEventsResponse.SerializeToString,
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield Endpoint("127.0.0.1", port, plaintext=True)
    finally:
        await server.stop(grace=None)


@contextlib.asynccontextmanager
async def running(
    server: SandboxServer | Endpoint,
    config: SubscriptionConfig,
    recorder: Recorder,
    *,
    token_provider: TokenProvider | None = None,
    connected: bool = True,
    **kwargs: Any,
) -> AsyncIterator[tuple[EventSubscription, asyncio.Task[None]]]:
    """Run a subscription in a task; stop it and check it ended cleanly on exit."""
    endpoint = server if isinstance(server, Endpoint) else endpoint_of(server)
    subscription = EventSubscription(
        endpoint,
        config,
        recorder,
        token_provider=token_provider,
        on_state=recorder.on_state,
        **kwargs,
    )
    task = asyncio.create_task(subscription.run())
    try:
        if connected:
            await wait_for(
                lambda: subscription.status.state is ConnectionState.CONNECTED or task.done(),
                message="connected",
            )
            if task.done():
                task.result()
        yield subscription, task
    finally:
        await subscription.stop()
        if not task.done():
            raise AssertionError("run() still running after stop()")
        if not task.cancelled() and task.exception() is None:
            task.result()


async def publish(server: SandboxServer, *names: str, **overrides: Any) -> list[int]:
    """Publish samples by name through the sandbox; return their sequence numbers."""
    items = [sample_json(name) for name in names]
    for item in items:
        item["event"].update(overrides)
    return await server.publish(items)


async def publish_voice(
    server: SandboxServer, count: int, *, call_prefix: str = "call"
) -> list[int]:
    """Publish ``count`` voice events with distinct call ids."""
    items = []
    for index in range(count):
        item = sample_json("voice")
        item["event"]["voiceEvent"]["callId"] = f"{call_prefix}-{index}"
        items.append(item)
    return await server.publish(items)


def types_of(names: Iterable[str]) -> tuple[EventType, ...]:
    """Subscription types covering the named samples."""
    return tuple(dict.fromkeys(EventType(SAMPLE_TYPES[n]) for n in names))
