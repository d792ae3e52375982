"""Append-only JSON-lines journal so a killed sandbox restarts with its state.

Every mutation (event published, durable consumer created, event taken from a cursor, ack,
consumer expired, voicemail read/deleted) is one line, written through to the OS at once so a
SIGKILL loses nothing. On start the journal is replayed and rewritten compactly.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2

from .broker import Broker, Consumer, StoredEvent, SubscriptionSpec
from .voicemail_service import VoicemailStore

_LOGGER = logging.getLogger(__name__)
COMPACT_AFTER_LINES = 50_000


class Journal:
    """Records broker and voicemail mutations; restores them on load."""

    def __init__(self, path: Path, voicemails: VoicemailStore) -> None:
        self.path = path
        self.voicemails = voicemails
        self._file: IO[str] | None = None
        self._broker: Broker | None = None
        self._lines = 0
        self._limit = COMPACT_AFTER_LINES
        self._vm_changes: dict[str, tuple[bool, bool]] = {}

    # -- writing -------------------------------------------------------------------------
    def _write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()
        self._lines += 1
        if self._lines > self._limit and self._broker is not None:
            self.compact(self._broker)

    def event(self, stored: StoredEvent) -> None:
        """Record a published event."""
        self._write(
            {
                "t": "ev",
                "s": stored.sequence,
                "at": stored.stored_at,
                "ty": stored.event_type,
                "b": base64.b64encode(stored.body).decode(),
            }
        )

    def consumer(self, consumer: Consumer) -> None:
        """Record a durable consumer's settings and cursor."""
        self._write(_consumer_record(consumer, with_unacked=False))

    def delivered(self, inbox: str, sequence: int) -> None:
        """Record an event taken from a durable cursor (unacked from now on)."""
        self._write({"t": "d", "i": inbox, "s": sequence})

    def acked(self, inbox: str, sequence: int) -> None:
        """Record an ack."""
        self._write({"t": "a", "i": inbox, "s": sequence})

    def dropped(self, inbox: str) -> None:
        """Record an expired durable consumer."""
        self._write({"t": "x", "i": inbox})

    def voicemail_changed(self, voicemail_id: str, *, played: bool, deleted: bool) -> None:
        """Record a voicemail marked read or deleted."""
        self._vm_changes[voicemail_id] = (played, deleted)
        self._write({"t": "vm", "id": voicemail_id, "p": played, "del": deleted})

    # -- loading -------------------------------------------------------------------------
    def load(self, broker: Broker) -> None:
        """Replay the journal into the broker and voicemail store, then compact it."""
        events: list[StoredEvent] = []
        consumers: dict[str, dict[str, Any]] = {}
        last_seq = 0
        if self.path.exists():
            with self.path.open(encoding="utf-8") as source:
                for line in source:
                    try:
                        record = json.loads(line)
                        kind = record["t"]
                    except ValueError, KeyError, TypeError:
                        continue  # a line torn by a kill mid-write
                    if kind == "ev":
                        body = base64.b64decode(record["b"])
                        events.append(StoredEvent(record["s"], record["at"], record["ty"], body))
                        last_seq = max(last_seq, record["s"])
                    elif kind == "seq":
                        last_seq = max(last_seq, record["last"])
                    elif kind == "c":
                        previous = consumers.get(record["i"], {})
                        unacked = set(previous.get("unacked", ())) | set(record.get("u", ()))
                        consumers[record["i"]] = {**record, "unacked": unacked}
                    elif kind == "d" and record["i"] in consumers:
                        state = consumers[record["i"]]
                        state["n"] = max(state["n"], record["s"] + 1)
                        state["unacked"].add(record["s"])
                    elif kind == "a" and record["i"] in consumers:
                        consumers[record["i"]]["unacked"].discard(record["s"])
                    elif kind == "x":
                        consumers.pop(record["i"], None)
                    elif kind == "vm":
                        self._vm_changes[record["id"]] = (record["p"], record["del"])
        cutoff = broker.clock() - broker.history_seconds
        for stored in events:
            if stored.stored_at >= cutoff:
                broker.append(stored)
                event = events_pb2.Event.FromString(stored.body)
                for listener in broker.listeners:
                    listener(event, stored)
        broker.last_seq = max(broker.last_seq, last_seq)
        if not broker.history:
            broker.first_seq = broker.last_seq + 1
        for voicemail_id, (played, deleted) in self._vm_changes.items():
            self.voicemails.apply_change(voicemail_id, played=played, deleted=deleted)
        for inbox, state in consumers.items():
            spec = SubscriptionSpec(**{**state["spec"], "types": frozenset(state["spec"]["types"])})
            broker.restore_consumer(inbox, spec, state["n"], sorted(state["unacked"]))
        _LOGGER.info(
            "Restored %d events and %d durable subscriptions", len(broker.history), len(consumers)
        )
        self.compact(broker)

    def compact(self, broker: Broker) -> None:
        """Rewrite the journal as the current state only."""
        self._broker = broker
        self._limit = 1 << 62
        self._lines = 0
        if self._file is not None:
            self._file.close()
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as out:
            self._file = out
            self._write({"t": "seq", "last": broker.last_seq})
            for stored in broker.history:
                self.event(stored)
            for consumer in broker.consumers.values():
                if consumer.durable:
                    self._write(_consumer_record(consumer, with_unacked=True))
            for voicemail_id, (played, deleted) in self._vm_changes.items():
                if deleted or voicemail_id in self.voicemails.voicemails:
                    self._write({"t": "vm", "id": voicemail_id, "p": played, "del": deleted})
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        self._file = self.path.open("a", encoding="utf-8")
        self._limit = max(COMPACT_AFTER_LINES, 2 * self._lines)
        self._lines = 0

    def close(self) -> None:
        """Close the journal file."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _consumer_record(consumer: Consumer, *, with_unacked: bool) -> dict[str, Any]:
    spec = asdict(consumer.spec)
    spec["types"] = sorted(consumer.spec.types)
    record: dict[str, Any] = {"t": "c", "i": consumer.inbox, "spec": spec, "n": consumer.next_seq}
    if with_unacked:
        record["u"] = consumer.unacked
    return record
