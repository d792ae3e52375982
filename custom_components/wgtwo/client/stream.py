"""The run, stop and reconnect loop every long-lived stream shares.

The events subscription, the lookups and the v1 event streams are its subclasses.

A subclass opens one attempt in :meth:`ResilientStream._connect_once` (returning when the
server ends the stream, raising ``AioRpcError`` on an error status); this base decides
what follows: a new token at once or on the next attempt, a backoff pause that a probe
channel cuts short once an unreachable server is back, or the typed error that ends
``run()`` (rejected credentials, a missing scope, a request the server will never take).
:meth:`ResilientStream.run` and :meth:`ResilientStream.stop` are the one lifecycle: a
running handler may finish before a stop cancels the loop (``stop_timeout``), and what an
attempt holds is released however the loop ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Final, Protocol

import grpc

from .auth import TokenProvider
from .backoff import Backoff
from .endpoint import Endpoint
from .errors import CannotConnectError, MissingScopeError, WgtwoError
from .event_types import EventType
from .grpc_errors import StreamRetry, stream_retry
from .status import ConnectionState, ConnectionStatus

_LOGGER = logging.getLogger(__name__)

type StateCallback = Callable[[ConnectionStatus], None]

# While the server is unreachable, a probe channel retries at least this often (s), so
# the stream is back within about a second of the server, however long the backoff.
PROBE_RETRY_MAX: Final = 0.5
# Up to this long (s) at random between the probe connecting and the next attempt, so
# clients that lost the same server do not all reconnect in the same instant.
PROBE_JITTER: Final = 0.25


class _CountsReconnects(Protocol):
    reconnects: int


class ResilientStream:
    """Keep one long-lived stream open: states, token refresh, backoff and probe."""

    # Log wording: "Event stream" / "Number lookup stream".
    label: ClassVar[str] = "Stream"
    # Error wording: "server refused the <what> (CODE)".
    what: ClassVar[str] = "stream"

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        token_provider: TokenProvider | None,
        on_state: StateCallback | None,
        backoff: Backoff,
        stats: _CountsReconnects,
        scopes: Iterable[str],
    ) -> None:
        self._endpoint = endpoint
        self._token_provider = token_provider
        self._on_state = on_state
        self._backoff = backoff
        self._reconnect_stats = stats
        self._scopes = frozenset(scopes)
        self._status = ConnectionStatus(ConnectionState.DISCONNECTED)
        self._channel: grpc.aio.Channel | None = None
        self._connected = False
        self._stopping = False
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None
        self._done = asyncio.Event()
        self._done.set()
        self._stop_cancelled = False
        # Set by a subclass while its handler runs: a stop lets it finish first.
        self._in_handler = False

    @property
    def status(self) -> ConnectionStatus:
        """The last reported connection status."""
        return self._status

    # -- what a subclass provides ---------------------------------------------------------

    def _create_channel(self, reconnect_backoff_max: float) -> grpc.aio.Channel:
        """Open a channel with the stream's keepalive and connect settings."""
        raise NotImplementedError

    async def _connect_once(self, refresh: bool) -> None:
        """Run one attempt (store its channel in ``self._channel``); ``refresh``: new token."""
        raise NotImplementedError

    def _retry_event_types(self) -> Iterable[EventType]:
        """Event types that explain a missing scope (the subscription's)."""
        return ()

    def _missing_scope(self, err: MissingScopeError) -> MissingScopeError:
        """Return the error that ends ``run()`` when the token endpoint refuses a scope."""
        return MissingScopeError(err.missing_scopes)

    def _on_connected(self) -> None:
        """Note that the server accepted this attempt (called once per attempt)."""

    def _at_once_after_end(self) -> bool:
        """Whether a stream the server ended cleanly is opened again without a pause."""
        return False

    async def _end_attempt(self) -> None:
        """Release what one attempt holds (the channel; a subclass adds its own)."""
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close()

    def _stop_timeout(self) -> float | None:
        """How long a running handler may take to finish once ``stop()`` is called."""
        return None

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self) -> None:
        """Open the stream and keep reconnecting until ``stop()``; raise on a fatal error.

        Raises ``AuthenticationError`` when the credentials are rejected,
        ``MissingScopeError`` when a scope lacks a grant and ``WgtwoError`` when the
        server refuses the request itself.
        """
        if not self._done.is_set():
            raise RuntimeError(f"the {self.what} is already running")
        if self._stopping:  # stop() came first: nothing to run
            self._stopping = False
            return
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._done.clear()
        self._stop_cancelled = False
        try:
            await self._loop()
        except asyncio.CancelledError:
            if self._stop_cancelled and task.uncancel() == 0:
                return
            raise
        finally:
            # A stop() while the stream winds down cancels this await: what follows it must
            # still run, or that stop() would wait for ever.
            try:
                await self._end_attempt()
            finally:
                self._connected = False
                self._task = None
                self._stopping = False
                self._done.set()

    async def stop(self) -> None:
        """End the stream and wait until ``run()`` returned.

        A handler that is running gets up to ``_stop_timeout()`` seconds to finish (and its
        event to be acked) before it is cancelled. Safe to call more than once, before
        ``run()`` or from a handler.
        """
        self._stopping = True
        self._wakeup.set()
        task = self._task
        if task is None or task.done():
            return
        if task is asyncio.current_task():
            return  # called from the handler: the loop ends after it returns
        if not self._in_handler:
            self._cancel_run(task)
        try:
            async with asyncio.timeout(self._stop_timeout()):
                await self._done.wait()
        except TimeoutError:
            self._cancel_run(task)
            await self._done.wait()

    def _cancel_run(self, task: asyncio.Task[Any]) -> None:
        if not self._stop_cancelled:
            self._stop_cancelled = True
            task.cancel()

    # -- state ----------------------------------------------------------------------------

    def _should_stop(self) -> bool:
        return self._stopping

    def _set_status(self, status: ConnectionStatus) -> None:
        self._status = status
        if self._on_state is None:
            return
        try:
            self._on_state(status)
        except Exception as err:
            _LOGGER.warning("%s state callback failed: %s", self.label, type(err).__name__)

    def _mark_connected(self) -> None:
        if self._connected:
            return
        self._connected = True
        self._on_connected()
        # The server took the attempt: whatever failed before, the next delay is short.
        self._backoff.reset()
        _LOGGER.debug("%s established", self.label)
        self._set_status(ConnectionStatus(ConnectionState.CONNECTED))

    def _fail(self, error: WgtwoError) -> WgtwoError:
        _LOGGER.debug("%s stopped: %s", self.label, type(error).__name__)
        self._set_status(ConnectionStatus(ConnectionState.FAILED, reason=str(error), error=error))
        return error

    # -- reconnect loop ---------------------------------------------------------------------

    async def _loop(self) -> None:
        self._set_status(ConnectionStatus(ConnectionState.CONNECTING))
        refresh = False
        first = True
        while not self._stopping:
            if not first:
                self._reconnect_stats.reconnects += 1
            first = False
            refreshed, refresh = refresh, False
            self._connected = False
            at_once = False
            try:
                await self._connect_once(refreshed)
                reason = "stream ended by server"
                at_once = self._at_once_after_end()
            except grpc.aio.AioRpcError as err:
                if self._should_stop():
                    break
                try:
                    retry = stream_retry(
                        err,
                        authenticated=self._token_provider is not None,
                        refreshed=refreshed,
                        connected=self._connected,
                        scopes=self._scopes,
                        event_types=self._retry_event_types(),
                        what=self.what,
                    )
                except WgtwoError as fatal:
                    raise self._fail(fatal) from None
                if retry is StreamRetry.NEW_TOKEN_NOW:
                    _LOGGER.debug("Token rejected; retrying once with a new token")
                    refresh = True
                    await self._end_attempt()
                    continue
                refresh = retry is StreamRetry.NEW_TOKEN_LATER
                reason = "token rejected" if refresh else err.code().name
            except CannotConnectError as err:
                reason = str(err)
            except MissingScopeError as err:
                raise self._fail(self._missing_scope(err)) from None
            except WgtwoError as err:
                raise self._fail(err) from None
            if self._should_stop():
                break
            unreachable = self._unreachable()
            await self._end_attempt()
            if at_once:
                _LOGGER.debug("%s ended by the server; reopening it now", self.label)
                continue
            delay = self._backoff.next_delay()
            _LOGGER.debug("%s ended (%s); retrying in %.1f s", self.label, reason, delay)
            self._set_status(
                ConnectionStatus(ConnectionState.DISCONNECTED, reason=reason, retry_in=delay)
            )
            await self._sleep(delay, probe=unreachable)

    def _unreachable(self) -> bool:
        """Whether the attempt ended without a working connection (server down, link lost).

        A server that answers on a ready connection gets the full backoff instead: waking
        up when a probe connects would hammer a server that is up but refusing.
        """
        channel = self._channel
        if channel is None:
            return False
        return channel.get_state() is not grpc.ChannelConnectivity.READY

    async def _sleep(self, delay: float, *, probe: bool = False) -> None:
        """Wait ``delay`` seconds, or less when ``stop()`` or a connecting probe wakes us."""
        self._wakeup.clear()
        if self._stopping:
            return
        prober = asyncio.create_task(self._probe()) if probe else None
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wakeup.wait()
        finally:
            if prober is not None:
                prober.cancel()
                await asyncio.wait([prober])

    async def _probe(self) -> None:
        """Connect a bare channel with a short reconnect backoff; wake the loop once ready.

        It sends nothing: connection attempts are cheap for both sides, a stream is not.
        A small random pause spreads clients that all waited for the same server.
        """
        channel = self._create_channel(PROBE_RETRY_MAX)
        try:
            await channel.channel_ready()
        finally:
            await channel.close()
        await asyncio.sleep(random.random() * PROBE_JITTER)
        _LOGGER.debug("Server reachable again; reconnecting now")
        self._wakeup.set()
