"""The run, stop and reconnect loop every long-lived stream shares.

The events subscription, the lookups and the v1 event streams are its subclasses; the two
event streams through :class:`EventStream`, which handles each event once and acks it.

A subclass opens one attempt in :meth:`ResilientStream._connect_once` (returning when the
server ends the stream, raising ``AioRpcError`` on an error status); this base decides
what follows: a new token at once or on the next attempt, a backoff pause that a probe
channel cuts short once an unreachable server is back, or the typed error that ends
``run()`` (rejected credentials, a missing scope, a request the server will never take).
:meth:`ResilientStream.run` and :meth:`ResilientStream.stop` are the one lifecycle: a
running handler may finish before a stop cancels the loop (``stop_timeout``), and what an
attempt holds is released however the loop ends.

:class:`EventStream` is the one way an event is handled, whichever stream it came on: a
redelivery of a handled event is acked without calling the handler, a failing handler's
event is left unacked for redelivery (acked after ``max_handler_failures``), a handled one
is acked without suspending when there is room. A subclass says only how it decodes a
response into an event, by what key it knows the event again and what it acks it with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, Protocol

import grpc

from .accept import stream_accepted
from .acker import Acker
from .auth import TokenProvider, bearer_metadata
from .backoff import Backoff
from .dedup import FailureCounts, RecentKeys
from .endpoint import Endpoint
from .errors import CannotConnectError, MissingScopeError, WgtwoError
from .event_types import EventType
from .grpc_errors import StreamRetry, stream_retry
from .models import WgtwoEvent
from .status import ConnectionState, ConnectionStatus, SubscriptionStats

_LOGGER = logging.getLogger(__name__)

type StateCallback = Callable[[ConnectionStatus], None]
# A handler returns None once done, or an awaitable for what it must wait for (an async
# function's coroutine): the stream awaits it before the event is acked.
type EventHandler = Callable[[WgtwoEvent], Awaitable[None] | None]
type Metadata = tuple[tuple[str, str], ...]

# While the server is unreachable, a probe channel retries at least this often (s), so
# the stream is back within about a second of the server, however long the backoff.
PROBE_RETRY_MAX: Final = 0.5
# Up to this long (s) at random between the probe connecting and the next attempt, so
# clients that lost the same server do not all reconnect in the same instant.
PROBE_JITTER: Final = 0.25
# How long a stream without headers must stay open on a ready connection to count.
_SILENT_ACCEPT_AFTER = 1.0
# How long to let pending acks finish when a connection ends or the loop stops.
_ACK_DRAIN_TIMEOUT: Final = 1.0


class _CountsReconnects(Protocol):
    reconnects: int


class StreamSettings(Protocol):
    """The settings every stream's config has (times in seconds)."""

    @property
    def keepalive_time(self) -> float:
        """Seconds between keepalive pings."""

    @property
    def keepalive_timeout(self) -> float:
        """Seconds a ping may take to be answered."""

    @property
    def connect_timeout(self) -> float:
        """Seconds one connection attempt may take."""

    @property
    def backoff_initial(self) -> float:
        """The first pause between attempts."""

    @property
    def backoff_max(self) -> float:
        """The longest pause between attempts."""


class ResilientStream:
    """Keep one long-lived stream open: states, token refresh, backoff and probe."""

    # Log wording: "Event stream" / "Number lookup stream".
    label: ClassVar[str] = "Stream"
    # Error wording: "server refused the <what> (CODE)".
    what: ClassVar[str] = "stream"

    # At most 30 attributes on an instance, its subclass's included: beyond that CPython
    # keeps them in a dict, and every look-up on the event path gets slower.

    def __init__(
        self,
        endpoint: Endpoint,
        config: StreamSettings,
        *,
        token_provider: TokenProvider | None,
        on_state: StateCallback | None,
        stats: _CountsReconnects,
        scopes: Iterable[str],
        backoff: Backoff | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._config = config
        self._token_provider = token_provider
        self._token: str | None = None
        self._on_state = on_state
        self._backoff = backoff or Backoff(config.backoff_initial, config.backoff_max)
        self._stats = stats
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

    async def _connect_once(self, refresh: bool) -> None:
        """Run one attempt (its channel from ``_open_channel()``); ``refresh``: new token."""
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

    def _extra_channel_options(self) -> tuple[tuple[str, int | str], ...]:
        """Channel options beyond the stream's keepalive and connect settings."""
        return ()

    # -- what an attempt uses ---------------------------------------------------------------

    def _create_channel(self, reconnect_backoff_max: float) -> grpc.aio.Channel:
        """Open a channel with the stream's keepalive and connect settings."""
        config = self._config
        return self._endpoint.create_channel(
            keepalive_time=config.keepalive_time,
            keepalive_timeout=config.keepalive_timeout,
            reconnect_backoff_max=reconnect_backoff_max,
            connect_timeout=config.connect_timeout,
            extra_options=self._extra_channel_options(),
        )

    def _open_channel(self) -> grpc.aio.Channel:
        """Open this attempt's channel (released by :meth:`_end_attempt`)."""
        self._channel = channel = self._create_channel(self._config.backoff_max)
        return channel

    async def _call_metadata(self, refresh: bool) -> Metadata:
        """Return the metadata of this attempt's call: the bearer token, a new one if asked."""
        if self._token_provider is None:
            return ()
        self._token = await self._token_provider.get_token(
            force_refresh=refresh, rejected=self._token
        )
        return bearer_metadata(self._token)

    @contextlib.asynccontextmanager
    async def _watching(self, call: Any, channel: grpc.aio.Channel) -> AsyncIterator[None]:
        """Report CONNECTED once the server accepted ``call``, while the block runs.

        Messages may come later than the acceptance, or never on a quiet stream.
        """
        watcher = asyncio.create_task(self._watch_accepted(call, channel))
        try:
            yield
        finally:
            watcher.cancel()
            # wait(), not await: a cancellation of this task must not be swallowed here.
            await asyncio.wait([watcher])

    async def _watch_accepted(self, call: Any, channel: grpc.aio.Channel) -> None:
        if await stream_accepted(call, channel, _SILENT_ACCEPT_AFTER):
            self._mark_connected()

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
                self._stats.reconnects += 1
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


async def raise_error_status(call: Any) -> None:
    """Raise ``AioRpcError`` when ``call`` ended with an error status (EOF came first)."""
    code = await call.code()
    if code != grpc.StatusCode.OK:
        raise grpc.aio.AioRpcError(
            code,
            await call.initial_metadata(),
            await call.trailing_metadata(),
            await call.details(),
        )


class EventStreamSettings(StreamSettings, Protocol):
    """The settings of a stream whose events are handled and acked (times in seconds)."""

    @property
    def manual_ack(self) -> bool:
        """Whether events are acked (without, the server redelivers nothing)."""

    @property
    def max_in_flight(self) -> int:
        """How many acks may wait for their answer at once."""

    @property
    def ack_rpc_timeout(self) -> float:
        """How long one ack call may take."""

    @property
    def dedup_capacity(self) -> int:
        """How many handled events are remembered (and failure counts kept)."""

    @property
    def max_handler_failures(self) -> int:
        """After this many handler failures an event is acked anyway."""

    @property
    def stop_timeout(self) -> float:
        """How long a running handler may take to finish once ``stop()`` is called."""


class Delivery:
    """What a stream made of the event it is handling (one, refilled for every event).

    ``key``: what handler failures are counted under (and, unless the stream says
    otherwise, what the event is remembered by once handled); ``ack_to`` and ``number``:
    what the ack is sent with (``None``: no ack); ``number`` also names the event in the
    log (a v0 sequence, a v1 stream's count).
    """

    __slots__ = ("ack_to", "key", "number")

    def __init__(self) -> None:
        self.key: Hashable = None
        self.ack_to: str | None = None
        self.number = 0


class EventStream(ResilientStream):
    """Hand each event of the stream to ``handler`` once, in arrival order, and ack it.

    A subclass decodes each response in :meth:`_receive`, which fills in the
    :class:`Delivery`; this class does the rest: redeliveries, the handler, its failures,
    the acks.
    """

    _config: EventStreamSettings
    _stats: SubscriptionStats

    def __init__(
        self,
        endpoint: Endpoint,
        config: EventStreamSettings,
        handler: EventHandler,
        *,
        token_provider: TokenProvider | None,
        on_state: StateCallback | None,
        scopes: Iterable[str],
        backoff: Backoff | None = None,
        ack_request: Callable[[str, int], Any] | None = None,
    ) -> None:
        stats = SubscriptionStats()
        super().__init__(
            endpoint,
            config,
            token_provider=token_provider,
            on_state=on_state,
            stats=stats,
            scopes=scopes,
            backoff=backoff,
        )
        self._handler = handler
        self._handled = RecentKeys(config.dedup_capacity)
        self._failures = FailureCounts(config.dedup_capacity)
        self._acker = Acker(
            stats, token_provider, config.max_in_flight, config.ack_rpc_timeout, ack_request
        )
        self._call: Any = None
        self._delivery = Delivery()

    @property
    def stats(self) -> SubscriptionStats:
        """Counters since this stream was created."""
        return self._stats

    # -- what a subclass provides ---------------------------------------------------------

    def _receive(self, response: Any, delivery: Delivery) -> WgtwoEvent | None:
        """Decode one response, fill in ``delivery`` and count a redelivery.

        Return ``None`` for an event handled before: it is acked, not handled again.
        """
        raise NotImplementedError

    def _describe(self, model: WgtwoEvent, delivery: Delivery) -> str:
        """Name the event in the log ("voice event #12"), nothing of its content."""
        raise NotImplementedError

    def _finish(self, delivery: Delivery) -> None:
        """Remember the event as handled (a redelivery is acked, not handled again)."""
        key = delivery.key
        self._failures.clear(key)
        self._handled.add(key)

    # -- one attempt ----------------------------------------------------------------------

    def _stop_timeout(self) -> float | None:
        return self._config.stop_timeout

    async def _end_attempt(self) -> None:
        # Acks in flight finish first: the server takes them while the stream is open.
        await self._acker.drain(_ACK_DRAIN_TIMEOUT)
        call, self._call = self._call, None
        if call is not None:
            call.cancel()
        await super()._end_attempt()

    async def _consume(self, call: Any, channel: grpc.aio.Channel) -> None:
        """Handle the events of this attempt's ``call`` until it ends or ``stop()``."""
        self._call = call
        on_message = self._on_message
        async with self._watching(call, channel):
            # Iterating raises AioRpcError when the stream ends with an error status.
            async for response in call:
                if not self._connected:
                    self._mark_connected()
                # Most events are handled and their ack started without suspending.
                if (rest := on_message(response)) is not None:
                    await rest
                if self._stopping:
                    return
        await raise_error_status(call)  # some grpc versions end an error status with EOF

    # -- per event --------------------------------------------------------------------------

    def _on_message(self, response: Any) -> Awaitable[None] | None:
        """Handle one response; return what is left to await (``None``: nothing).

        A handler that returns ``None`` has done its work: the event is finished and its
        ack started without a coroutine of this stream's own, the common case on every
        event. A handler's awaitable (and an ack that must wait for room or a token) is
        returned for the loop to await.
        """
        stats = self._stats
        stats.received += 1
        stats.last_event_time = datetime.now(UTC)
        delivery = self._delivery
        model = self._receive(response, delivery)
        if model is None:
            stats.duplicates_dropped += 1
            if delivery.ack_to is not None:
                return self._acker.send(delivery.ack_to, delivery.number)
            return None
        self._in_handler = True
        try:
            pending = self._handler(model)
        except Exception as err:
            self._in_handler = False
            if not self._handler_failed(model, delivery, err):
                return None  # left unacked: the server delivers it again
            return self._finish_and_ack(delivery)
        if pending is not None:
            return self._handle_async(model, delivery, pending)
        self._in_handler = False
        return self._finish_and_ack(delivery)

    async def _handle_async(
        self, model: WgtwoEvent, delivery: Delivery, pending: Awaitable[None]
    ) -> None:
        """Wait for a handler that suspends, then finish its event as :meth:`_on_message`."""
        failure: BaseException | None = None
        try:
            await pending
        except asyncio.CancelledError as err:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # this loop is being cancelled (stop or shutdown)
            failure = err  # the handler's own await was cancelled: a handler failure
        except Exception as err:
            failure = err
        finally:
            self._in_handler = False
        if failure is not None and not self._handler_failed(model, delivery, failure):
            return  # left unacked: the server delivers it again
        if (ack := self._finish_and_ack(delivery)) is not None:
            await ack

    def _finish_and_ack(self, delivery: Delivery) -> Awaitable[None] | None:
        """Remember a finished event and start its ack; return the ack if it must wait."""
        self._finish(delivery)
        ack_to = delivery.ack_to
        if ack_to is None or self._acker.send_nowait(ack_to, delivery.number):
            return None
        return self._acker.send(ack_to, delivery.number)

    def _handler_failed(
        self, model: WgtwoEvent, delivery: Delivery, failure: BaseException
    ) -> bool:
        """Count a handler failure; return whether the event is finished (and acked) anyway.

        With manual ack it is left unacked, so that the server delivers it again, until it
        failed ``max_handler_failures`` times; then it is acked, so that one bad event
        cannot block the stream.
        """
        stats = self._stats
        stats.handler_failures += 1
        failures = self._failures.increment(delivery.key)
        error = type(failure).__name__
        if not self._config.manual_ack:
            _LOGGER.warning(
                "Handler failed for %s (%s); without manual ack it is not redelivered",
                self._describe(model, delivery),
                error,
            )
            return True
        limit = self._config.max_handler_failures
        if failures < limit:
            _LOGGER.warning(
                "Handler failed for %s (%s, attempt %d of %d); left unacked for redelivery",
                self._describe(model, delivery),
                error,
                failures,
                limit,
            )
            return False
        _LOGGER.error(
            "Handler failed %d times for %s (%s); acking it to move on",
            failures,
            self._describe(model, delivery),
            error,
        )
        stats.poison_acked += 1
        return True
