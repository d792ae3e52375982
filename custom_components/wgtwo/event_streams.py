"""The operator's v1 event streams of an entry: consent changes and the subscription facts.

Each runs as a :class:`~.client.v1_stream.V1EventStream` with a token of its own scope,
under a :class:`.supervisor.StreamSupervisor` of its own, and hands its events to the same
handler as the event stream (the coordinator), which passes each to its capability. A
missing scope stops that stream only, with a fixable repair issue naming it; the others
and the event stream go on.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from .client import Endpoint
from .client.v1_services import V1_SERVICES, V1Stream
from .client.v1_stream import V1EventStream, V1StreamConfig
from .repairs import async_create_stream_scope_issue, async_delete_stream_scope_issue
from .settings import WgtwoSettings
from .supervisor import EventHandler, SupervisedEventStream

# Events waiting for their ack at once, per stream (the operator's default).
MAX_IN_FLIGHT = 50


def queue_name(entry_id: str, stream: V1Stream) -> str:
    """Durable queue of an entry's stream: stable across restarts, one per stream."""
    return f"ha-{entry_id}-{stream}"


class EventStream(SupervisedEventStream[V1EventStream]):
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
        self.kind = stream
        service = V1_SERVICES[stream]
        super().__init__(
            hass,
            entry,
            settings,
            service.scopes,
            f"the {stream.replace('_', ' ')} stream",
            lambda token_provider: V1EventStream(
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
                self._handle,
                token_provider=token_provider,
                on_state=self._on_status,
            ),
            on_missing_scope=lambda scopes: async_create_stream_scope_issue(
                hass, entry, str(stream), scopes
            ),
            on_connected=lambda: async_delete_stream_scope_issue(hass, entry.entry_id, str(stream)),
        )

    @callback
    def async_start(self, handler: EventHandler) -> None:
        """Run the stream; its events go to ``handler``."""
        self._async_start(handler)
