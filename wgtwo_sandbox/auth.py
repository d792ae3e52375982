"""OAuth2 client-credentials tokens and the bearer-token checks on gRPC calls."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import grpc


@dataclass(slots=True)
class IssuedToken:
    """A token as the sandbox remembers it."""

    scopes: frozenset[str]
    expires_at: float
    revoked: bool = False


class AuthError(Exception):
    """A gRPC call is not allowed: carries the status to end it with."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class TokenError(Exception):
    """The token endpoint refuses a request: carries the OAuth2 error and HTTP status."""

    def __init__(self, error: str, status: int, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.status = status
        self.description = description


class TokenAuthority:
    """Issues and checks tokens for the one configured client."""

    def __init__(
        self,
        client_id: str | None,
        client_secret: str | None,
        granted_scopes: Iterable[str],
        token_ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.granted_scopes = frozenset(granted_scopes)
        self.token_ttl = token_ttl
        self.clock = clock
        self.tokens: dict[str, IssuedToken] = {}
        self.issued = 0

    @property
    def enabled(self) -> bool:
        """Return whether calls need a token (client credentials configured)."""
        return bool(self.client_id and self.client_secret)

    def issue(
        self, client_id: str, client_secret: str, grant_type: str, scope: str
    ) -> tuple[str, IssuedToken]:
        """Issue a token for a client-credentials grant or raise TokenError."""
        if not (
            self.enabled
            and secrets.compare_digest(client_id.encode(), (self.client_id or "").encode())
            and secrets.compare_digest(client_secret.encode(), (self.client_secret or "").encode())
        ):
            raise TokenError("invalid_client", 401, "client authentication failed")
        if grant_type != "client_credentials":
            raise TokenError("unsupported_grant_type", 400, "only client_credentials")
        requested = frozenset(scope.split()) if scope.strip() else self.granted_scopes
        refused = requested - self.granted_scopes
        if refused:
            raise TokenError(
                "invalid_scope", 400, "scope not granted: " + " ".join(sorted(refused))
            )
        token = secrets.token_urlsafe(32)
        issued = IssuedToken(requested, self.clock() + self.token_ttl)
        self.tokens[token] = issued
        self.issued += 1
        return token, issued

    def expire_all(self) -> None:
        """Make every issued token expired, as if its lifetime had passed."""
        now = self.clock()
        for token in self.tokens.values():
            token.expires_at = min(token.expires_at, now - 1)

    def revoke_all(self) -> None:
        """Revoke every issued token."""
        for token in self.tokens.values():
            token.revoked = True

    def check(self, metadata: Iterable[tuple[str, str | bytes]], needed: Iterable[str]) -> None:
        """Raise AuthError unless the call's bearer token allows the needed scopes."""
        header = next((str(v) for k, v in metadata if k == "authorization"), None)
        if header is None:
            if self.enabled:
                raise AuthError(grpc.StatusCode.UNAUTHENTICATED, "missing bearer token")
            return
        scheme, _, value = header.partition(" ")
        issued = self.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if issued is None:
            raise AuthError(grpc.StatusCode.UNAUTHENTICATED, "invalid bearer token")
        if issued.revoked:
            raise AuthError(grpc.StatusCode.UNAUTHENTICATED, "token revoked")
        if issued.expires_at <= self.clock():
            raise AuthError(grpc.StatusCode.UNAUTHENTICATED, "token expired")
        missing = frozenset(needed) - issued.scopes
        if missing:
            raise AuthError(
                grpc.StatusCode.PERMISSION_DENIED,
                "missing scopes: " + ", ".join(sorted(missing)),
            )
