"""Answer the operator's number lookups: the names shown on the subscribers' handsets.

The direction of this API is reversed: the client opens ``NumberLookup`` and the server
asks over it, one request per incoming call, for the name of the calling number. The
:class:`NumberLookupResponder` keeps that stream open (reconnecting with backoff, a new
token when one is refused) and answers every request with what its resolver says.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from .auth import TokenProvider
from .endpoint import Endpoint
from .event_types import SCOPE_LOOKUP, SCOPE_LOOKUP_DETAILED
from .proto.wgtwo.lookup.v0 import lookup_pb2, lookup_pb2_grpc
from .status import ConnectionStatus
from .stream import ResilientStream, raise_error_status

_LOGGER = logging.getLogger(__name__)

type NameResolver = Callable[[str, str | None], str | None]
"""``(number, recipient) -> name``: ``recipient`` is the called subscriber when the server
names it (scope ``lookup.number_detailed:read``), ``None`` means no name is known."""
type LookupStateCallback = Callable[[ConnectionStatus], None]

_E164: Final = re.compile(r"^\+[1-9]\d{1,14}$")
# The operator caches an answer at least this long, whatever the answer asks for.
MIN_MAX_AGE: Final = 15 * 60.0
# A name longer than this is a mistake in the phonebook, not a caller's name.
MAX_NAME_LENGTH: Final = 256

LOOKUP_SCOPES: Final = frozenset({SCOPE_LOOKUP})
DETAILED_LOOKUP_SCOPES: Final = frozenset({SCOPE_LOOKUP, SCOPE_LOOKUP_DETAILED})


@dataclass(frozen=True, slots=True)
class LookupConfig:
    """How the responder answers and reconnects (times in seconds)."""

    max_age: float = 3600.0
    keepalive_time: float = 30.0
    keepalive_timeout: float = 10.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    connect_timeout: float = 20.0
    scopes: frozenset[str] = LOOKUP_SCOPES

    def __post_init__(self) -> None:
        """Refuse a cache time the operator would raise anyway (say so here, not on the wire)."""
        if self.max_age < MIN_MAX_AGE:
            raise ValueError(f"max_age must be at least {MIN_MAX_AGE:.0f} s")


@dataclass(slots=True)
class LookupStats:
    """Counters of one responder since it was created (no numbers, no names)."""

    asked: int = 0
    named: int = 0
    unknown: int = 0
    errors: int = 0
    reconnects: int = 0
    last_request_time: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for diagnostics)."""
        return {
            "asked": self.asked,
            "named": self.named,
            "unknown": self.unknown,
            "errors": self.errors,
            "reconnects": self.reconnects,
            "last_request_time": (
                self.last_request_time.isoformat() if self.last_request_time else None
            ),
        }


class NumberLookupResponder(ResilientStream):
    """Keep the lookup stream open until ``stop()`` and answer each request once.

    ``run()`` ends only by ``stop()`` or with the error the user must fix:
    ``AuthenticationError`` (credentials rejected), ``MissingScopeError`` (the OAuth client
    lacks ``lookup.number:read``) or ``WgtwoError`` (the server refuses the stream).
    A malformed request gets an error reply; a failing resolver too. Numbers never
    reach the log.
    """

    label = "Number lookup stream"
    what = "number lookup stream"

    _config: LookupConfig
    _stats: LookupStats

    def __init__(
        self,
        endpoint: Endpoint,
        resolver: NameResolver,
        *,
        config: LookupConfig | None = None,
        token_provider: TokenProvider | None = None,
        on_state: LookupStateCallback | None = None,
    ) -> None:
        config = config or LookupConfig()
        super().__init__(
            endpoint,
            config,
            token_provider=token_provider,
            on_state=on_state,
            stats=LookupStats(),
            scopes=config.scopes,
        )
        self._resolver = resolver
        self._cache_control = lookup_pb2.CacheControl()
        self._cache_control.max_age.FromTimedelta(timedelta(seconds=config.max_age))

    @property
    def stats(self) -> LookupStats:
        """Counters since this responder was created."""
        return self._stats

    @property
    def config(self) -> LookupConfig:
        """The settings this responder runs with."""
        return self._config

    # -- one attempt ----------------------------------------------------------------------

    async def _connect_once(self, refresh: bool) -> None:
        metadata = await self._call_metadata(refresh)
        channel = self._open_channel()
        stub = lookup_pb2_grpc.NumberLookupServiceStub(channel)
        call = stub.NumberLookup(metadata=metadata)
        try:
            async with self._watching(call, channel):
                while True:
                    request = await call.read()
                    if not isinstance(request, lookup_pb2.NumberLookupRequest):
                        break  # EOF: the server ended the stream
                    self._mark_connected()
                    try:
                        await call.write(self.answer(request))
                    except asyncio.InvalidStateError:
                        break  # the server ended the stream meanwhile: its status says why
        finally:
            call.cancel()
        await raise_error_status(call)

    # -- answers --------------------------------------------------------------------------

    def answer(self, request: lookup_pb2.NumberLookupRequest) -> lookup_pb2.NumberLookupResponse:
        """Build the reply to one request (the whole request echoed, the cache time set)."""
        stats = self._stats
        stats.asked += 1
        stats.last_request_time = datetime.now(UTC)
        response = lookup_pb2.NumberLookupResponse(cache_control=self._cache_control)
        response.number_lookup_request.CopyFrom(request)
        number = request.number.e164 if request.HasField("number") else ""
        if not _E164.match(number):
            stats.errors += 1
            _LOGGER.debug("Lookup request without an E.164 number")
            response.error.message = "number must be an E.164 phone number"
            return response
        recipient = request.recipient.e164 if request.HasField("recipient") else ""
        try:
            name = self._resolver(number, recipient if _E164.match(recipient) else None)
        except Exception as err:
            stats.errors += 1
            _LOGGER.warning("Caller name lookup failed: %s", type(err).__name__)
            response.error.message = "lookup failed"
            return response
        name = (name or "").strip()[:MAX_NAME_LENGTH]
        if name:
            stats.named += 1
        else:
            stats.unknown += 1
        response.result.SetInParent()
        response.result.name = name
        return response


def lookup_scopes(*, detailed: bool = False) -> frozenset[str]:
    """Scopes a responder's token asks for (``detailed`` names the called subscriber)."""
    return DETAILED_LOOKUP_SCOPES if detailed else LOOKUP_SCOPES


__all__ = [
    "DETAILED_LOOKUP_SCOPES",
    "LOOKUP_SCOPES",
    "MIN_MAX_AGE",
    "LookupConfig",
    "LookupStateCallback",
    "LookupStats",
    "NameResolver",
    "NumberLookupResponder",
    "lookup_scopes",
]
