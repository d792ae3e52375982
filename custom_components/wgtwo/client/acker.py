"""Acks sent concurrently, so the stream never waits on an ack round trip."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import grpc

from .auth import TokenProvider, bearer_metadata
from .errors import WgtwoError
from .proto.wgtwo.events.v0 import events_pb2
from .status import SubscriptionStats

_LOGGER = logging.getLogger(__name__)

type Metadata = tuple[tuple[str, str], ...]


def finished_code(call: Any) -> grpc.StatusCode | None:
    """Return the status of a finished call without suspending (``None`` if it would wait).

    ``code()`` is a coroutine, but for a call whose done callback fired its status is
    already there: running the coroutine one step returns it.
    """
    coro = call.code()
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    except Exception:
        return None
    coro.close()
    return None


def _events_ack(inbox: str, sequence: int) -> events_pb2.AckRequest:
    return events_pb2.AckRequest(inbox=inbox, sequence=sequence)


class Acker:
    """Send ``Ack`` calls for handled events: at most ``limit`` at once, drained at the end.

    Each ack is a bare gRPC call with a done callback (no task of our own per ack; that
    task would cost as much as the ack itself). A rejected token is refreshed once and the
    ack retried in a task; other failures are counted (the server will redeliver).
    """

    def __init__(
        self,
        stats: SubscriptionStats,
        token_provider: TokenProvider | None,
        limit: int,
        rpc_timeout: float,
        request: Callable[[str, int], Any] | None = None,
    ) -> None:
        self._stats = stats
        # Builds the ack request from (inbox, sequence): a v1 stream acks by its AckInfo
        # value (the inbox here) and numbers its events itself (the sequence, for the log).
        self._request = request or _events_ack
        self._provider = token_provider
        self._limit = limit
        self._rpc_timeout = rpc_timeout
        self._rpc: Any = None
        # The calls waiting for their answer, each with what a retry would need: the
        # event's inbox and sequence, and the token it was sent with.
        self._in_flight: dict[Any, tuple[str, int, str | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()
        # Set once nothing is in flight, while a drain waits for that (None otherwise):
        # nothing to signal on the way, on every ack.
        self._idle: asyncio.Event | None = None
        self._metadata: Metadata = ()
        self._token: str | None = None

    def bind(self, ack_rpc: Any) -> None:
        """Use this connection's ``Ack`` method from now on."""
        self._rpc = ack_rpc

    def use_token(self, token: str) -> Metadata:
        """Return the call metadata carrying ``token`` (cached per token)."""
        if token is not self._token:
            self._token = token
            self._metadata = bearer_metadata(token)
        return self._metadata

    @property
    def in_flight(self) -> int:
        """How many acks are waiting for their answer."""
        return len(self._in_flight) + len(self._tasks)

    async def send(self, inbox: str, sequence: int) -> None:
        """Start acking one event; waits only while ``limit`` acks are in flight."""
        while self.in_flight >= self._limit:
            self._room.clear()
            await self._room.wait()
        if not self._start_with_fresh_token(inbox, sequence):
            self._spawn(self._ack_slowly(inbox, sequence, None))

    def send_nowait(self, inbox: str, sequence: int) -> bool:
        """Start acking one event unless that means waiting (False: await :meth:`send`).

        The common case, on every event: room for one more ack and a token still fresh.
        """
        if len(self._in_flight) + len(self._tasks) >= self._limit:
            return False
        return self._start_with_fresh_token(inbox, sequence)

    def _start_with_fresh_token(self, inbox: str, sequence: int) -> bool:
        provider = self._provider
        if provider is not None:
            token = provider.token_if_fresh()
            if token is None:
                return False
            self.use_token(token)
        self._start_call(inbox, sequence)
        return True

    def _start_call(self, inbox: str, sequence: int) -> None:
        request = self._request(inbox, sequence)
        call = self._rpc(request, metadata=self._metadata, timeout=self._rpc_timeout)
        self._in_flight[call] = (inbox, sequence, self._token)
        # A bound method made per call: kept on the acker, it would tie the acker (and the
        # channel its Ack method belongs to) into a reference cycle, freed only by the
        # garbage collector, at any time, even after the event loop closed.
        call.add_done_callback(self._call_done)

    def _call_done(self, call: Any) -> None:
        # Not in flight any more if a drain gave up on it: counted, not retried.
        inbox, sequence, token = self._in_flight.pop(call, None) or (None, 0, None)
        cancelled = call.cancelled()
        code = None if cancelled else finished_code(call)
        if code is grpc.StatusCode.OK:
            self._stats.acked += 1
        elif (
            code is grpc.StatusCode.UNAUTHENTICATED
            and self._provider is not None
            and inbox is not None
        ):
            self._spawn(self._ack_slowly(inbox, sequence, token or ""))
        elif code is None and not cancelled:
            self._spawn(self._check_later(call, sequence))
        else:
            self._failed(sequence, code)
        self._settle()

    def _failed(self, sequence: int, code: grpc.StatusCode | None) -> None:
        self._stats.ack_failures += 1
        _LOGGER.debug("Ack of event #%d failed: %s", sequence, code.name if code else "cancelled")

    def _settle(self) -> None:
        in_flight = len(self._in_flight) + len(self._tasks)
        if in_flight < self._limit:
            self._room.set()
        if not in_flight and self._idle is not None:
            self._idle.set()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._settle()

    async def _check_later(self, call: Any, sequence: int) -> None:
        code = await call.code()
        if code is grpc.StatusCode.OK:
            self._stats.acked += 1
        else:
            self._failed(sequence, code)

    async def _ack_slowly(self, inbox: str, sequence: int, rejected: str | None) -> None:
        """Ack with a fetched token: ``rejected`` is the token the server refused, if any."""
        provider = self._provider
        assert provider is not None
        try:
            token = await provider.get_token(force_refresh=rejected is not None, rejected=rejected)
        except WgtwoError:
            self._failed(sequence, None)
            return
        metadata = self.use_token(token)
        request = self._request(inbox, sequence)
        try:
            await self._rpc(request, metadata=metadata, timeout=self._rpc_timeout)
        except grpc.aio.AioRpcError as err:
            self._failed(sequence, err.code())
            return
        self._stats.acked += 1

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait up to ``timeout`` for pending acks, then cancel what is left."""
        if not self._in_flight and not self._tasks:
            return
        self._idle = idle = asyncio.Event()
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await idle.wait()
        finally:
            self._idle = None
        for call in list(self._in_flight):
            call.cancel()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        # Cancelled calls report through their done callbacks within a few loop turns.
        for _ in range(100):
            if not self._in_flight:
                break
            await asyncio.sleep(0.001)
        self._in_flight.clear()
        self._settle()
