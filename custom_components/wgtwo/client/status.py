"""Connection state reported to callbacks, and counters for diagnostics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class ConnectionState(StrEnum):
    """Where the subscription stands."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """A state change; ``reason``/``retry_in`` (s) when disconnected, ``error`` when failed."""

    state: ConnectionState
    reason: str | None = None
    retry_in: float | None = None
    error: BaseException | None = None


@dataclass(slots=True)
class SubscriptionStats:
    """Counters of one subscription (since it was created)."""

    received: int = 0
    acked: int = 0
    ack_failures: int = 0
    redelivered: int = 0
    duplicates_dropped: int = 0
    handler_failures: int = 0
    poison_acked: int = 0
    unknown_events: int = 0
    reconnects: int = 0
    last_event_time: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for diagnostics)."""
        return {
            "received": self.received,
            "acked": self.acked,
            "ack_failures": self.ack_failures,
            "redelivered": self.redelivered,
            "duplicates_dropped": self.duplicates_dropped,
            "handler_failures": self.handler_failures,
            "poison_acked": self.poison_acked,
            "unknown_events": self.unknown_events,
            "reconnects": self.reconnects,
            "last_event_time": (
                self.last_event_time.isoformat() if self.last_event_time is not None else None
            ),
        }
