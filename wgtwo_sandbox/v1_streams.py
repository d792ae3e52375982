"""The v1 event streams: durable queues, acks with ``AckInfo``, redelivery, max in flight.

Every v1 event service (consent changes, the four subscription streams) is one
:class:`V1Topic`: events are kept in order; a stream names a durable queue (or asks for a
regular one, which is its own); each event goes to one member of its queue. An event not
acked within the ack timeout is sent again with ``is_redelivered``; at most
``max_in_flight`` events of a queue wait for their ack. A queue's position and its unacked
events survive the streams that left it, so a reconnect resumes where it stopped. The
server ends every stream after ``max_stream_seconds`` (the operator: about an hour).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import grpc
from google.protobuf.message import Message

from custom_components.wgtwo.client.proto.wgtwo.events.v1 import stream_pb2

from .auth import AuthError, TokenAuthority

_LOGGER = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
DEFAULT_ACK_TIMEOUT: Final = 30.0
DEFAULT_MAX_IN_FLIGHT: Final = 50
_SUCCESS = stream_pb2.AckStatus.STATUS_CODE_SUCCESS


@dataclass(slots=True)
class _Stored:
    ident: int
    wall_time: float
    event: Message
    wg2rn: str


@dataclass(slots=True)
class V1Queue:
    """A durable (or regular) queue: its position, unacked events and waiting redeliveries."""

    name: str
    position: int
    ack_timeout: float
    max_in_flight: int
    explicit_ack: bool = True
    durable: bool = True
    unacked: dict[int, float] = field(default_factory=dict)
    redeliver: deque[int] = field(default_factory=deque)
    members: int = 0
    delivered: int = 0
    redelivered: int = 0
    acked: int = 0

    def expire(self, now: float) -> None:
        """Queue the events whose ack timed out for redelivery."""
        for ident, deadline in list(self.unacked.items()):
            if deadline <= now:
                del self.unacked[ident]
                self.redeliver.append(ident)

    def next_deadline(self) -> float | None:
        """When the next unacked event times out."""
        return min(self.unacked.values(), default=None)


class StreamEnded(Exception):
    """The server ends a stream with this status."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


@dataclass(slots=True)
class _Member:
    queue: V1Queue
    ended: StreamEnded | None = None


class V1Topic:
    """One v1 event stream: its events, queues and open streams."""

    def __init__(
        self,
        name: str,
        clock: Callable[[], float] = time.monotonic,
        max_stream_seconds: float = 3600.0,
    ) -> None:
        self.name = name
        self.clock = clock
        self.max_stream_seconds = max_stream_seconds
        self.events: list[_Stored] = []
        self.queues: dict[str, V1Queue] = {}
        # A regular stream's queue lives as long as its stream (its acks must find it).
        self.regular_queues: dict[str, V1Queue] = {}
        self.acks = 0
        self.members: list[_Member] = []
        self._changed = asyncio.Event()
        self._regular = itertools.count(1)

    def publish(self, event: Message, wg2rn: str = "") -> int:
        """Store one event and wake the streams; return its id (from 1)."""
        stored = _Stored(len(self.events) + 1, time.time(), event, wg2rn)
        self.events.append(stored)
        self._notify()
        return stored.ident

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def queue_for(self, config: stream_pb2.StreamConfiguration) -> V1Queue:
        """Return the queue a stream configuration names (creating it at its start)."""
        durable = config.WhichOneof("stream_type") != "regular"
        name = config.durable_queue.custom_name if durable else ""
        if durable and name in self.queues:
            return self.queues[name]
        start = config.WhichOneof("start_position")
        if start == "start_at_oldest_possible":
            position = 0
        elif start == "start_at_id":
            position = max(0, min(len(self.events), config.start_at_id - 1))
        elif start == "start_at_timestamp":
            at = config.start_at_timestamp.ToNanoseconds() / 1e9
            later = (s.ident - 1 for s in self.events if s.wall_time >= at)
            position = next(later, len(self.events))
        else:
            position = len(self.events)
        timeout = DEFAULT_ACK_TIMEOUT
        if config.HasField("custom_ack_timeout"):
            timeout = config.custom_ack_timeout.ToNanoseconds() / 1e9
        queue = V1Queue(
            name=name if durable else f"regular-{next(self._regular)}",
            position=position,
            ack_timeout=timeout,
            max_in_flight=config.max_in_flight or DEFAULT_MAX_IN_FLIGHT,
            explicit_ack=not config.HasField("disable_explicit_ack"),
            durable=durable,
        )
        if durable:
            self.queues[name] = queue
        else:
            self.regular_queues[queue.name] = queue
        return queue

    def take(self, queue: V1Queue) -> tuple[_Stored, bool] | None:
        """Hand the next event of a queue to a member: (event, redelivered), or None."""
        now = self.clock()
        queue.expire(now)
        if queue.explicit_ack and len(queue.unacked) >= queue.max_in_flight:
            return None
        if queue.redeliver:
            ident = queue.redeliver.popleft()
            redelivered = True
            queue.redelivered += 1
        elif queue.position < len(self.events):
            queue.position += 1
            ident = queue.position
            redelivered = False
        else:
            return None
        if queue.explicit_ack:
            queue.unacked[ident] = now + queue.ack_timeout
        queue.delivered += 1
        return self.events[ident - 1], redelivered

    async def serve(
        self,
        config: stream_pb2.StreamConfiguration,
        context: Context,
        build: Callable[[stream_pb2.Metadata, Message], Message],
    ) -> None:
        """Stream a queue's events to one member until the client leaves or the server ends it."""
        queue = self.queue_for(config)
        member = _Member(queue)
        queue.members += 1
        self.members.append(member)
        started = self.clock()
        try:
            await context.send_initial_metadata(())
            while True:
                if member.ended is not None:
                    raise member.ended
                if self.clock() - started >= self.max_stream_seconds:
                    raise StreamEnded(grpc.StatusCode.OK, "stream ended after its time")
                changed = self._changed
                item = self.take(queue)
                if item is None:
                    deadline = queue.next_deadline()
                    limit = started + self.max_stream_seconds
                    wake = min(deadline, limit) if deadline is not None else limit
                    try:
                        async with asyncio.timeout(max(0.0, wake - self.clock()) + 0.001):
                            await changed.wait()
                    except TimeoutError:
                        pass
                    continue
                stored, redelivered = item
                metadata = stream_pb2.Metadata(is_redelivered=redelivered)
                metadata.timestamp.FromSeconds(int(stored.wall_time))
                metadata.timestamp.nanos = int((stored.wall_time % 1) * 1e9)
                metadata.ack_info.value = f"{self.name}|{queue.name}|{stored.ident}"
                if stored.wg2rn:
                    metadata.identifier.subscription_identifier.wg2rn = stored.wg2rn
                await context.write(build(metadata, stored.event))
        except StreamEnded as ended:
            if ended.code != grpc.StatusCode.OK:
                await context.abort(ended.code, ended.details)
        finally:
            queue.members -= 1
            self.members.remove(member)
            if not queue.durable:
                self.regular_queues.pop(queue.name, None)

    def ack(self, value: str) -> bool:
        """Ack one event by its ``AckInfo``; an unknown one is accepted (acks are idempotent)."""
        topic, _, rest = value.partition("|")
        queue_name, _, ident = rest.rpartition("|")
        if topic != self.name or not ident.isdigit():
            return False
        queue = self.queues.get(queue_name) or self.regular_queues.get(queue_name)
        if queue is not None and queue.unacked.pop(int(ident), None) is not None:
            queue.acked += 1
            self.acks += 1
            self._notify()
        return True

    def end_streams(self, code: grpc.StatusCode, details: str) -> int:
        """End every open stream of this topic; return how many."""
        for member in self.members:
            member.ended = StreamEnded(code, details)
        self._notify()
        return len(self.members)

    def snapshot(self) -> dict[str, Any]:
        """Counters (no payloads)."""
        return {
            "events": len(self.events),
            "open_streams": len(self.members),
            "acks": self.acks,
            "queues": {
                name: {
                    "position": q.position,
                    "unacked": len(q.unacked),
                    "members": q.members,
                    "delivered": q.delivered,
                    "redelivered": q.redelivered,
                    "acked": q.acked,
                }
                for name, q in self.queues.items()
            },
        }


@dataclass(frozen=True, slots=True)
class V1Method:
    """One stream of a v1 service: its methods, messages, event field and scope."""

    stream: str
    ack: str
    request: type[Message]
    response: type[Message]
    field: str
    ack_request: type[Message]
    ack_response: type[Message]
    scope: str | None


def v1_handlers(
    topic: V1Topic, method: V1Method, authority: TokenAuthority
) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
    """Return the stream and ack method handlers of one v1 stream."""
    needed = (method.scope,) if method.scope else ()

    async def stream(request: Any, context: Context) -> None:
        try:
            authority.check(context.invocation_metadata() or (), needed)
        except AuthError as err:
            await context.abort(err.code, err.details)
        config = request.stream_configuration
        if config.max_in_flight > 200:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "max_in_flight is 1 to 200")

        def build(metadata: stream_pb2.Metadata, event: Message) -> Message:
            response = method.response(metadata=metadata)
            getattr(response, method.field).CopyFrom(event)
            return response

        await topic.serve(config, context, build)

    async def ack(request: Any, context: Context) -> Any:
        try:
            authority.check(context.invocation_metadata() or (), needed)
        except AuthError as err:
            await context.abort(err.code, err.details)
        if not request.ack_info.value:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "ack_info is required")
        known = topic.ack(request.ack_info.value)
        status = _SUCCESS if known else stream_pb2.AckStatus.STATUS_CODE_FAILURE
        return method.ack_response(ack_status=stream_pb2.AckStatus(status_code=status))

    return {
        method.stream: grpc.unary_stream_rpc_method_handler(
            stream,
            request_deserializer=method.request.FromString,
            response_serializer=lambda message: message.SerializeToString(),
        ),
        method.ack: grpc.unary_unary_rpc_method_handler(
            ack,
            request_deserializer=method.ack_request.FromString,
            response_serializer=lambda message: message.SerializeToString(),
        ),
    }
