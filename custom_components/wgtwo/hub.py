"""The connection of one config entry to the events API: token, stream and reconnects.

The client's subscription reconnects by itself after transient failures. What it cannot
get past ends ``run()``: rejected credentials start a reauth flow, a missing scope stops
the stream until the entry reloads (the coordinator raises the repair issue), and a
request the server refuses is tried again after a long, doubling pause.

With caller names on, a second stream answers the operator's number lookups beside it
(:class:`CallerNameStream`), with a token of its own: neither stream's failures touch the
other.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

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
from .data import WgtwoConfigEntry
from .repairs import async_create_lookup_scope_issue, async_delete_lookup_scope_issue
from .settings import (
    WgtwoSettings,
    create_token_provider,
    event_types_from_options,
)

_LOGGER = logging.getLogger(__package__)

# Recommended production settings for the event stream.
MAX_IN_FLIGHT: Final = 50

type EventHandler = Callable[[WgtwoEvent], Awaitable[None]]
type StateListener = Callable[[StreamState, WgtwoError | None], None]


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


class WgtwoHub:
    """Keep one entry's event stream running and report one :class:`StreamState`."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WgtwoConfigEntry,
        settings: WgtwoSettings,
        endpoint: Endpoint,
        handler: EventHandler,
        on_state: StateListener,
    ) -> None:
        """Build the subscription; nothing connects until :meth:`async_start`."""
        self._hass = hass
        self._entry = entry
        self._settings = settings
        self._handler = handler
        self._on_state = on_state
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
        self.state = StreamState.STOPPED
        self.error: WgtwoError | None = None
        self.last_error: str | None = None
        self.events_handled = 0
        self._refused = Backoff(settings.refused_retry_initial, settings.refused_retry_max)
        self._grace_timer: CALLBACK_TYPE | None = None
        self._retry_timer: CALLBACK_TYPE | None = None
        self._stopped = True
        self.caller_names: CallerNameStream | None = None
        if entry.options.get(CONF_NAME_CALLERS):
            self.caller_names = CallerNameStream(hass, entry, settings, endpoint)

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
    def async_start(self) -> None:
        """Run the event stream in a background task tied to the entry."""
        self._stopped = False
        self._set_state(StreamState.CONNECTING)
        if self._settings.disconnect_grace > 0:
            self._start_grace_timer()
        self._entry.async_create_background_task(
            self._hass, self._async_run(), name=f"{DOMAIN} event stream"
        )
        if self.caller_names is not None:
            self.caller_names.async_start()
        else:  # caller names turned off: their scope no longer matters
            async_delete_lookup_scope_issue(self._hass, self._entry.entry_id)

    async def async_stop(self) -> None:
        """Stop the stream and wait until it ended (pending acks get a moment to finish)."""
        self._stopped = True
        self._cancel_timers()
        if self.caller_names is not None:
            await self.caller_names.async_stop()
        await self.subscription.stop()
        self._set_state(StreamState.STOPPED)

    async def _async_run(self) -> None:
        """Run the subscription once; turn what ends it into reauth, an issue or a retry."""
        try:
            await self.subscription.run()
        except AuthenticationError as err:
            _LOGGER.warning("Credentials rejected; the event stream stopped until reauthentication")
            self._stop_for(err)
            self._entry.async_start_reauth(self._hass)
        except MissingScopeError as err:
            _LOGGER.warning(
                "The event stream stopped: the OAuth client lacks scope(s) %s",
                ", ".join(sorted(err.missing_scopes)),
            )
            self._stop_for(err)
        except WgtwoError as err:
            if self._stopped:
                return
            delay = self._refused.next_delay()
            _LOGGER.error("The event stream stopped: %s; trying again in %.0f s", err, delay)
            self.error = err
            self._cancel_timers()
            self._set_state(StreamState.DOWN)
            self._retry_timer = async_call_later(self._hass, delay, self._retry)

    @callback
    def _retry(self, _now: datetime) -> None:
        self._retry_timer = None
        if not self._stopped:
            self._entry.async_create_background_task(
                self._hass, self._async_run(), name=f"{DOMAIN} event stream"
            )

    def _stop_for(self, err: WgtwoError) -> None:
        self.error = err
        self._cancel_timers()
        self._set_state(StreamState.STOPPED)

    async def _async_handle_event(self, event: WgtwoEvent) -> None:
        await self._handler(event)
        self.events_handled += 1

    def _on_subscription_state(self, status: ConnectionStatus) -> None:
        """Follow the client; show and log a loss only once it outlasts the grace period."""
        if status.state is ConnectionState.CONNECTED:
            self._cancel_timers()
            self._refused.reset()
            self.last_error = None
            self.error = None
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

    def _cancel_timers(self) -> None:
        for timer in (self._grace_timer, self._retry_timer):
            if timer is not None:
                timer()
        self._grace_timer = self._retry_timer = None

    def _set_state(self, state: StreamState) -> None:
        if state is self.state:
            return
        self.state = state
        self._on_state(state, self.error)


def name_max_age(options: Mapping[str, Any]) -> float:
    """Seconds the operator may cache a name: the option's minutes, at least the minimum."""
    try:
        minutes = float(options.get(CONF_NAME_MAX_AGE, DEFAULT_NAME_MAX_AGE))
    except TypeError, ValueError:
        minutes = DEFAULT_NAME_MAX_AGE
    return max(minutes, MIN_NAME_MAX_AGE) * 60


class CallerNameStream:
    """Answer the operator's number lookups with phonebook names, for the entry's subscribers.

    The token asks for ``lookup.number:read`` only. A server that names the called
    subscriber anyway gets a name only for the entry's own subscribers. Rejected credentials
    start reauth; a missing scope raises its own repair issue and stops this stream (the
    option stays on, the fix reloads the entry); a refused stream is retried after a long,
    doubling pause. The event stream goes on in every case.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WgtwoConfigEntry,
        settings: WgtwoSettings,
        endpoint: Endpoint,
    ) -> None:
        """Build the responder; nothing connects until :meth:`async_start`."""
        self._hass = hass
        self._entry = entry
        self.max_age = name_max_age(entry.options)
        scopes = lookup_scopes()
        self.token_provider = create_token_provider(hass, entry.data, scopes, settings)
        self.responder = NumberLookupResponder(
            endpoint,
            self._name_for,
            config=LookupConfig(
                max_age=self.max_age,
                backoff_initial=settings.backoff_initial,
                backoff_max=settings.backoff_max,
                scopes=scopes,
            ),
            token_provider=self.token_provider,
            on_state=self._on_state,
        )
        self.error: WgtwoError | None = None
        self.last_error: str | None = None
        self._refused = Backoff(settings.refused_retry_initial, settings.refused_retry_max)
        self._retry_timer: CALLBACK_TYPE | None = None
        self._stopped = True

    @property
    def state(self) -> str:
        """Where the lookup stream stands (the client's connection state)."""
        return "stopped" if self._stopped else self.responder.status.state.value

    @property
    def stats(self) -> dict[str, Any]:
        """State and counters for diagnostics (no numbers, no names)."""
        return {
            "state": self.state,
            "max_age_minutes": self.max_age / 60,
            "last_error": self.last_error,
            **self.responder.stats.as_dict(),
        }

    def _name_for(self, number: str, recipient: str | None) -> str | None:
        """Return the phonebook's name, unless the call is for another product's subscriber."""
        coordinator = self._entry.runtime_data.coordinator
        if recipient is not None and recipient not in coordinator.subscribers:
            return None
        return coordinator.phonebook.name_for(number)

    @callback
    def async_start(self) -> None:
        """Run the lookup stream in a background task tied to the entry."""
        self._stopped = False
        self._entry.async_create_background_task(
            self._hass, self._async_run(), name=f"{DOMAIN} number lookup"
        )

    async def async_stop(self) -> None:
        """Stop the lookup stream and wait until it ended."""
        self._stopped = True
        self._cancel_retry()
        await self.responder.stop()

    async def _async_run(self) -> None:
        try:
            await self.responder.run()
        except AuthenticationError as err:
            _LOGGER.warning("Credentials rejected; caller names stopped until reauthentication")
            self._stop_for(err)
            self._entry.async_start_reauth(self._hass)
        except MissingScopeError as err:
            _LOGGER.warning(
                "Caller names stopped: the OAuth client lacks scope(s) %s",
                ", ".join(sorted(err.missing_scopes)),
            )
            self._stop_for(err)
            async_create_lookup_scope_issue(self._hass, self._entry, err.missing_scopes)
        except WgtwoError as err:
            if self._stopped:
                return
            delay = self._refused.next_delay()
            _LOGGER.error("Caller names stopped: %s; trying again in %.0f s", err, delay)
            self.error = err
            self._cancel_retry()
            self._retry_timer = async_call_later(self._hass, delay, self._retry)

    @callback
    def _retry(self, _now: datetime) -> None:
        self._retry_timer = None
        if not self._stopped:
            self._entry.async_create_background_task(
                self._hass, self._async_run(), name=f"{DOMAIN} number lookup"
            )

    def _stop_for(self, err: WgtwoError) -> None:
        self.error = err
        self._stopped = True
        self._cancel_retry()

    def _cancel_retry(self) -> None:
        if self._retry_timer is not None:
            self._retry_timer()
            self._retry_timer = None

    def _on_state(self, status: ConnectionStatus) -> None:
        if status.state is ConnectionState.CONNECTED:
            self._refused.reset()
            self.error = None
            self.last_error = None
            async_delete_lookup_scope_issue(self._hass, self._entry.entry_id)
        elif status.state in (ConnectionState.DISCONNECTED, ConnectionState.FAILED):
            self.last_error = status.reason
