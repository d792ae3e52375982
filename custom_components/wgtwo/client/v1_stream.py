"""One way to run every v1 event stream: durable queue, manual ack, reconnect, dedup.

:class:`V1EventStream` keeps one v1 stream (:class:`~.v1_services.V1Service`) open until
``stop()``: a durable queue named by the caller (the position survives reconnects and
restarts), explicit acks with each event's ``AckInfo`` after the handler returned (at most
``max_in_flight`` at once), events handled one by one in arrival order, an event delivered
again after it was handled acked without calling the handler, a failing handler's event
left for redelivery (acked after ``max_handler_failures``). The reconnect loop, backoff,
probe and fatal errors are those of the events stream (:class:`~.stream.ResilientStream`);
a stream the server ends cleanly (as it does after about an hour, so that clients use fresh
tokens) is opened again at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import grpc

from .accept import stream_accepted
from .acker import Acker
from .auth import TokenProvider, bearer_metadata
from .backoff import Backoff
from .dedup import FailureCounts, RecentKeys
from .endpoint import Endpoint
from .models import WgtwoEvent
from .proto.wgtwo.events.v1 import stream_pb2
from .status import SubscriptionStats
from .stream import ResilientStream, StateCallback
from .v1_services import V1Service

_LOGGER = logging.getLogger(__name__)

type V1Handler = Callable[[WgtwoEvent], Awaitable[None]]

_SILENT_ACCEPT_AFTER: Final = 1.0
_ACK_DRAIN_TIMEOUT: Final = 1.0
# A stream the server ended cleanly is opened again at once, unless the last one it ended
# was opened again at once less than this long ago (a server ending every stream at once
# gets the backoff instead of a busy loop).
AT_ONCE_INTERVAL: Final = 5.0


@dataclass(frozen=True, slots=True)
class V1StreamConfig:
    """How a v1 stream is opened and kept (times in seconds).

    ``queue_name`` names the durable queue (namespaced per OAuth client by the operator);
    empty asks for a regular stream (testing only: no position kept).
    """

    queue_name: str
    max_in_flight: int = 50
    ack_timeout: float = 30.0
    start_oldest: bool = False
    keepalive_time: float = 30.0
    keepalive_timeout: float = 10.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    connect_timeout: float = 20.0
    ack_rpc_timeout: float = 10.0
    dedup_capacity: int = 10_000
    max_handler_failures: int = 3
    stop_timeout: float = 5.0

    def __post_init__(self) -> None:
        """Refuse what the operator refuses (say so here, not on the wire)."""
        if not 1 <= self.max_in_flight <= 200:
            raise ValueError("max_in_flight must be 1 to 200")
        if not 10 <= self.ack_timeout <= 600:
            raise ValueError("ack_timeout must be 10 s to 10 min")

    def stream_configuration(self) -> stream_pb2.StreamConfiguration:
        """Return the ``StreamConfiguration`` sent with every attempt."""
        config = stream_pb2.StreamConfiguration(max_in_flight=self.max_in_flight)
        if self.queue_name:
            config.durable_queue.custom_name = self.queue_name
        else:
            config.regular.SetInParent()
        config.custom_ack_timeout.FromNanoseconds(int(self.ack_timeout * 1e9))
        if self.start_oldest:
            config.start_at_oldest_possible.SetInParent()
        else:
            config.start_at_new.SetInParent()
        return config


class V1EventStream(ResilientStream):
    """Run one v1 event stream until ``stop()``, handing each event to ``handler`` once."""

    label = "v1 event stream"
    what = "v1 event stream"

    def __init__(
        self,
        endpoint: Endpoint,
        service: V1Service,
        config: V1StreamConfig,
        handler: V1Handler,
        *,
        token_provider: TokenProvider | None = None,
        on_state: StateCallback | None = None,
    ) -> None:
        self._config = config
        self._service = service
        self._stats = SubscriptionStats()
        super().__init__(
            endpoint,
            token_provider=token_provider,
            on_state=on_state,
            backoff=Backoff(config.backoff_initial, config.backoff_max),
            stats=self._stats,
            scopes=service.scopes,
        )
        self._handler = handler
        self._handled = RecentKeys(config.dedup_capacity)
        self._failures = FailureCounts(config.dedup_capacity)
        self._acker = Acker(
            self._stats,
            token_provider,
            config.max_in_flight,
            config.ack_rpc_timeout,
            request=service.ack_request_for,
        )
        self._metadata: tuple[tuple[str, str], ...] = ()
        self._token: str | None = None
        self._call: Any = None
        self._counter = 0
        self._last_at_once = -AT_ONCE_INTERVAL

    @property
    def stats(self) -> SubscriptionStats:
        """Counters since this stream was created."""
        return self._stats

    @property
    def service(self) -> V1Service:
        """The stream this runs."""
        return self._service

    # -- one attempt ----------------------------------------------------------------------

    def _stop_timeout(self) -> float | None:
        return self._config.stop_timeout

    def _create_channel(self, reconnect_backoff_max: float) -> grpc.aio.Channel:
        config = self._config
        return self._endpoint.create_channel(
            keepalive_time=config.keepalive_time,
            keepalive_timeout=config.keepalive_timeout,
            reconnect_backoff_max=reconnect_backoff_max,
            connect_timeout=config.connect_timeout,
        )

    def _at_once_after_end(self) -> bool:
        """Open a cleanly ended stream again at once (not twice within the interval)."""
        now = time.monotonic()
        if not self._connected or now - self._last_at_once < AT_ONCE_INTERVAL:
            return False
        self._last_at_once = now
        return True

    async def _end_attempt(self) -> None:
        # Acks in flight finish first: the server takes them while the stream is open.
        await self._acker.drain(_ACK_DRAIN_TIMEOUT)
        call, self._call = self._call, None
        if call is not None:
            call.cancel()
        await super()._end_attempt()

    async def _connect_once(self, refresh: bool) -> None:
        service = self._service
        if self._token_provider is not None:
            token = await self._token_provider.get_token(
                force_refresh=refresh, rejected=self._token
            )
            if token is not self._token:
                self._token = token
                self._metadata = bearer_metadata(token)
        self._channel = channel = self._create_channel(self._config.backoff_max)
        stream: Any = channel.unary_stream(
            service.stream_path,
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=service.response.FromString,
        )
        self._acker.bind(
            channel.unary_unary(
                service.ack_path,
                request_serializer=lambda message: message.SerializeToString(),
                response_deserializer=service.ack_response.FromString,
            )
        )
        request = service.request(stream_configuration=self._config.stream_configuration())
        call = stream(request, metadata=self._metadata)
        self._call = call
        watcher = asyncio.create_task(self._watch_accepted(call, channel))
        try:
            async for response in call:
                self._mark_connected()
                await self._on_message(response)
                if self._stopping:
                    return
        finally:
            watcher.cancel()
            await asyncio.wait([watcher])

    async def _watch_accepted(self, call: Any, channel: grpc.aio.Channel) -> None:
        if await stream_accepted(call, channel, _SILENT_ACCEPT_AFTER):
            self._mark_connected()

    # -- per event --------------------------------------------------------------------------

    async def _on_message(self, response: Any) -> None:
        stats = self._stats
        stats.received += 1
        stats.last_event_time = datetime.now(UTC)
        metadata: stream_pb2.Metadata = response.metadata
        ack_value = metadata.ack_info.value
        if metadata.is_redelivered:
            stats.redelivered += 1
        key = _event_key(response)
        self._counter += 1
        counter = self._counter
        if key in self._handled:
            stats.duplicates_dropped += 1
            await self._ack(ack_value, counter)
            return
        model = self._service.to_model(response)
        self._in_handler = True
        failure: BaseException | None = None
        try:
            await self._handler(model)
        except asyncio.CancelledError as err:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            failure = err
        except Exception as err:
            failure = err
        finally:
            self._in_handler = False
        if failure is not None:
            stats.handler_failures += 1
            failures = self._failures.increment(key)
            if failures < self._config.max_handler_failures:
                _LOGGER.warning(
                    "Handler failed for a %s event (%s, attempt %d of %d); left unacked",
                    self._service.stream,
                    type(failure).__name__,
                    failures,
                    self._config.max_handler_failures,
                )
                return
            _LOGGER.error(
                "Handler failed %d times for a %s event (%s); acking it to move on",
                failures,
                self._service.stream,
                type(failure).__name__,
            )
            stats.poison_acked += 1
        self._failures.clear(key)
        self._handled.add(key)
        await self._ack(ack_value, counter)

    async def _ack(self, value: str, counter: int) -> None:
        if value:
            await self._acker.send(value, counter)


def _event_key(response: Any) -> bytes:
    """Identify an event across deliveries: its bytes without the ack info and redelivery flag.

    A digest, so the payload (numbers) is not kept in memory as a key.
    """
    copy = type(response)()
    copy.CopyFrom(response)
    copy.metadata.ClearField("ack_info")
    copy.metadata.is_redelivered = False
    return hashlib.blake2b(copy.SerializeToString(deterministic=True), digest_size=16).digest()


__all__ = ["AT_ONCE_INTERVAL", "V1EventStream", "V1Handler", "V1StreamConfig"]
