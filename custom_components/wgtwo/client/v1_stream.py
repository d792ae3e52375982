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

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Final

from .auth import TokenProvider
from .endpoint import Endpoint
from .models import WgtwoEvent
from .proto.wgtwo.events.v1 import stream_pb2
from .stream import Delivery, EventHandler, EventStream, StateCallback
from .v1_services import V1Service

type V1Handler = EventHandler

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

    @property
    def manual_ack(self) -> bool:
        """Every event is acked with its ``AckInfo`` (an unacked one is delivered again)."""
        return True

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


class V1EventStream(EventStream):
    """Run one v1 event stream until ``stop()``, handing each event to ``handler`` once."""

    label = "v1 event stream"
    what = "v1 event stream"

    _config: V1StreamConfig

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
        self._service = service
        super().__init__(
            endpoint,
            config,
            handler,
            token_provider=token_provider,
            on_state=on_state,
            scopes=service.scopes,
            ack_request=service.ack_request_for,
        )
        self._last_at_once = -AT_ONCE_INTERVAL

    @property
    def service(self) -> V1Service:
        """The stream this runs."""
        return self._service

    # -- one attempt ----------------------------------------------------------------------

    def _at_once_after_end(self) -> bool:
        """Open a cleanly ended stream again at once (not twice within the interval)."""
        now = time.monotonic()
        if not self._connected or now - self._last_at_once < AT_ONCE_INTERVAL:
            return False
        self._last_at_once = now
        return True

    async def _connect_once(self, refresh: bool) -> None:
        service = self._service
        metadata = await self._call_metadata(refresh)
        channel = self._open_channel()
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
        await self._consume(stream(request, metadata=metadata), channel)

    # -- per event --------------------------------------------------------------------------

    def _receive(self, response: Any, delivery: Delivery) -> WgtwoEvent | None:
        metadata: stream_pb2.Metadata = response.metadata
        # v1 events carry no sequence: the stream numbers them (for the log).
        delivery.number += 1
        delivery.ack_to = metadata.ack_info.value or None
        if metadata.is_redelivered:
            self._stats.redelivered += 1
        delivery.key = key = _event_key(response)
        if key in self._handled:
            return None
        return self._service.to_model(response)

    def _describe(self, _model: WgtwoEvent, _delivery: Delivery) -> str:
        return f"a {self._service.stream} event"


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
