"""Typed errors the client raises, so callers can tell what the user must fix."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .event_types import EventType

# What the operator's server says is copied into messages (and so into logs) this short.
MAX_SERVER_TEXT: Final = 200


def clip(text: str, limit: int = MAX_SERVER_TEXT) -> str:
    """Return ``text`` cut to ``limit`` characters (the cut marked with an ellipsis)."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


class WgtwoError(Exception):
    """Base of every error raised by the wgtwo client."""


class AuthenticationError(WgtwoError):
    """The credentials (client id/secret) or the token were rejected: the user must act."""


class MissingScopeError(WgtwoError):
    """The OAuth client lacks a grant for some scopes needed by the requested event types."""

    def __init__(
        self,
        missing_scopes: Iterable[str],
        event_types: Iterable[EventType] = (),
        message: str | None = None,
    ) -> None:
        self.missing_scopes: frozenset[str] = frozenset(missing_scopes)
        self.event_types: frozenset[EventType] = frozenset(event_types)
        if message is None:
            message = "missing scope(s): " + ", ".join(sorted(self.missing_scopes))
            if self.event_types:
                message += " (for " + ", ".join(sorted(self.event_types)) + ")"
        super().__init__(message)


class TokenRequestError(WgtwoError):
    """The token endpoint refused the request for another reason than credentials or scopes.

    Any other HTTP 4xx (a wrong token URL, a request the server cannot take): retrying
    the same request will not help, but nothing says the credentials are wrong either.
    """

    def __init__(self, status: int, error: str = "") -> None:
        self.status = status
        self.error = error
        super().__init__(f"token request failed: {error or f'HTTP {status}'}")


class CannotConnectError(WgtwoError):
    """The API or the token endpoint could not be reached (network, timeout, 5xx).

    ``request_sent``: the request itself went out (the call timed out or its connection
    dropped), so the server may have carried it out; False when nothing was sent (the
    token endpoint could not be reached).
    """

    def __init__(self, message: str = "", *, request_sent: bool = False) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class InvalidEndpointError(WgtwoError, ValueError):
    """An endpoint or URL is not acceptable (e.g. plaintext to a non-loopback host)."""


class ActionError(WgtwoError):
    """A unary action (voicemail, SMS) failed; ``status`` is the gRPC status code name."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status

    @property
    def not_found(self) -> bool:
        """Whether the server reported that the object does not exist."""
        return self.status == "NOT_FOUND"
