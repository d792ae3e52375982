"""The EventsService: Subscribe (server stream) and Ack, on top of the broker."""

from __future__ import annotations

import logging
from typing import Any

import grpc

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2

from .auth import AuthError, TokenAuthority
from .broker import DEFAULT_ACK_TIMEOUT, Broker, StreamEndedError, SubscriptionSpec
from .scopes import scopes_for_types

_LOGGER = logging.getLogger(__name__)

SERVICE_NAME = "wgtwo.events.v0.EventsService"
Context = grpc.aio.ServicerContext[Any, Any]


def spec_from_request(request: events_pb2.SubscribeEventsRequest, now: float) -> SubscriptionSpec:
    """Translate a Subscribe request into the broker's terms (raises ValueError if wrong)."""
    types = frozenset(int(t) for t in request.type)
    if not types or events_pb2.EventType.UNSPECIFIED in types:
        raise ValueError("at least one event type, none UNSPECIFIED, is required")
    if request.durable_name and not request.client_id:
        raise ValueError("durable_name needs client_id")
    start = request.WhichOneof("start_position")
    spec: dict[str, Any] = {}
    if start == "start_at_oldest_possible":
        spec["start"] = "oldest"
    elif start == "start_at_sequence":
        spec.update(start="sequence", start_sequence=request.start_at_sequence)
    elif start == "start_at_timestamp":
        spec.update(start="timestamp", start_time=request.start_at_timestamp.ToNanoseconds() / 1e9)
    elif start == "start_at_time_delta":
        delta = request.start_at_time_delta.ToNanoseconds() / 1e9
        spec.update(start="timestamp", start_time=now - delta)
    elif start == "start_with_last_received":
        spec["start"] = "last"
    manual = request.manual_ack
    timeout = manual.timeout.ToNanoseconds() / 1e9 if manual.HasField("timeout") else 0.0
    return SubscriptionSpec(
        types=types,
        client_id=request.client_id,
        queue_name=request.queue_name,
        durable_name=request.durable_name,
        max_in_flight=request.max_in_flight,
        manual_ack=manual.enable,
        ack_timeout=timeout if timeout > 0 else DEFAULT_ACK_TIMEOUT,
        **spec,
    )


class EventsServicer:
    """Serves Subscribe and Ack; payloads are pre-serialized bytes."""

    def __init__(self, broker: Broker, authority: TokenAuthority) -> None:
        self.broker = broker
        self.authority = authority

    async def subscribe(self, request: events_pb2.SubscribeEventsRequest, context: Context) -> None:
        """Stream events to one member until the client leaves or the server ends it."""
        try:
            spec = spec_from_request(request, self.broker.clock())
        except ValueError as err:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        try:
            self.authority.check(context.invocation_metadata() or (), scopes_for_types(spec.types))
        except AuthError as err:
            await context.abort(err.code, err.details)
        consumer, member = self.broker.subscribe(spec)
        _LOGGER.debug("Stream %d opened (%d types)", member.ident, len(spec.types))
        ended: StreamEndedError | None = None
        try:
            await context.send_initial_metadata(())
            while True:
                delivery = await consumer.next_delivery(member)
                await context.write(delivery.payload)
                consumer.sent(delivery)
        except StreamEndedError as err:
            ended = err
        finally:
            consumer.leave(member)
            _LOGGER.debug("Stream %d closed", member.ident)
        if ended is not None and ended.code_name != "OK":
            await context.abort(grpc.StatusCode[ended.code_name], ended.details)

    async def ack(self, request: events_pb2.AckRequest, context: Context) -> events_pb2.AckResponse:
        """Ack one event; an unknown inbox or sequence is accepted (acks are idempotent)."""
        try:
            self.authority.check(context.invocation_metadata() or (), ())
        except AuthError as err:
            await context.abort(err.code, err.details)
        if not request.inbox or not request.sequence:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "inbox and sequence required")
        self.broker.ack(request.inbox, request.sequence)
        return events_pb2.AckResponse()

    def handler(self) -> grpc.GenericRpcHandler:
        """Return the generic handler registering both methods."""
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "Subscribe": grpc.unary_stream_rpc_method_handler(
                    self.subscribe,
                    request_deserializer=events_pb2.SubscribeEventsRequest.FromString,
                    response_serializer=bytes,
                ),
                "Ack": grpc.unary_unary_rpc_method_handler(
                    self.ack,
                    request_deserializer=events_pb2.AckRequest.FromString,
                    response_serializer=events_pb2.AckResponse.SerializeToString,
                ),
            },
        )
