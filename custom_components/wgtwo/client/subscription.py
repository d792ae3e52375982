"""The resilient event subscription loop: stream, handle, ack, reconnect."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from .auth import TokenProvider
from .backoff import Backoff
from .config import StartPosition, SubscriptionConfig
from .endpoint import Endpoint
from .errors import MissingScopeError
from .event_types import EventType, event_types_for_scopes, scopes_for
from .models import SmsEvent, UnknownEvent, WgtwoEvent, event_from_proto
from .proto.wgtwo.events.v0 import events_pb2, events_pb2_grpc
from .stream import Delivery, EventHandler, EventStream, StateCallback

_LOGGER = logging.getLogger(__name__)

type RawHook = Callable[[events_pb2.SubscribeEventsResponse], None]


class EventSubscription(EventStream):
    """Keep one subscription alive until ``stop()``, handing each event to ``handler`` once.

    Events are handled one at a time in arrival order; each is acked after the handler
    returns (acks run concurrently so the stream never waits on an ack round trip). A
    handler that raises leaves the event unacked so the server redelivers it; after
    ``max_handler_failures`` failures the event is acked anyway. ``raw_hook`` sees every
    received response (including duplicates) before it is decoded, e.g. to print it.
    """

    label = "Event stream"
    what = "subscription"

    _config: SubscriptionConfig

    def __init__(
        self,
        endpoint: Endpoint,
        config: SubscriptionConfig,
        handler: EventHandler,
        *,
        token_provider: TokenProvider | None = None,
        on_state: StateCallback | None = None,
        raw_hook: RawHook | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(
            endpoint,
            config,
            handler,
            token_provider=token_provider,
            on_state=on_state,
            scopes=scopes_for(config.event_types),
            backoff=backoff,
        )
        self._raw_hook = raw_hook
        self._ever_connected = False
        self._max_sequence = 0
        # Received but not yet handled: where a plain subscription resumes after a drop.
        # Durable subscriptions and queue groups keep their position on the server.
        self._pending: set[int] = set()
        self._track_pending = not (config.durable_name or config.queue_name)
        # An SMS is also remembered by its UUID: redelivered under a new sequence, it is
        # known all the same (None: the event being handled is no SMS with a UUID).
        self._alt_key: tuple[str, str, Any, str | None] | None = None

    @property
    def config(self) -> SubscriptionConfig:
        """The settings this subscription runs with."""
        return self._config

    # -- the stream's part of the loop ------------------------------------------------

    def _extra_channel_options(self) -> tuple[tuple[str, int | str], ...]:
        return self._config.extra_channel_options

    def _retry_event_types(self) -> tuple[EventType, ...]:
        return self._config.event_types

    def _missing_scope(self, err: MissingScopeError) -> MissingScopeError:
        # The token endpoint names scopes; say which subscribed types need them.
        types = event_types_for_scopes(err.missing_scopes, self._config.event_types)
        return MissingScopeError(err.missing_scopes, types)

    def _on_connected(self) -> None:
        self._ever_connected = True

    def _start_for_attempt(self) -> StartPosition | None:
        """Where this attempt starts: a plain subscription resumes after what it handled."""
        config = self._config
        if not self._ever_connected and not self._max_sequence:
            return config.start
        if config.durable_name or config.queue_name:
            # The server keeps the position of durable subscriptions and queue groups;
            # a start position would move it.
            return StartPosition.new() if self._ever_connected else config.start
        if self._pending:
            return StartPosition.sequence(min(self._pending))
        if self._max_sequence:
            return StartPosition.sequence(self._max_sequence + 1)
        return config.start

    async def _connect_once(self, refresh: bool) -> None:
        metadata = await self._call_metadata(refresh)
        channel = self._open_channel()
        stub = events_pb2_grpc.EventsServiceStub(channel)
        self._acker.bind(stub.Ack)
        request = self._config.build_request(self._start_for_attempt())
        await self._consume(stub.Subscribe(request, metadata=metadata), channel)

    # -- per event ---------------------------------------------------------------------------

    def _receive(
        self, response: events_pb2.SubscribeEventsResponse, delivery: Delivery
    ) -> WgtwoEvent | None:
        event = response.event
        meta = event.metadata
        delivery.number = sequence = meta.sequence
        delivery.ack_to = meta.ack_inbox if self._config.manual_ack else None
        if meta.is_redelivered:
            self._stats.redelivered += 1
        if self._raw_hook is not None:
            try:
                self._raw_hook(response)
            except Exception as err:
                # Only the type: the message could quote the event (numbers, text).
                _LOGGER.warning("Raw event hook failed: %s", type(err).__name__)
        # Sequences start at 1; 0 means the server sent no metadata, so such events are
        # neither deduplicated nor tracked by sequence.
        if sequence and sequence in self._handled:
            return None
        if sequence > self._max_sequence:
            self._max_sequence = sequence
        if self._track_pending and sequence:
            self._pending.add(sequence)
        model = event_from_proto(event)
        self._alt_key = None
        if isinstance(model, SmsEvent) and model.uuid:
            alt_key = ("sms", model.uuid, model.direction, model.owner)
            if alt_key in self._handled:
                # The SMS again under another sequence: that sequence is done with too.
                delivery.key = sequence
                self._finish(delivery)
                return None
            self._alt_key = alt_key
        elif isinstance(model, UnknownEvent):
            self._stats.unknown_events += 1
            _LOGGER.debug("Event #%d has a payload this version does not know", sequence)
        # Without a sequence an event is known by a digest of its bytes: the bytes themselves
        # (numbers, SMS text) are not kept in memory as a key.
        delivery.key = sequence or _digest(event)
        return model

    def _describe(self, model: WgtwoEvent, delivery: Delivery) -> str:
        return f"{model.kind} event #{delivery.number}"

    def _finish(self, delivery: Delivery) -> None:
        sequence = delivery.number
        self._failures.clear(delivery.key)
        if sequence:
            self._handled.add(sequence)
        if self._alt_key is not None:
            self._handled.add(self._alt_key)
        self._pending.discard(sequence)


def _digest(event: events_pb2.Event) -> bytes:
    """Return a short digest of an event's bytes (the same event gives the same digest)."""
    return hashlib.blake2b(event.SerializeToString(deterministic=True), digest_size=16).digest()


__all__ = ["EventHandler", "EventSubscription", "MissingScopeError", "RawHook", "StateCallback"]
