"""OAuth 2.0 client-credentials tokens, fetched on demand and kept in memory only."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import aiohttp

from .endpoint import DEFAULT_TOKEN_URL, check_token_url
from .errors import (
    AuthenticationError,
    CannotConnectError,
    MissingScopeError,
    TokenRequestError,
    WgtwoError,
)

_LOGGER = logging.getLogger(__name__)

# OAuth error codes meaning "these credentials are not accepted".
_CREDENTIAL_ERRORS = frozenset({"invalid_client", "unauthorized_client", "access_denied"})
# Far above any real OAuth client id or secret; longer ones are typing or paste mistakes
# that no server accepts (a 10 kB value makes the HTTP header itself too large).
MAX_CREDENTIAL_LENGTH = 1000


def basic_authorization(client_id: str, client_secret: str) -> str:
    """Return the HTTP Basic header value for client authentication (RFC 6749 2.3.1).

    Both parts are form-urlencoded first, as the RFC asks, so secrets with ``:`` or
    non-ASCII characters reach the server intact.
    """
    pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def bearer_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """Return the gRPC call metadata that presents ``token`` (one place builds it)."""
    return (("authorization", f"Bearer {token}"),)


class TokenProvider:
    """Fetch and cache a client-credentials token; concurrent callers share one request.

    The token is refreshed ``refresh_margin`` seconds before it expires (at most half its
    lifetime ahead, so short-lived tokens are still reused).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        client_id: str,
        client_secret: str,
        scopes: Iterable[str],
        *,
        token_url: str = DEFAULT_TOKEN_URL,
        refresh_margin: float = 90.0,
        request_timeout: float = 10.0,
    ) -> None:
        self._session = session
        self._oversized = max(len(client_id), len(client_secret)) > MAX_CREDENTIAL_LENGTH
        self._authorization = basic_authorization(client_id, client_secret)
        self._scopes = frozenset(scopes)
        self._token_url = check_token_url(token_url)
        self._refresh_margin = refresh_margin
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self._generation = 0
        self.requests = 0

    @property
    def scopes(self) -> frozenset[str]:
        """The scopes requested with every token."""
        return self._scopes

    @property
    def token_url(self) -> str:
        """Where tokens are fetched."""
        return self._token_url

    def token_if_fresh(self) -> str | None:
        """Return the cached token if it is not due for refresh (no I/O; for hot paths)."""
        if self._token is not None and time.monotonic() < self._refresh_at:
            return self._token
        return None

    def invalidate(self) -> None:
        """Forget the cached token (the next ``get_token`` fetches a new one)."""
        self._token = None

    async def get_token(self, force_refresh: bool = False, *, rejected: str | None = None) -> str:
        """Return a valid access token, fetching one if needed.

        ``force_refresh`` fetches a new token even if the cached one looks fresh (the
        server rejected it). Callers that pass the ``rejected`` token, or that waited while
        another caller refreshed, get the replacement instead of another request, so a
        burst of rejected calls makes one request.
        """
        generation = self._generation
        if not force_refresh and (token := self.token_if_fresh()) is not None:
            return token
        async with self._lock:
            token = self._token
            if token is not None:
                if force_refresh:
                    replaced = token != rejected if rejected else self._generation != generation
                    if replaced:
                        return token
                elif time.monotonic() < self._refresh_at:
                    return token
            return await self._fetch()

    async def _fetch(self) -> str:
        if self._oversized:
            # No server takes it; sending it would only earn an HTTP 400.
            raise AuthenticationError(
                f"client id or secret longer than {MAX_CREDENTIAL_LENGTH} characters"
            )
        self.requests += 1
        form = {"grant_type": "client_credentials"}
        if self._scopes:
            form["scope"] = " ".join(sorted(self._scopes))
        try:
            async with self._session.post(
                self._token_url,
                data=form,
                timeout=self._timeout,
                headers={"Accept": "application/json", "Authorization": self._authorization},
            ) as response:
                status = response.status
                try:
                    body: Any = await response.json(content_type=None)
                except ValueError:
                    body = None
        except (aiohttp.ClientError, TimeoutError) as err:
            raise CannotConnectError(f"token endpoint unreachable: {type(err).__name__}") from err
        if not isinstance(body, dict):
            body = {}
        # Server trouble, a rate limit or a timeout passes: back off and retry.
        if status >= 500 or status in (408, 429):
            raise CannotConnectError(f"token endpoint error (HTTP {status})")
        if status >= 400:
            raise self._error_for(status, body)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise CannotConnectError("token endpoint returned no access token")
        try:
            expires_in = float(body.get("expires_in", 3600))
        except TypeError, ValueError:
            expires_in = 3600.0
        margin = min(self._refresh_margin, expires_in / 2)
        self._token = token
        self._refresh_at = time.monotonic() + expires_in - margin
        self._generation += 1
        _LOGGER.debug("Fetched access token valid for %.0f s", expires_in)
        return token

    def _error_for(self, status: int, body: dict[str, Any]) -> WgtwoError:
        """Type a 4xx answer, so callers can tell the user what to fix (never untyped)."""
        # The code ends up in messages: keep it short and printable.
        error = body.get("error")
        error = error[:64] if isinstance(error, str) and error.isprintable() else ""
        description = str(body.get("error_description", ""))
        if error == "invalid_scope":
            return MissingScopeError(self._named_scopes(description) or self._scopes)
        if status in (401, 403) or error in _CREDENTIAL_ERRORS:
            return AuthenticationError(
                f"client credentials rejected by the token endpoint ({error or status})"
            )
        return TokenRequestError(status, error)

    def _named_scopes(self, text: str) -> frozenset[str]:
        """Return the requested scopes that the error text names (it may name none)."""
        words = set(re.split(r"[\s,;'\"()\[\]]+", text))
        return frozenset(self._scopes & words)
