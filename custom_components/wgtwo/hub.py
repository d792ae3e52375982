"""The connection of one config entry to the operator: its long-lived streams.

The event stream, and with caller names on the lookup stream (:mod:`.caller_names`), each
run under a :class:`.supervisor.SupervisedStream`, with a token of its own: neither's
failures touch the other.

The hub is the one owner of the event stream's state (:class:`StreamState`), which it
reports to the coordinator; a loss shorter than the grace period is not shown (:mod:`.grace`).

Stopping for an unload (a reload after saving options, a disabled or removed entry) is not a
loss: the state is not reported, so the Connected sensor keeps showing what it showed until
Home Assistant takes the entry's entities away, and a stream that was up hands over to the
entry's next hub (a reload), which starts as reconnecting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from .caller_names import CallerNameStream, NameLookup
from .client import (
    ConnectionState,
    ConnectionStatus,
    Endpoint,
    EventSubscription,
    SubscriptionConfig,
    scopes_for,
)
from .const import CONF_NAME_CALLERS
from .event_streams import EventStream
from .grace import Grace
from .repairs import (
    async_create_scope_issue,
    async_delete_lookup_scope_issue,
    async_delete_scope_issue,
)
from .settings import WgtwoSettings, event_types_from_options, streams_from_options
from .supervisor import EventHandler, SupervisedEventStream

_LOGGER = logging.getLogger(__package__)

# Recommended production settings for the event stream.
MAX_IN_FLIGHT: Final = 50

type StateListener = Callable[[StreamState], None]


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


class WgtwoHub(SupervisedEventStream[EventSubscription]):
    """Keep one entry's streams running and report the event stream's :class:`StreamState`."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        settings: WgtwoSettings,
        endpoint: Endpoint,
    ) -> None:
        """Build the subscription; nothing connects until :meth:`async_start`."""
        self._settings = settings
        self._on_state: StateListener = lambda _state: None
        self.endpoint = endpoint
        self.event_types = event_types_from_options(entry.options)
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
        super().__init__(
            hass,
            entry,
            settings,
            scopes_for(self.event_types),
            "the event stream",
            lambda token_provider: EventSubscription(
                endpoint,
                config,
                self._handle,
                token_provider=token_provider,
                on_state=self._on_status,
            ),
            on_missing_scope=lambda scopes: async_create_scope_issue(hass, entry, scopes),
            on_connected=lambda: async_delete_scope_issue(hass, entry.entry_id),
        )
        self.state = StreamState.STOPPED
        self._stopping = False
        self._grace = Grace(hass, entry.entry_id, settings.disconnect_grace, self._grace_over)
        if self._grace.handed_over:  # a reload: up until the rest of the grace is over
            self.state = StreamState.RECONNECTING
        # The v1 streams: consent changes always, the subscription facts as chosen.
        self.v1_streams = [
            EventStream(hass, entry, settings, endpoint, stream)
            for stream in streams_from_options(entry.options)
        ]
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
        return self.stream.stats.last_event_time

    @property
    def stats(self) -> dict[str, Any]:
        """Counters and state for diagnostics (no personal data)."""
        return {
            **super().stats,
            "state": self.state.value,
            "stream": self.stream.status.state.value,
            "event_types": [str(t) for t in self.event_types],
            "endpoint": self.endpoint.target,
            "plaintext": self.endpoint.plaintext,
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
        self._on_state = on_state
        if self._grace.handed_over:  # a reload: what the previous hub showed holds
            self._grace.start()
        else:
            self._set_state(StreamState.CONNECTING)
            if self._settings.disconnect_grace > 0:
                self._grace.start()
        self._async_start(handler)
        for stream in self.v1_streams:
            stream.async_start(handler)
        if self.caller_names is not None:
            self.caller_names.async_start(name_for)
        else:  # caller names turned off: their scope no longer matters
            async_delete_lookup_scope_issue(self._hass, self._entry.entry_id)

    async def async_stop(self) -> None:
        """Stop the streams for an unload and wait until they ended.

        Pending acks get a moment to finish. Not a loss: the stopped state is not reported
        (the entities are about to go), and an up stream hands over to the next hub.
        """
        self._stopping = True
        was_up = self.state in UP_STATES
        self.supervisor.stop()
        self._grace.cancel()
        if self.caller_names is not None:
            await self.caller_names.async_stop()
        for stream in self.v1_streams:
            await stream.async_stop()
        await super().async_stop()
        self._grace.cancel()
        self.state = StreamState.STOPPED
        if was_up:
            self._grace.hand_over()

    def _on_status(self, status: ConnectionStatus) -> None:
        """Follow the client; show and log a loss only once it outlasts the grace period."""
        if self._stopping:
            return  # ending on purpose
        super()._on_status(status)
        if status.state is ConnectionState.CONNECTED:
            self._grace.cancel()
            if self.state is StreamState.DOWN:
                _LOGGER.info("Connection to the wgtwo event stream restored")
            self._set_state(StreamState.CONNECTED)
        elif status.state is ConnectionState.DISCONNECTED and self.state is StreamState.CONNECTED:
            self._set_state(StreamState.RECONNECTING)
            self._grace.start()

    def _on_stopped(self) -> None:
        self._set_state(StreamState.STOPPED)

    def _on_refused(self) -> None:
        self._set_state(StreamState.DOWN)

    def _grace_over(self) -> None:
        if self.state is StreamState.CONNECTING:
            _LOGGER.info("Cannot reach the wgtwo event stream (%s)", self.last_error or "unknown")
        elif self.state is StreamState.RECONNECTING:
            _LOGGER.info(
                "Connection to the wgtwo event stream lost (%s)", self.last_error or "unknown"
            )
        else:
            return
        self._set_state(StreamState.DOWN)

    def _set_state(self, state: StreamState) -> None:
        if state in (StreamState.STOPPED, StreamState.DOWN):
            self._grace.cancel()
        if state is self.state or self._stopping:
            return
        self.state = state
        self._on_state(state)
