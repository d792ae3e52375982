"""One way to keep a long-lived stream running: until it is fatal, then act on why.

The client reconnects by itself after transient failures; what it cannot get past ends
its ``run()``. Rejected credentials start a reauth flow; a missing scope stops the stream
until the entry reloads, with a repair issue naming it; a request the server refuses is
tried again after a long, doubling pause. Each of an entry's streams (events, the v1
streams, caller names) runs under one, as a :class:`SupervisedStream`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later

from .client import (
    AuthenticationError,
    Backoff,
    ConnectionState,
    ConnectionStatus,
    MissingScopeError,
    TokenProvider,
    WgtwoError,
    WgtwoEvent,
)
from .const import DOMAIN
from .settings import WgtwoSettings, create_token_provider

_LOGGER = logging.getLogger(__package__)

# None once the event is handled, or an awaitable the stream awaits before the ack.
type EventHandler = Callable[[WgtwoEvent], Awaitable[None] | None]


class StreamSupervisor:
    """Run one long-lived stream until it is fatal: then reauth, a repair issue or a pause.

    ``label`` names the stream in the log ("the event stream", "caller names").
    ``on_stopped`` is told when credentials or scopes stop it, ``on_refused`` when the
    server refused it and a retry is scheduled.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        settings: WgtwoSettings,
        label: str,
        run: Callable[[], Awaitable[None]],
        on_missing_scope: Callable[[frozenset[str]], None],
        on_stopped: Callable[[], None] = lambda: None,
        on_refused: Callable[[], None] = lambda: None,
    ) -> None:
        """Prepare; nothing runs until :meth:`async_start`."""
        self._hass = hass
        self._entry = entry
        self._label = label
        self._run = run
        self._on_missing_scope = on_missing_scope
        self._on_stopped = on_stopped
        self._on_refused = on_refused
        self._refused = Backoff(settings.refused_retry_initial, settings.refused_retry_max)
        self._retry_timer: CALLBACK_TYPE | None = None
        self.error: WgtwoError | None = None
        self.stopped = True

    @callback
    def async_start(self) -> None:
        """Run the stream in a background task tied to the entry."""
        self.stopped = False
        self._entry.async_create_background_task(
            self._hass, self._async_run(), name=f"{DOMAIN} {self._label}"
        )

    def stop(self) -> None:
        """Stop retrying (the caller stops the stream itself)."""
        self.stopped = True
        self._cancel_retry()

    @callback
    def connected(self) -> None:
        """Forget the refusals: the stream was accepted."""
        self._refused.reset()
        self.error = None

    async def _async_run(self) -> None:
        try:
            await self._run()
        except AuthenticationError as err:
            _LOGGER.warning("Credentials rejected; %s stopped until reauthentication", self._label)
            self._stop_for(err)
            self._entry.async_start_reauth(self._hass)
        except MissingScopeError as err:
            _LOGGER.warning(
                "%s stopped: the OAuth client lacks scope(s) %s",
                self._label.capitalize(),
                ", ".join(sorted(err.missing_scopes)),
            )
            self._stop_for(err)
            self._on_missing_scope(err.missing_scopes)
        except WgtwoError as err:
            if self.stopped:
                return
            delay = self._refused.next_delay()
            _LOGGER.error(
                "%s stopped: %s; trying again in %.0f s", self._label.capitalize(), err, delay
            )
            self.error = err
            self._cancel_retry()
            self._on_refused()
            self._retry_timer = async_call_later(self._hass, delay, self._retry)

    @callback
    def _retry(self, _now: datetime) -> None:
        self._retry_timer = None
        if not self.stopped:
            self.async_start()

    def _stop_for(self, err: WgtwoError) -> None:
        self.error = err
        self.stop()
        self._on_stopped()

    def _cancel_retry(self) -> None:
        if self._retry_timer is not None:
            self._retry_timer()
            self._retry_timer = None


class _Stats(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


class ClientStream(Protocol):
    """What a client stream offers its supervised owner."""

    @property
    def status(self) -> ConnectionStatus:
        """Where the client's connection stands."""
        ...

    @property
    def stats(self) -> _Stats:
        """Counters since the stream was created."""
        ...

    async def run(self) -> None:
        """Run until stopped, or until a failure the client cannot get past."""

    async def stop(self) -> None:
        """Stop and wait until the stream ended."""


class SupervisedStream[S: ClientStream, H]:
    """A client stream with a token of its own scopes, run under a :class:`StreamSupervisor`.

    Keeps what the client last reported as an error, and gives the state and counters for
    diagnostics. ``build`` makes the client stream for the token provider; the stream tells
    :meth:`_on_status` how it stands. A connection clears the error and, through
    ``on_connected``, the stream's scope issue. What the stream delivers goes to the handler
    given at start. A subclass hears of a stop or a refusal in :meth:`_on_stopped` and
    :meth:`_on_refused`.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        settings: WgtwoSettings,
        scopes: Iterable[str],
        label: str,
        build: Callable[[TokenProvider | None], S],
        on_missing_scope: Callable[[frozenset[str]], None],
        on_connected: Callable[[], None],
    ) -> None:
        """Build the stream and its supervisor; nothing connects until started."""
        self._hass = hass
        self._entry = entry
        self._handler: H | None = None
        self._on_connected = on_connected
        self.last_error: str | None = None
        self.token_provider = create_token_provider(hass, entry.data, scopes, settings)
        self.stream = build(self.token_provider)
        self.supervisor = StreamSupervisor(
            hass,
            entry,
            settings,
            label,
            self.stream.run,
            on_missing_scope,
            on_stopped=self._on_stopped,
            on_refused=self._on_refused,
        )

    @property
    def error(self) -> WgtwoError | None:
        """What last stopped or refused the stream (None once it connected)."""
        return self.supervisor.error

    @property
    def stream_state(self) -> str:
        """Where the stream stands: stopped, or the client's connection state."""
        return "stopped" if self.supervisor.stopped else self.stream.status.state.value

    @property
    def stats(self) -> dict[str, Any]:
        """State and counters for diagnostics (no numbers, no names)."""
        return {
            "state": self.stream_state,
            "last_error": self.last_error,
            **self.stream.stats.as_dict(),
        }

    async def async_stop(self) -> None:
        """Stop the stream and wait until it ended."""
        self.supervisor.stop()
        await self.stream.stop()

    @callback
    def _async_start(self, handler: H) -> None:
        self._handler = handler
        self.supervisor.async_start()

    def _on_status(self, status: ConnectionStatus) -> None:
        if status.state is ConnectionState.CONNECTED:
            self.supervisor.connected()
            self.last_error = None
            self._on_connected()
        elif status.state in (ConnectionState.DISCONNECTED, ConnectionState.FAILED):
            self.last_error = status.reason

    def _on_stopped(self) -> None:
        """Act on credentials or scopes stopping the stream (nothing by default)."""

    def _on_refused(self) -> None:
        """Act on the server refusing the stream, a retry scheduled (nothing by default)."""


class SupervisedEventStream[S: ClientStream](SupervisedStream[S, EventHandler]):
    """A supervised stream of events: each goes to the handler, and is counted once handled."""

    events_handled = 0

    @property
    def stats(self) -> dict[str, Any]:
        """State and counters for diagnostics, with the events handled."""
        return {**super().stats, "events_handled": self.events_handled}

    def _handle(self, event: WgtwoEvent) -> Awaitable[None] | None:
        assert self._handler is not None  # the stream runs only once started
        if (pending := self._handler(event)) is not None:
            return self._async_count_after(pending)
        self.events_handled += 1
        return None

    async def _async_count_after(self, pending: Awaitable[None]) -> None:
        await pending
        self.events_handled += 1
