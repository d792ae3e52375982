"""The operator's v1 event streams of an entry: consent changes and the subscription facts.

Each runs as a :class:`~.client.v1_stream.V1EventStream` with a token of its own scope,
under a :class:`.supervisor.StreamSupervisor` of its own, and hands its events to the same
handler as the event stream (the coordinator), which passes each to its capability. A
missing scope stops that stream only, with a fixable repair issue naming it; the others
and the event stream go on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from .client import ConnectionState, ConnectionStatus, Endpoint, WgtwoEvent
from .client.v1_services import V1_SERVICES, V1Stream
from .client.v1_stream import V1EventStream, V1StreamConfig
from .repairs import async_create_stream_scope_issue, async_delete_stream_scope_issue
from .settings import WgtwoSettings, create_token_provider
from .supervisor import StreamSupervisor

_LOGGER = logging.getLogger(__package__)

type Handler = Callable[[WgtwoEvent], Awaitable[None]]

# Events waiting for their ack at once, per stream (the operator's default).
MAX_IN_FLIGHT = 50


def queue_name(entry_id: str, stream: V1Stream) -> str:
    """Durable queue of an entry's stream: stable across restarts, one per stream."""
    return f"ha-{entry_id}-{stream}"


class EventStream:
    """One v1 stream of an entry, kept running until the entry unloads."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        settings: WgtwoSettings,
        endpoint: Endpoint,
        stream: V1Stream,
    ) -> None:
        """Build the stream; nothing connects until :meth:`async_start`."""
        self._hass = hass
        self._entry = entry
        self.kind = stream
        service = V1_SERVICES[stream]
        self._handler: Handler | None = None
        self.token_provider = create_token_provider(hass, entry.data, service.scopes, settings)
        self.stream = V1EventStream(
            endpoint,
            service,
            V1StreamConfig(
                queue_name=queue_name(entry.entry_id, stream),
                max_in_flight=MAX_IN_FLIGHT,
                ack_timeout=max(10.0, settings.ack_timeout),
                backoff_initial=settings.backoff_initial,
                backoff_max=settings.backoff_max,
                stop_timeout=settings.stop_timeout,
            ),
            self._async_handle,
            token_provider=self.token_provider,
            on_state=self._on_state,
        )
        self.supervisor = StreamSupervisor(
            hass,
            entry,
            settings,
            f"the {stream.replace('_', ' ')} stream",
            self.stream.run,
            on_missing_scope=lambda scopes: async_create_stream_scope_issue(
                hass, entry, str(stream), scopes
            ),
        )
        self.events_handled = 0
        self.last_error: str | None = None

    @property
    def stats(self) -> dict[str, Any]:
        """State and counters for diagnostics (no numbers)."""
        state = "stopped" if self.supervisor.stopped else self.stream.status.state.value
        return {
            "state": state,
            "last_error": self.last_error,
            "events_handled": self.events_handled,
            **self.stream.stats.as_dict(),
        }

    @callback
    def async_start(self, handler: Handler) -> None:
        """Run the stream; its events go to ``handler``."""
        self._handler = handler
        self.supervisor.async_start()

    async def async_stop(self) -> None:
        """Stop the stream and wait until it ended."""
        self.supervisor.stop()
        await self.stream.stop()

    async def _async_handle(self, event: WgtwoEvent) -> None:
        assert self._handler is not None  # the stream runs only once started
        await self._handler(event)
        self.events_handled += 1

    def _on_state(self, status: ConnectionStatus) -> None:
        if status.state is ConnectionState.CONNECTED:
            self.supervisor.connected()
            self.last_error = None
            async_delete_stream_scope_issue(self._hass, self._entry.entry_id, str(self.kind))
        elif status.state in (ConnectionState.DISCONNECTED, ConnectionState.FAILED):
            self.last_error = status.reason
