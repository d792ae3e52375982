"""Subscription settings and start positions, as plain values (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from .event_types import EventType
from .proto.wgtwo.events.v0 import events_pb2


class StartKind(StrEnum):
    """Where a subscription starts reading."""

    NEW = "new"
    OLDEST = "oldest"
    SEQUENCE = "sequence"
    TIMESTAMP = "timestamp"
    TIME_DELTA = "time_delta"
    LAST_RECEIVED = "last_received"


@dataclass(frozen=True, slots=True)
class StartPosition:
    """A start position for ``SubscribeEventsRequest``; ``None`` in a config means new only."""

    kind: StartKind
    value: int | datetime | timedelta | None = None

    @classmethod
    def new(cls) -> StartPosition:
        """Only events published after the subscription starts."""
        return cls(StartKind.NEW)

    @classmethod
    def oldest(cls) -> StartPosition:
        """Start at the oldest event the server keeps (about 30 minutes of history)."""
        return cls(StartKind.OLDEST)

    @classmethod
    def sequence(cls, sequence: int) -> StartPosition:
        """Start at a stream sequence number (sequence numbers start at 1)."""
        if sequence < 0:
            raise ValueError("sequence must not be negative")
        return cls(StartKind.SEQUENCE, sequence)

    @classmethod
    def timestamp(cls, when: datetime) -> StartPosition:
        """Start at the first event at or after ``when`` (naive datetimes are UTC)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return cls(StartKind.TIMESTAMP, when)

    @classmethod
    def time_delta(cls, delta: timedelta) -> StartPosition:
        """Start ``delta`` before now."""
        return cls(StartKind.TIME_DELTA, delta)

    @classmethod
    def last_received(cls) -> StartPosition:
        """Start with the last event the server has."""
        return cls(StartKind.LAST_RECEIVED)

    def apply(self, request: events_pb2.SubscribeEventsRequest) -> None:
        """Set the request's ``start_position`` oneof."""
        value = self.value
        if self.kind is StartKind.OLDEST:
            request.start_at_oldest_possible.SetInParent()
        elif self.kind is StartKind.SEQUENCE and isinstance(value, int):
            request.start_at_sequence = value
        elif self.kind is StartKind.TIMESTAMP and isinstance(value, datetime):
            request.start_at_timestamp.FromDatetime(value)
        elif self.kind is StartKind.TIME_DELTA and isinstance(value, timedelta):
            request.start_at_time_delta.FromTimedelta(value)
        elif self.kind is StartKind.LAST_RECEIVED:
            request.start_with_last_received.SetInParent()

    @classmethod
    def parse(cls, text: str) -> StartPosition:
        """Parse ``new``, ``oldest``, ``last``, ``sequence:N`` (used by command-line tools)."""
        text = text.strip().lower()
        if text == "new":
            return cls.new()
        if text == "oldest":
            return cls.oldest()
        if text in ("last", "last_received"):
            return cls.last_received()
        if text.startswith("sequence:"):
            try:
                return cls.sequence(int(text.split(":", 1)[1]))
            except ValueError:
                pass
        raise ValueError(f"invalid start position {text!r}")


@dataclass(frozen=True, slots=True)
class SubscriptionConfig:
    """What to subscribe to and how the loop behaves (times in seconds)."""

    event_types: tuple[EventType, ...]
    client_id: str = ""
    durable_name: str = ""
    queue_name: str = ""
    max_in_flight: int = 50
    manual_ack: bool = True
    ack_timeout: float = 30.0
    start: StartPosition | None = None
    keepalive_time: float = 30.0
    keepalive_timeout: float = 10.0
    max_handler_failures: int = 3
    dedup_capacity: int = 10000
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    connect_timeout: float = 20.0
    ack_rpc_timeout: float = 10.0
    stop_timeout: float = 5.0
    extra_channel_options: tuple[tuple[str, int | str], ...] = field(default=())

    def __post_init__(self) -> None:
        """Normalise event types and reject values the server would refuse."""
        types = _normalise_types(self.event_types)
        if not types:
            raise ValueError("at least one event type is required")
        object.__setattr__(self, "event_types", types)
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if self.max_handler_failures < 1:
            raise ValueError("max_handler_failures must be at least 1")
        if self.dedup_capacity < 1:
            raise ValueError("dedup_capacity must be at least 1")
        if self.durable_name and not self.client_id:
            raise ValueError("a durable subscription needs a client_id")

    def build_request(
        self, start: StartPosition | None = None
    ) -> events_pb2.SubscribeEventsRequest:
        """Build the Subscribe request (``start`` overrides the configured start)."""
        request = events_pb2.SubscribeEventsRequest(
            type=[events_pb2.EventType.Value(t.value) for t in self.event_types],
            client_id=self.client_id,
            queue_name=self.queue_name,
            durable_name=self.durable_name,
            max_in_flight=self.max_in_flight,
        )
        if self.manual_ack:
            request.manual_ack.enable = True
            request.manual_ack.timeout.FromTimedelta(timedelta(seconds=self.ack_timeout))
        position = start if start is not None else self.start
        if position is not None:
            position.apply(request)
        return request


def _normalise_types(types: Iterable[EventType | str]) -> tuple[EventType, ...]:
    if isinstance(types, str):
        types = (types,)
    seen: dict[EventType, None] = {}
    for event_type in types:
        seen[EventType(event_type)] = None
    return tuple(seen)
