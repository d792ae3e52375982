"""The connection of one config entry to the operator: its long-lived streams.

Both streams (events, and with caller names on, the operator's number lookups) run under
one :class:`StreamSupervisor`: the client reconnects by itself after transient failures,
and what it cannot get past ends the run. Rejected credentials start a reauth flow; a
missing scope stops the stream until the entry reloads, with a repair issue naming it; a
request the server refuses is tried again after a long, doubling pause. Each stream has a
token of its own: neither's failures touch the other.

The hub is the one owner of the event stream's state (:class:`StreamState`), which it
reports to the coordinator; a loss shorter than the grace period is not shown.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later

from .client import (
    AuthenticationError,
    Backoff,
    ConnectionState,
    ConnectionStatus,
    Endpoint,
    EventSubscription,
    MissingScopeError,
    SubscriptionConfig,
    WgtwoError,
    WgtwoEvent,
    scopes_for,
)
from .client.lookup import LookupConfig, NumberLookupResponder, lookup_scopes
from .const import (
    CONF_NAME_CALLERS,
    CONF_NAME_MAX_AGE,
    DEFAULT_NAME_MAX_AGE,
    DOMAIN,
    MIN_NAME_MAX_AGE,
)
from .repairs import (
    async_create_lookup_scope_issue,
    async_create_scope_issue,
    async_delete_lookup_scope_issue,
    async_delete_scope_issue,
)
from .settings import WgtwoSettings, create_token_provider, event_types_from_options

_LOGGER = logging.getLogger(__package__)

# Recommended production settings for the event stream.
MAX_IN_FLIGHT: Final = 50

type EventHandler = Callable[[WgtwoEvent], Awaitable[None]]
type StateListener = Callable[[StreamState], None]
type NameLookup = Callable[[str, str | None], str | None]


class StreamState(StrEnum):
    """Where an entry's event stream stands, as Home Assistant shows it."""

    CONNECTING = "connecting"  # started, not connected yet (within the grace period)
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"  # lost, but only for less than the grace period
    DOWN = "down"  # not connected for longer than the grace period, or refused
    STOPPED = "stopped"  # credentials or scopes refused, or the entry unloaded


# States in which the stream counts as up: a short loss is not shown.
UP_STATES: Final = frozenset({StreamState.CONNECTED, StreamState.RECONNECTING})


def subscription_name(entry_id: str) -> str:
    """Durable and queue name of an entry's subscription: stable across restarts."""
    return f"ha-{entry_id}"


def name_max_age(options: Mapping[str, Any]) -> float:
    """Seconds the operator may cache a name: the option's minutes, at least the minimum."""
    try:
        minutes = float(options.get(CONF_NAME_MAX_AGE, DEFAULT_NAME_MAX_AGE))
    except TypeError, ValueError:
        minutes = DEFAULT_NAME_MAX_AGE
    return max(minutes, MIN_NAME_MAX_AGE) * 60


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


class WgtwoHub:
    """Keep one entry's streams running and report the event stream's :class:`StreamState`."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        settings: WgtwoSettings,
        endpoint: Endpoint,
    ) -> None:
        """Build the subscription; nothing connects until :meth:`async_start`."""
        self._hass = hass
        self._entry = entry
        self._settings = settings
        self._handler: EventHandler | None = None
        self._on_state: StateListener = lambda _state: None
        self.endpoint = endpoint
        self.event_types = event_types_from_options(entry.options)
        self.token_provider = create_token_provider(
            hass, entry.data, scopes_for(self.event_types), settings
        )
        name = subscription_name(entry.entry_id)
        config = SubscriptionConfig(
            event_types=self.event_types,
            client_id=name,
            durable_name=name,
            queue_name=name,
            max_in_flight=MAX_IN_FLIGHT,
            manual_ack=True,
            backoff_initial=settings.backoff_initial,
            backoff_max=settings.backoff_max,
            ack_timeout=settings.ack_timeout,
            stop_timeout=settings.stop_timeout,
        )
        self.subscription = EventSubscription(
            self.endpoint,
            config,
            self._async_handle_event,
            token_provider=self.token_provider,
            on_state=self._on_subscription_state,
        )
        self.supervisor = StreamSupervisor(
            hass,
            entry,
            settings,
            "the event stream",
            self.subscription.run,
            on_missing_scope=lambda scopes: async_create_scope_issue(hass, entry, scopes),
            on_stopped=lambda: self._set_state(StreamState.STOPPED),
            on_refused=lambda: self._set_state(StreamState.DOWN),
        )
        self.state = StreamState.STOPPED
        self.last_error: str | None = None
        self.events_handled = 0
        self._grace_timer: CALLBACK_TYPE | None = None
        self.caller_names: CallerNameStream | None = None
        if entry.options.get(CONF_NAME_CALLERS):
            self.caller_names = CallerNameStream(hass, entry, settings, endpoint)

    @property
    def error(self) -> WgtwoError | None:
        """What last stopped or refused the event stream (None once it connected)."""
        return self.supervisor.error

    @property
    def connected(self) -> bool:
        """Whether the stream counts as up (a loss within the grace period does not count)."""
        return self.state in UP_STATES

    @property
    def last_event_time(self) -> datetime | None:
        """When the last event arrived (None before the first)."""
        return self.subscription.stats.last_event_time

    @property
    def stats(self) -> dict[str, Any]:
        """Counters and state for diagnostics (no personal data)."""
        return {
            "state": self.state.value,
            "stream": self.subscription.status.state.value,
            "last_error": self.last_error,
            "events_handled": self.events_handled,
            "event_types": [str(t) for t in self.event_types],
            "endpoint": self.endpoint.target,
            "plaintext": self.endpoint.plaintext,
            **self.subscription.stats.as_dict(),
        }

    async def async_prepare(self) -> None:
        """Fetch a token once so bad credentials or scopes show up during setup."""
        if self.token_provider is not None:
            await self.token_provider.get_token()

    @callback
    def async_start(
        self, handler: EventHandler, on_state: StateListener, name_for: NameLookup
    ) -> None:
        """Run the streams: events go to ``handler``, state changes to ``on_state``.

        ``name_for`` answers the caller-name lookups (number, called subscriber) when
        caller names are on.
        """
        self._handler = handler
        self._on_state = on_state
        self._set_state(StreamState.CONNECTING)
        if self._settings.disconnect_grace > 0:
            self._start_grace_timer()
        self.supervisor.async_start()
        if self.caller_names is not None:
            self.caller_names.async_start(name_for)
        else:  # caller names turned off: their scope no longer matters
            async_delete_lookup_scope_issue(self._hass, self._entry.entry_id)

    async def async_stop(self) -> None:
        """Stop the streams and wait until they ended (pending acks get a moment to finish)."""
        self.supervisor.stop()
        self._cancel_grace_timer()
        if self.caller_names is not None:
            await self.caller_names.async_stop()
        await self.subscription.stop()
        self._set_state(StreamState.STOPPED)

    async def _async_handle_event(self, event: WgtwoEvent) -> None:
        assert self._handler is not None  # the subscription runs only once started
        await self._handler(event)
        self.events_handled += 1

    def _on_subscription_state(self, status: ConnectionStatus) -> None:
        """Follow the client; show and log a loss only once it outlasts the grace period."""
        if status.state is ConnectionState.CONNECTED:
            self._cancel_grace_timer()
            self.supervisor.connected()
            self.last_error = None
            async_delete_scope_issue(self._hass, self._entry.entry_id)
            if self.state is StreamState.DOWN:
                _LOGGER.info("Connection to the wgtwo event stream restored")
            self._set_state(StreamState.CONNECTED)
        elif status.state is ConnectionState.DISCONNECTED:
            self.last_error = status.reason
            if self.state is StreamState.CONNECTED:
                self._set_state(StreamState.RECONNECTING)
                self._start_grace_timer()
        elif status.state is ConnectionState.FAILED:
            self.last_error = status.reason

    def _start_grace_timer(self) -> None:
        if self._grace_timer is not None:
            return
        grace = self._settings.disconnect_grace
        if grace <= 0:
            self._grace_over(None)
        else:
            self._grace_timer = async_call_later(self._hass, grace, self._grace_over)

    @callback
    def _grace_over(self, _now: datetime | None) -> None:
        self._grace_timer = None
        if self.state is StreamState.CONNECTING:
            _LOGGER.info("Cannot reach the wgtwo event stream (%s)", self.last_error or "unknown")
        elif self.state is StreamState.RECONNECTING:
            _LOGGER.info(
                "Connection to the wgtwo event stream lost (%s)", self.last_error or "unknown"
            )
        else:
            return
        self._set_state(StreamState.DOWN)

    def _cancel_grace_timer(self) -> None:
        if self._grace_timer is not None:
            self._grace_timer()
            self._grace_timer = None

    def _set_state(self, state: StreamState) -> None:
        if state in (StreamState.STOPPED, StreamState.DOWN):
            self._cancel_grace_timer()
        if state is self.state:
            return
        self.state = state
        self._on_state(state)


class CallerNameStream:
    """Answer the operator's number lookups with phonebook names, for the entry's subscribers.

    The token asks for ``lookup.number:read`` only. A server that names the called
    subscriber anyway gets a name only for the entry's own subscribers. A missing scope
    raises its own repair issue and stops this stream (the option stays on, the fix
    reloads the entry). The event stream goes on in every case.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        settings: WgtwoSettings,
        endpoint: Endpoint,
    ) -> None:
        """Build the responder; nothing connects until :meth:`async_start`."""
        self._hass = hass
        self._entry = entry
        self._name_for: NameLookup = lambda _number, _recipient: None
        self.max_age = name_max_age(entry.options)
        scopes = lookup_scopes()
        self.token_provider = create_token_provider(hass, entry.data, scopes, settings)
        self.responder = NumberLookupResponder(
            endpoint,
            lambda number, recipient: self._name_for(number, recipient),
            config=LookupConfig(
                max_age=self.max_age,
                backoff_initial=settings.backoff_initial,
                backoff_max=settings.backoff_max,
                scopes=scopes,
            ),
            token_provider=self.token_provider,
            on_state=self._on_state,
        )
        self.supervisor = StreamSupervisor(
            hass,
            entry,
            settings,
            "caller names",
            self.responder.run,
            on_missing_scope=lambda scopes: async_create_lookup_scope_issue(hass, entry, scopes),
        )
        self.last_error: str | None = None

    @property
    def error(self) -> WgtwoError | None:
        """What last stopped or refused the lookup stream (None once it connected)."""
        return self.supervisor.error

    @property
    def state(self) -> str:
        """Where the lookup stream stands (the client's connection state)."""
        return "stopped" if self.supervisor.stopped else self.responder.status.state.value

    @property
    def stats(self) -> dict[str, Any]:
        """State and counters for diagnostics (no numbers, no names)."""
        return {
            "state": self.state,
            "max_age_minutes": self.max_age / 60,
            "last_error": self.last_error,
            **self.responder.stats.as_dict(),
        }

    @callback
    def async_start(self, name_for: NameLookup) -> None:
        """Run the lookup stream; ``name_for`` names a number for a called subscriber."""
        self._name_for = name_for
        self.supervisor.async_start()

    async def async_stop(self) -> None:
        """Stop the lookup stream and wait until it ended."""
        self.supervisor.stop()
        await self.responder.stop()

    def _on_state(self, status: ConnectionStatus) -> None:
        if status.state is ConnectionState.CONNECTED:
            self.supervisor.connected()
            self.last_error = None
            async_delete_lookup_scope_issue(self._hass, self._entry.entry_id)
        elif status.state in (ConnectionState.DISCONNECTED, ConnectionState.FAILED):
            self.last_error = status.reason
