"""NumberLookupService fake: the operator's side of the caller-name lookups.

A product opens ``NumberLookup`` and answers the requests the operator writes on it. The
sandbox asks whenever a published voice event rings a subscriber (``CALL_INITIATED`` or
``CALL_RINGING`` of an incoming call, once per call) and logs what the handset would show,
by subscriber count and name only. ``ask()`` (``POST /control/lookup``) asks once on demand.
The recipient is sent only to streams whose token has ``lookup.number_detailed:read``, or
to every stream when the sandbox requires no tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import grpc

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from custom_components.wgtwo.client.proto.wgtwo.lookup.v0 import lookup_pb2

from .auth import AuthError, TokenAuthority
from .scopes import LOOKUP, LOOKUP_DETAILED

if TYPE_CHECKING:
    from .broker import StoredEvent

_LOGGER = logging.getLogger("wgtwo_sandbox.lookup")

SERVICE_NAME: Final = "wgtwo.lookup.v0.NumberLookupService"
Context = grpc.aio.ServicerContext[Any, Any]
# A call's lookup must not hold up its events: ask in the background, briefly.
CALL_ASK_TIMEOUT: Final = 1.0
# Calls already asked about (their INITIATED and RINGING events ask once).
_REMEMBERED_CALLS: Final = 1000
_RINGING: Final = frozenset(
    {events_pb2.VoiceEvent.CALL_INITIATED, events_pb2.VoiceEvent.CALL_RINGING}
)


class NoAnswerError(Exception):
    """No lookup stream is connected, or none answered in time."""


@dataclass(frozen=True, slots=True)
class LookupAnswer:
    """What a product answered: a name (empty: unknown) or an error, and its cache time."""

    name: str | None = None
    error: str | None = None
    max_age: float | None = None


@dataclass(eq=False)
class _Stream:
    """One open NumberLookup stream."""

    ident: int
    detailed: bool
    context: Context
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: dict[str, asyncio.Future[lookup_pb2.NumberLookupResponse]] = field(
        default_factory=dict
    )
    ended: asyncio.Future[tuple[grpc.StatusCode, str]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass
class LookupCounters:
    """Counters for tests and the stats endpoint."""

    streams_opened: int = 0
    asked: int = 0
    answered: int = 0
    named: int = 0
    unknown: int = 0
    errors: int = 0
    timeouts: int = 0
    echo_mismatches: int = 0


class LookupService:
    """Serves NumberLookup streams and asks them for names."""

    def __init__(self, authority: TokenAuthority) -> None:
        self.authority = authority
        self.streams: list[_Stream] = []
        self.counters = LookupCounters()
        self._ids = 0
        self._recipients: dict[str, int] = {}
        self._asked_calls: OrderedDict[str, None] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- the gRPC side ------------------------------------------------------------------

    def _detailed(self, metadata: Iterable[tuple[str, str | bytes]]) -> bool:
        """Whether the stream's token may see the recipient (all of them without auth)."""
        header = next((str(v) for k, v in metadata if k == "authorization"), None)
        if header is None:
            return not self.authority.enabled
        issued = self.authority.tokens.get(header.partition(" ")[2].strip())
        return issued is not None and LOOKUP_DETAILED in issued.scopes

    async def number_lookup(
        self, request_iterator: AsyncIterator[lookup_pb2.NumberLookupResponse], context: Context
    ) -> None:
        """Hold one stream open: requests go out through ``ask``, replies come in here."""
        metadata = context.invocation_metadata() or ()
        try:
            self.authority.check(metadata, (LOOKUP,))
        except AuthError as err:
            await context.abort(err.code, err.details)
        self._ids += 1
        stream = _Stream(self._ids, self._detailed(metadata), context)
        await context.send_initial_metadata(())
        self.streams.append(stream)
        self.counters.streams_opened += 1
        _LOGGER.debug("Lookup stream %d opened", stream.ident)
        reader = asyncio.ensure_future(self._read(stream, request_iterator))
        either: list[asyncio.Future[Any]] = [reader, stream.ended]
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.streams.remove(stream)
            reader.cancel()
            for future in stream.pending.values():
                future.cancel()
            _LOGGER.debug("Lookup stream %d closed", stream.ident)
        if stream.ended.done():
            code, details = stream.ended.result()
            if code != grpc.StatusCode.OK:
                await context.abort(code, details)

    async def _read(
        self, stream: _Stream, replies: AsyncIterator[lookup_pb2.NumberLookupResponse]
    ) -> None:
        async for reply in replies:
            future = stream.pending.get(reply.number_lookup_request.id)
            if future is not None and not future.done():
                future.set_result(reply)

    def end_streams(
        self, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE, details: str = ""
    ) -> int:
        """End every open lookup stream with this status; return how many."""
        count = 0
        for stream in self.streams:
            if not stream.ended.done():
                stream.ended.set_result((code, details or "stream ended by the sandbox"))
                count += 1
        return count

    def handler(self) -> grpc.GenericRpcHandler:
        """Return the generic handler for the lookup service."""
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "NumberLookup": grpc.stream_stream_rpc_method_handler(
                    self.number_lookup,
                    request_deserializer=lookup_pb2.NumberLookupResponse.FromString,
                    response_serializer=lookup_pb2.NumberLookupRequest.SerializeToString,
                )
            },
        )

    # -- asking ---------------------------------------------------------------------------

    async def ask(
        self,
        number: str,
        recipient: str | None = None,
        timeout: float = 2.0,  # noqa: ASYNC109
    ) -> LookupAnswer:
        """Ask the newest stream for a number's name; raise NoAnswerError without a reply."""
        if not self.streams:
            raise NoAnswerError("no lookup stream is connected")
        stream = self.streams[-1]
        request = lookup_pb2.NumberLookupRequest(id=uuid.uuid4().hex)
        request.number.e164 = number
        if recipient and stream.detailed:
            request.recipient.e164 = recipient
        future: asyncio.Future[lookup_pb2.NumberLookupResponse] = (
            asyncio.get_running_loop().create_future()
        )
        stream.pending[request.id] = future
        self.counters.asked += 1
        try:
            async with asyncio.timeout(timeout):
                async with stream.write_lock:
                    await stream.context.write(request)
                reply = await future
        except TimeoutError:
            self.counters.timeouts += 1
            raise NoAnswerError("no answer in time") from None
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            raise NoAnswerError("the lookup stream closed") from None
        except grpc.aio.UsageError, RuntimeError:
            raise NoAnswerError("the lookup stream closed") from None
        finally:
            stream.pending.pop(request.id, None)
        return self._record(request, reply)

    def _record(
        self, request: lookup_pb2.NumberLookupRequest, reply: lookup_pb2.NumberLookupResponse
    ) -> LookupAnswer:
        counters = self.counters
        counters.answered += 1
        if reply.number_lookup_request != request:
            counters.echo_mismatches += 1
        max_age = (
            reply.cache_control.max_age.ToTimedelta().total_seconds()
            if reply.HasField("cache_control") and reply.cache_control.HasField("max_age")
            else None
        )
        if reply.WhichOneof("reply") == "error":
            counters.errors += 1
            return LookupAnswer(error=reply.error.message or "error", max_age=max_age)
        name = reply.result.name
        if name:
            counters.named += 1
        else:
            counters.unknown += 1
        return LookupAnswer(name=name, max_age=max_age)

    # -- calls ------------------------------------------------------------------------------

    def on_event(self, event: events_pb2.Event, stored: StoredEvent) -> None:
        """Ask for the caller's name when a published call rings a subscriber."""
        if not self.streams or event.WhichOneof("event") != "voice_event":
            return
        voice = event.voice_event
        caller = voice.from_number.e164
        recipient = event.owner.phone_number.e164
        if (
            voice.type not in _RINGING
            or voice.caller_id_hidden
            or not caller
            or not recipient
            or voice.to_number.e164 != recipient
        ):
            return
        key = voice.call_id or f"#{stored.sequence}"
        if key in self._asked_calls:
            return
        self._asked_calls[key] = None
        while len(self._asked_calls) > _REMEMBERED_CALLS:
            self._asked_calls.popitem(last=False)
        task = asyncio.get_running_loop().create_task(self._announce(caller, recipient))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def subscriber_index(self, recipient: str) -> int:
        """Return a subscriber's count in the order first called (logs never show numbers)."""
        return self._recipients.setdefault(recipient, len(self._recipients) + 1)

    async def _announce(self, caller: str, recipient: str) -> None:
        index = self.subscriber_index(recipient)
        try:
            answer = await self.ask(caller, recipient, CALL_ASK_TIMEOUT)
        except NoAnswerError:
            _LOGGER.info("subscriber #%d would show the number (no answer in time)", index)
            return
        if answer.error is not None:
            _LOGGER.info("subscriber #%d would show the number (the lookup failed)", index)
        elif answer.name:
            _LOGGER.info('subscriber #%d would show "%s"', index, answer.name)
        else:
            _LOGGER.info("subscriber #%d would show the number (no name known)", index)

    # -- lifecycle ----------------------------------------------------------------------------

    async def close(self) -> None:
        """Cancel the lookups still waiting (server shutdown)."""
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def snapshot(self) -> dict[str, int]:
        """Return JSON-ready counters."""
        return {"open_streams": len(self.streams), **self.counters.__dict__}
