"""Map gRPC failures to the client's typed errors (shared by the stream and the actions)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import grpc

from .errors import MissingScopeError
from .event_types import EVENT_TYPE_SCOPES, EventType, event_types_for_scopes

# Codes after which a retry can succeed without anyone changing anything.
TRANSIENT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OK,
    }
)


def missing_scope_error(
    details: str | None, requested_scopes: Iterable[str], event_types: Iterable[EventType] = ()
) -> MissingScopeError:
    """Build a ``MissingScopeError`` from a PERMISSION_DENIED status.

    The scopes named in the status details are used when they are among the requested
    ones; otherwise every requested scope is reported, since the server did not say which.
    """
    requested = frozenset(requested_scopes)
    words = set(re.split(r"[\s,;:'\"()\[\]]+", details or ""))
    named = requested & words
    # A scope named by the server that we never asked for is still worth reporting.
    known = set(EVENT_TYPE_SCOPES.values())
    named |= {w for w in words if w in known}
    missing = named or requested
    types = tuple(event_types)
    return MissingScopeError(missing, event_types_for_scopes(missing, types))
