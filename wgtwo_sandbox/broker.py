"""Event history and subscriptions: the stream semantics of the operator's events service.

One global stream of events with sequence numbers starting at 1. Every subscription is a
"consumer" with a cursor into that stream, a set of unacked events and the connected members
that share it (one member for a plain subscription, several for a queue group).
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import itertools
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2

from .scopes import TYPE_BY_FIELD

DEFAULT_MAX_IN_FLIGHT = 100
DEFAULT_ACK_TIMEOUT = 30.0


@dataclass(slots=True, frozen=True)
class StoredEvent:
    """One event in the history, serialized once without its delivery metadata."""

    sequence: int
    stored_at: float
    event_type: int
    body: bytes


@dataclass(slots=True, frozen=True)
class Delivery:
    """One event handed to one member, ready to write on the wire."""

    sequence: int
    payload: bytes
    redelivered: bool


@dataclass(slots=True, frozen=True)
class SubscriptionSpec:
    """What a Subscribe request asks for, reduced to what the broker needs."""

    types: frozenset[int]
    client_id: str = ""
    queue_name: str = ""
    durable_name: str = ""
    max_in_flight: int = 0
    manual_ack: bool = False
    ack_timeout: float = DEFAULT_ACK_TIMEOUT
    start: str = "new"  # new | oldest | sequence | timestamp | last
    start_sequence: int = 0
    start_time: float = 0.0


class StreamEndedError(Exception):
    """Raised in a member's stream when the server ends all streams."""

    def __init__(self, code_name: str, details: str) -> None:
        super().__init__(code_name, details)
        self.code_name = code_name
        self.details = details


class JournalSink(Protocol):
    """Where the broker records mutations that must survive a restart."""

    def event(self, stored: StoredEvent) -> None:
        """Record a published event."""

    def consumer(self, consumer: Consumer) -> None:
        """Record a durable consumer's configuration and cursor."""

    def delivered(self, inbox: str, sequence: int) -> None:
        """Record that a durable consumer took an event from its cursor."""

    def acked(self, inbox: str, sequence: int) -> None:
        """Record that a durable consumer's event was acked."""

    def dropped(self, inbox: str) -> None:
        """Record that a durable consumer expired."""


@dataclass
class Stats:
    """Counters for tests and diagnostics."""

    published: int = 0
    deliveries: int = 0
    redeliveries: int = 0
    acks: int = 0
    ack_timeouts: int = 0
    streams_opened: int = 0
    streams_ended_by_control: int = 0
    max_in_flight_seen: int = 0


@dataclass(eq=False)
class Member:
    """One open Subscribe stream attached to a consumer."""

    ident: int
    waiter: asyncio.Future[Delivery] | None = None
    ended: StreamEndedError | None = None


@dataclass(eq=False)
class Consumer:
    """A subscription's position and unacked events, shared by its connected members."""

    broker: Broker
    key: tuple[str, str, str] | None  # (client_id, queue_name, durable_name); None: plain
    inbox: str
    spec: SubscriptionSpec
    next_seq: int
    durable: bool = False
    pending: dict[int, tuple[Member | None, asyncio.TimerHandle | None]] = field(
        default_factory=dict
    )
    redeliver: list[int] = field(default_factory=list)  # heap of sequence numbers
    redeliver_set: set[int] = field(default_factory=set)
    waiters: deque[tuple[Member, asyncio.Future[Delivery]]] = field(default_factory=deque)
    members: list[Member] = field(default_factory=list)
    expiry: asyncio.TimerHandle | None = None
    max_in_flight_seen: int = 0

    @property
    def max_in_flight(self) -> int:
        """Return the effective in-flight limit (0 in the request means the default)."""
        return self.spec.max_in_flight or DEFAULT_MAX_IN_FLIGHT

    @property
    def unacked(self) -> list[int]:
        """Return every sequence sent or due but not acked yet."""
        return sorted({*self.pending, *self.redeliver_set})

    def _take(self, member: Member) -> Delivery | None:
        if len(self.pending) >= self.max_in_flight:
            return None
        broker = self.broker
        while self.redeliver:
            seq = heapq.heappop(self.redeliver)
            self.redeliver_set.discard(seq)
            stored = broker.get(seq)
            if stored is not None:
                return self._hand_out(member, stored, redelivered=True)
        if self.next_seq < broker.first_seq:
            self.next_seq = broker.first_seq
        types = self.spec.types
        while self.next_seq <= broker.last_seq:
            stored = broker.history[self.next_seq - broker.first_seq]
            self.next_seq += 1
            if stored.event_type in types:
                if self.durable and broker.journal is not None:
                    broker.journal.delivered(self.inbox, stored.sequence)
                return self._hand_out(member, stored, redelivered=False)
        return None

    def _hand_out(self, member: Member, stored: StoredEvent, *, redelivered: bool) -> Delivery:
        seq = stored.sequence
        timer = None
        if self.spec.manual_ack and not self.broker.closed:
            timer = self.broker.loop.call_later(self.spec.ack_timeout, self._ack_timed_out, seq)
        self.pending[seq] = (member, timer)
        self.max_in_flight_seen = max(self.max_in_flight_seen, len(self.pending))
        stats = self.broker.stats
        stats.max_in_flight_seen = max(stats.max_in_flight_seen, len(self.pending))
        stats.deliveries += 1
        if redelivered:
            stats.redeliveries += 1
        metadata = events_pb2.EventMetadata(
            sequence=seq, is_redelivered=redelivered, ack_inbox=self.inbox
        ).SerializeToString()
        # Protobuf merges repeated occurrences of a message field, so appending the metadata
        # field to the stored body yields the full Event without re-serializing it.
        event = stored.body + b"\x0a" + _varint(len(metadata)) + metadata
        return Delivery(seq, b"\x0a" + _varint(len(event)) + event, redelivered)

    def _requeue(self, seq: int) -> None:
        if seq not in self.redeliver_set:
            self.redeliver_set.add(seq)
            heapq.heappush(self.redeliver, seq)

    def _ack_timed_out(self, seq: int) -> None:
        if self.pending.pop(seq, None) is not None:
            self.broker.stats.ack_timeouts += 1
            self._requeue(seq)
            self.pump()

    def pump(self) -> None:
        """Hand deliverable events to waiting members, oldest waiter first."""
        while self.waiters:
            member, fut = self.waiters[0]
            if fut.done():
                self.waiters.popleft()
                continue
            delivery = self._take(member)
            if delivery is None:
                return
            self.waiters.popleft()
            fut.set_result(delivery)

    async def next_delivery(self, member: Member) -> Delivery:
        """Wait until this member may send its next event and return it."""
        if member.ended is not None:
            raise member.ended
        if not self.waiters:
            delivery = self._take(member)
            if delivery is not None:
                return delivery
        fut: asyncio.Future[Delivery] = self.broker.loop.create_future()
        member.waiter = fut
        self.waiters.append((member, fut))
        try:
            return await fut
        finally:
            member.waiter = None

    def sent(self, delivery: Delivery) -> None:
        """Note a successful write: without manual ack, that is the ack."""
        if not self.spec.manual_ack:
            self.ack(delivery.sequence)

    def ack(self, seq: int) -> bool:
        """Ack one event; return whether it was outstanding."""
        entry = self.pending.pop(seq, None)
        if entry is not None:
            if entry[1] is not None:
                entry[1].cancel()
        elif seq in self.redeliver_set:
            self.redeliver_set.discard(seq)
            self.redeliver.remove(seq)
            heapq.heapify(self.redeliver)
        else:
            return False
        self.broker.stats.acks += 1
        if self.durable and self.broker.journal is not None:
            self.broker.journal.acked(self.inbox, seq)
        self.pump()
        return True

    def join(self) -> Member:
        """Attach a new member (an open stream)."""
        member = Member(next(self.broker.member_ids))
        self.members.append(member)
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
        return member

    def leave(self, member: Member) -> None:
        """Detach a member: its unacked events go to the others (or wait for a resume)."""
        self.members.remove(member)
        if member.waiter is not None and not member.waiter.done():
            member.waiter.cancel()
        # A stale waiter at the head would make the next member wait for a publish.
        self.waiters = deque(w for w in self.waiters if w[0] is not member)
        for seq, (owner, timer) in list(self.pending.items()):
            if owner is member:
                if timer is not None:
                    timer.cancel()
                del self.pending[seq]
                self._requeue(seq)
        if self.members:
            self.pump()
        else:
            self.broker.consumer_idle(self)

    def close(self) -> None:
        """Cancel every timer this consumer holds."""
        for _, timer in self.pending.values():
            if timer is not None:
                timer.cancel()
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
        for _, fut in self.waiters:
            fut.cancel()
        self.waiters.clear()

    def describe(self) -> dict[str, object]:
        """Return a JSON-ready summary for the stats endpoint."""
        return {
            "client_id": self.spec.client_id,
            "queue_name": self.spec.queue_name,
            "durable_name": self.spec.durable_name,
            "durable": self.durable,
            "members": len(self.members),
            "next_sequence": self.next_seq,
            "in_flight": len(self.pending),
            "unacked": len(self.pending) + len(self.redeliver_set),
            "max_in_flight": self.max_in_flight,
            "max_in_flight_seen": self.max_in_flight_seen,
            "manual_ack": self.spec.manual_ack,
        }


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class Broker:
    """The event history plus all consumers."""

    def __init__(
        self,
        *,
        history_seconds: float = 1800.0,
        durable_expiry_seconds: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.history_seconds = history_seconds
        self.durable_expiry_seconds = durable_expiry_seconds
        self.clock = clock
        self.history: list[StoredEvent] = []
        self.last_seq = 0
        self.first_seq = 1
        self.consumers: dict[tuple[str, str, str], Consumer] = {}
        self.by_inbox: dict[str, Consumer] = {}
        self.plain: set[Consumer] = set()
        self.stats = Stats()
        self.journal: JournalSink | None = None
        self.member_ids = itertools.count(1)
        self.listeners: list[Callable[[events_pb2.Event, StoredEvent], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """Return the loop the broker's timers run on."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def get(self, seq: int) -> StoredEvent | None:
        """Return the stored event with this sequence, if still in history."""
        index = seq - self.first_seq
        if 0 <= index < len(self.history):
            return self.history[index]
        return None

    def publish(self, events: Iterable[events_pb2.Event]) -> list[int]:
        """Append events to the stream and wake the consumers; return their sequences."""
        sequences = []
        now = self.clock()
        self._prune(now)
        for source in events:
            event = events_pb2.Event()
            event.CopyFrom(source)
            event.ClearField("metadata")
            if not event.HasField("timestamp"):
                event.timestamp.FromNanoseconds(int(now * 1e9))
            kind = event.WhichOneof("event")
            event_type = _type_of(kind)
            self.last_seq += 1
            stored = StoredEvent(self.last_seq, now, event_type, event.SerializeToString())
            self.append(stored)
            if self.journal is not None:
                self.journal.event(stored)
            for listener in self.listeners:
                listener(event, stored)
            sequences.append(stored.sequence)
        self.stats.published += len(sequences)
        for consumer in [*self.consumers.values(), *self.plain]:
            if consumer.waiters:
                consumer.pump()
        return sequences

    def append(self, stored: StoredEvent) -> None:
        """Add a stored event to the history (also used when restoring state)."""
        if not self.history:
            self.first_seq = stored.sequence
        self.history.append(stored)
        self.last_seq = max(self.last_seq, stored.sequence)

    def _prune(self, now: float) -> None:
        cutoff = now - self.history_seconds
        if self.history and self.history[0].stored_at < cutoff:
            keep = bisect.bisect_left(self.history, cutoff, key=lambda s: s.stored_at)
            del self.history[:keep]
            self.first_seq = self.history[0].sequence if self.history else self.last_seq + 1

    def _start_seq(self, spec: SubscriptionSpec) -> int:
        if spec.start == "oldest":
            return self.first_seq
        if spec.start == "sequence":
            return max(spec.start_sequence, self.first_seq)
        if spec.start == "timestamp":
            index = bisect.bisect_left(self.history, spec.start_time, key=lambda s: s.stored_at)
            return self.first_seq + index
        if spec.start == "last":
            for stored in reversed(self.history):
                if stored.event_type in spec.types:
                    return stored.sequence
        return self.last_seq + 1

    def subscribe(self, spec: SubscriptionSpec) -> tuple[Consumer, Member]:
        """Find or create the consumer for a request and attach a member to it."""
        self._prune(self.clock())  # a resumed subscription gets nothing older than history
        named = bool(spec.queue_name or spec.durable_name)
        key = (spec.client_id, spec.queue_name, spec.durable_name)
        consumer = self.consumers.get(key) if named else None
        if consumer is None:
            consumer = Consumer(
                broker=self,
                key=key if named else None,
                inbox=f"_INBOX.{uuid.uuid4().hex}",
                spec=spec,
                next_seq=self._start_seq(spec),
                durable=bool(spec.durable_name),
            )
            self.by_inbox[consumer.inbox] = consumer
            if named:
                self.consumers[key] = consumer
            else:
                self.plain.add(consumer)
        else:
            # A resumed or joined subscription keeps its position; the latest request's
            # filter and flow settings apply from now on.
            consumer.spec = spec
        if consumer.durable and self.journal is not None:
            self.journal.consumer(consumer)
        self.stats.streams_opened += 1
        return consumer, consumer.join()

    def restore_consumer(
        self, inbox: str, spec: SubscriptionSpec, next_seq: int, unacked: Iterable[int]
    ) -> Consumer:
        """Recreate a durable consumer from saved state; its unacked events are redelivered."""
        key = (spec.client_id, spec.queue_name, spec.durable_name)
        consumer = Consumer(
            broker=self, key=key, inbox=inbox, spec=spec, next_seq=next_seq, durable=True
        )
        for seq in unacked:
            consumer._requeue(seq)
        self.consumers[key] = consumer
        self.by_inbox[inbox] = consumer
        self.consumer_idle(consumer)
        return consumer

    def consumer_idle(self, consumer: Consumer) -> None:
        """Handle a consumer whose last member left: drop it, or let a durable one expire."""
        if self.closed:
            return  # shutting down: streams closing now must not start timers
        if consumer.durable:
            consumer.expiry = self.loop.call_later(
                self.durable_expiry_seconds, self._expire_consumer, consumer
            )
        else:
            self._drop(consumer)

    def _expire_consumer(self, consumer: Consumer) -> None:
        consumer.expiry = None
        self._drop(consumer)
        if self.journal is not None:
            self.journal.dropped(consumer.inbox)

    def _drop(self, consumer: Consumer) -> None:
        consumer.close()
        self.by_inbox.pop(consumer.inbox, None)
        if consumer.key is None:
            self.plain.discard(consumer)
        elif self.consumers.get(consumer.key) is consumer:
            del self.consumers[consumer.key]

    def ack(self, inbox: str, seq: int) -> bool:
        """Ack an event for the consumer behind an inbox; unknown ones are ignored."""
        consumer = self.by_inbox.get(inbox)
        return consumer is not None and consumer.ack(seq)

    def all_consumers(self) -> list[Consumer]:
        """Return every live consumer."""
        return [*self.consumers.values(), *self.plain]

    def end_streams(self, code_name: str, details: str) -> int:
        """End every open stream with a status; return how many were ended."""
        count = 0
        for consumer in self.all_consumers():
            for member in consumer.members:
                if member.ended is None:
                    member.ended = StreamEndedError(code_name, details)
                    count += 1
                    if member.waiter is not None and not member.waiter.done():
                        member.waiter.set_exception(member.ended)
        self.stats.streams_ended_by_control += count
        return count

    def close(self) -> None:
        """Cancel every timer (server shutdown)."""
        self.closed = True
        for consumer in self.all_consumers():
            consumer.close()

    def snapshot(self) -> dict[str, object]:
        """Return JSON-ready counters and per-subscription state."""
        subs = [c.describe() for c in self.all_consumers()]
        return {
            **self.stats.__dict__,
            "last_sequence": self.last_seq,
            "first_sequence": self.first_seq,
            "history_size": len(self.history),
            "open_streams": sum(len(c.members) for c in self.all_consumers()),
            "subscriptions": subs,
        }


def _type_of(kind: str | None) -> int:
    if kind is None:
        return events_pb2.EventType.UNSPECIFIED
    return TYPE_BY_FIELD[kind]
