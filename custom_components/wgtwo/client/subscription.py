"""The resilient event subscription loop: stream, handle, ack, reconnect."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import grpc

from .accept import stream_accepted
from .acker import Acker
from .auth import TokenProvider, bearer_metadata
from .backoff import Backoff
from .config import StartPosition, SubscriptionConfig
from .dedup import FailureCounts, RecentKeys
from .endpoint import Endpoint
from .errors import MissingScopeError
from .event_types import EventType, event_types_for_scopes, scopes_for
from .models import SmsEvent, UnknownEvent, WgtwoEvent, event_from_proto
from .proto.wgtwo.events.v0 import events_pb2, events_pb2_grpc
from .status import SubscriptionStats
from .stream import ResilientStream, StateCallback

_LOGGER = logging.getLogger(__name__)

type EventHandler = Callable[[WgtwoEvent], Awaitable[None]]
type RawHook = Callable[[events_pb2.SubscribeEventsResponse], None]
type Metadata = tuple[tuple[str, str], ...]

# How long a stream without headers must stay open on a ready connection to count.
_SILENT_ACCEPT_AFTER = 1.0

# How long to let pending acks finish when a connection ends or the loop stops.
_ACK_DRAIN_TIMEOUT = 1.0


class EventSubscription(ResilientStream):
    """Keep one subscription alive until ``stop()``, handing each event to ``handler`` once.

    Events are handled one at a time in arrival order; each is acked after the handler
    returns (acks run concurrently so the stream never waits on an ack round trip). A
    handler that raises leaves the event unacked so the server redelivers it; after
    ``max_handler_failures`` failures the event is acked anyway. ``raw_hook`` sees every
    received response (including duplicates) before it is decoded, e.g. to print it.
    """

    label = "Event stream"
    what = "subscription"

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
        self._config = config
        self._stats = SubscriptionStats()
        super().__init__(
            endpoint,
            token_provider=token_provider,
            on_state=on_state,
            backoff=backoff or Backoff(config.backoff_initial, config.backoff_max),
            stats=self._stats,
            scopes=scopes_for(config.event_types),
        )
        self._handler = handler
        self._raw_hook = raw_hook
        self._handled = RecentKeys(config.dedup_capacity)
        self._failures = FailureCounts(config.dedup_capacity)
        self._metadata: Metadata = ()
        self._metadata_token: str | None = None
        self._acker = Acker(
            self._stats, token_provider, config.max_in_flight, config.ack_rpc_timeout
        )
        self._call: Any = None
        self._ever_connected = False
        self._max_sequence = 0
        # Received but not yet handled: where a plain subscription resumes after a drop.
        # Durable subscriptions and queue groups keep their position on the server.
        self._pending: set[int] = set()
        self._track_pending = not (config.durable_name or config.queue_name)

    @property
    def stats(self) -> SubscriptionStats:
        """Counters since this subscription was created."""
        return self._stats

    @property
    def config(self) -> SubscriptionConfig:
        """The settings this subscription runs with."""
        return self._config

    # -- the stream's part of the loop ------------------------------------------------

    def _stop_timeout(self) -> float | None:
        return self._config.stop_timeout

    def _create_channel(self, reconnect_backoff_max: float) -> grpc.aio.Channel:
        config = self._config
        return self._endpoint.create_channel(
            keepalive_time=config.keepalive_time,
            keepalive_timeout=config.keepalive_timeout,
            reconnect_backoff_max=reconnect_backoff_max,
            connect_timeout=config.connect_timeout,
            extra_options=config.extra_channel_options,
        )

    def _retry_event_types(self) -> tuple[EventType, ...]:
        return self._config.event_types

    def _missing_scope(self, err: MissingScopeError) -> MissingScopeError:
        # The token endpoint names scopes; say which subscribed types need them.
        types = event_types_for_scopes(err.missing_scopes, self._config.event_types)
        return MissingScopeError(err.missing_scopes, types)

    def _on_connected(self) -> None:
        self._ever_connected = True

    async def _end_attempt(self) -> None:
        # Acks in flight finish first: the server takes them while the stream is open.
        await self._acker.drain(_ACK_DRAIN_TIMEOUT)
        call, self._call = self._call, None
        if call is not None:
            call.cancel()
        await super()._end_attempt()

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

    async def _connect_once(self, force_refresh: bool) -> None:
        config = self._config
        if self._token_provider is not None:
            token = await self._token_provider.get_token(
                force_refresh=force_refresh, rejected=self._metadata_token
            )
            self._set_metadata(token)
        self._channel = channel = self._create_channel(config.backoff_max)
        stub = events_pb2_grpc.EventsServiceStub(channel)
        self._acker.bind(stub.Ack)
        request = config.build_request(self._start_for_attempt())
        call = stub.Subscribe(request, metadata=self._metadata)
        self._call = call
        watcher = asyncio.create_task(self._watch_connected(call, channel))
        try:
            on_message = self._on_message
            # Iterating raises AioRpcError when the stream ends with an error status.
            async for response in call:
                if not self._connected:
                    self._mark_connected()
                await on_message(response)
                if self._stopping:
                    return
        finally:
            watcher.cancel()
            # wait(), not await: a cancellation of this task must not be swallowed here.
            await asyncio.wait([watcher])
        code = await call.code()
        if code != grpc.StatusCode.OK:  # pragma: no cover - older grpc versions
            # read() returned EOF on an error status in some grpc versions.
            raise grpc.aio.AioRpcError(
                code,
                await call.initial_metadata(),
                await call.trailing_metadata(),
                await call.details(),
            )

    async def _watch_connected(self, call: Any, channel: grpc.aio.Channel) -> None:
        """Report CONNECTED once the server accepted the stream (events may come later)."""
        if await stream_accepted(call, channel, _SILENT_ACCEPT_AFTER):
            self._mark_connected()

    def _set_metadata(self, token: str) -> None:
        if token is not self._metadata_token:
            self._metadata_token = token
            self._metadata = bearer_metadata(token)

    # -- per event ---------------------------------------------------------------------------

    async def _on_message(self, response: events_pb2.SubscribeEventsResponse) -> None:
        stats = self._stats
        event = response.event
        meta = event.metadata
        sequence = meta.sequence
        stats.received += 1
        stats.last_event_time = datetime.now(UTC)
        if meta.is_redelivered:
            stats.redelivered += 1
        if self._raw_hook is not None:
            try:
                self._raw_hook(response)
            except Exception as err:
                # Only the type: the message could quote the event (numbers, text).
                _LOGGER.warning("Raw event hook failed: %s", type(err).__name__)
        # Sequences start at 1; 0 means the server sent no metadata, so such events are
        # neither deduplicated nor tracked by sequence.
        if sequence and sequence in self._handled:
            stats.duplicates_dropped += 1
            await self._ack(meta)
            return
        if sequence > self._max_sequence:
            self._max_sequence = sequence
        if self._track_pending and sequence:
            self._pending.add(sequence)
        model = event_from_proto(event)
        alt_key: tuple[str, str, Any, str | None] | None = None
        if isinstance(model, SmsEvent) and model.uuid:
            alt_key = ("sms", model.uuid, model.direction, model.owner)
            if alt_key in self._handled:
                stats.duplicates_dropped += 1
                self._finish(sequence, None)
                await self._ack(meta)
                return
        elif isinstance(model, UnknownEvent):
            stats.unknown_events += 1
            _LOGGER.debug("Event #%d has a payload this version does not know", sequence)
        # Without a sequence an event is known by a digest of its bytes: the bytes themselves
        # (numbers, SMS text) are not kept in memory as a key.
        failure_key: Any = sequence or _digest(event)
        self._in_handler = True
        failure: BaseException | None = None
        try:
            await self._handler(model)
        except asyncio.CancelledError as err:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # this loop is being cancelled (stop or shutdown)
            failure = err  # the handler's own await was cancelled: a handler failure
        except Exception as err:
            failure = err
        finally:
            self._in_handler = False
        if failure is not None:
            stats.handler_failures += 1
            failures = self._failures.increment(failure_key)
            if not self._config.manual_ack:
                _LOGGER.warning(
                    "Handler failed for %s event #%d (%s); without manual ack it is not "
                    "redelivered",
                    model.kind,
                    sequence,
                    type(failure).__name__,
                )
                self._finish(sequence, alt_key, failure_key)
                return
            if failures < self._config.max_handler_failures:
                _LOGGER.warning(
                    "Handler failed for %s event #%d (%s, attempt %d of %d); "
                    "left unacked for redelivery",
                    model.kind,
                    sequence,
                    type(failure).__name__,
                    failures,
                    self._config.max_handler_failures,
                )
                return
            _LOGGER.error(
                "Handler failed %d times for %s event #%d (%s); acking it to move on",
                failures,
                model.kind,
                sequence,
                type(failure).__name__,
            )
            stats.poison_acked += 1
        self._finish(sequence, alt_key, failure_key)
        if not self._ack_nowait(meta):
            await self._ack(meta)

    def _finish(self, sequence: int, alt_key: Any, failure_key: Any = None) -> None:
        self._failures.clear(sequence if failure_key is None else failure_key)
        if sequence:
            self._handled.add(sequence)
        if alt_key is not None:
            self._handled.add(alt_key)
        self._pending.discard(sequence)

    async def _ack(self, meta: events_pb2.EventMetadata) -> None:
        if self._config.manual_ack:
            await self._acker.send(meta.ack_inbox, meta.sequence)

    def _ack_nowait(self, meta: events_pb2.EventMetadata) -> bool:
        """Ack without suspending when nothing stands in the way (False: await :meth:`_ack`)."""
        return not self._config.manual_ack or self._acker.send_nowait(meta.ack_inbox, meta.sequence)


def _digest(event: events_pb2.Event) -> bytes:
    """Return a short digest of an event's bytes (the same event gives the same digest)."""
    return hashlib.blake2b(event.SerializeToString(deterministic=True), digest_size=16).digest()


__all__ = ["EventHandler", "EventSubscription", "MissingScopeError", "RawHook", "StateCallback"]
