"""Map gRPC failures to the client's typed errors (shared by the stream and the actions)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum

import grpc

from .errors import AuthenticationError, MissingScopeError, WgtwoError
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


class StreamRetry(Enum):
    """How a long-lived stream goes on after a failed attempt it can get past."""

    NEW_TOKEN_NOW = "new_token_now"  # token refused before the stream was up
    NEW_TOKEN_LATER = "new_token_later"  # token refused on a stream that was up
    BACK_OFF = "back_off"  # transient: wait, then try again


def stream_retry(
    err: grpc.aio.AioRpcError,
    *,
    authenticated: bool,
    refreshed: bool,
    connected: bool,
    scopes: Iterable[str],
    event_types: Iterable[EventType] = (),
    what: str = "stream",
) -> StreamRetry:
    """Say how a stream retries after ``err``, or raise the typed error that ends it.

    Shared by the event subscription and the number lookup stream, so both stop on the
    same refusals: rejected credentials (a freshly issued token refused, or no token to
    refresh), a missing scope and a request the server will never take.
    """
    code = err.code()
    if code == grpc.StatusCode.UNAUTHENTICATED:
        if not authenticated:
            raise AuthenticationError("server requires authentication")
        if refreshed and not connected:
            raise AuthenticationError("server rejected a freshly issued token")
        return StreamRetry.NEW_TOKEN_LATER if connected else StreamRetry.NEW_TOKEN_NOW
    if code == grpc.StatusCode.PERMISSION_DENIED:
        raise missing_scope_error(err.details(), scopes, event_types)
    if code not in TRANSIENT_CODES:
        raise WgtwoError(f"server refused the {what} ({code.name})")
    return StreamRetry.BACK_OFF
