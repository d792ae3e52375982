"""Caller names: the operator asks the phonebook who calls an entry's subscriber.

With the option on, a second stream beside the event stream answers the operator's number
lookups, with a token of its own (``lookup.number:read`` only), under the same supervisor
as the events: neither stream's failures touch the other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from .client import ConnectionState, ConnectionStatus, Endpoint, WgtwoError
from .client.lookup import LookupConfig, NumberLookupResponder, lookup_scopes
from .const import CONF_NAME_MAX_AGE, DEFAULT_NAME_MAX_AGE, MIN_NAME_MAX_AGE
from .repairs import async_create_lookup_scope_issue, async_delete_lookup_scope_issue
from .settings import WgtwoSettings, create_token_provider
from .supervisor import StreamSupervisor

_LOGGER = logging.getLogger(__package__)

type NameLookup = Callable[[str, str | None], str | None]


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
