"""Caller names: the operator asks the phonebook who calls an entry's subscriber.

With the option on, a second stream beside the event stream answers the operator's number
lookups, with a token of its own (``lookup.number:read`` only), under the same supervisor
as the events: neither stream's failures touch the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from .client import Endpoint
from .client.lookup import LookupConfig, NumberLookupResponder, lookup_scopes
from .const import CONF_NAME_MAX_AGE, DEFAULT_NAME_MAX_AGE, MIN_NAME_MAX_AGE
from .repairs import async_create_lookup_scope_issue, async_delete_lookup_scope_issue
from .settings import WgtwoSettings
from .supervisor import SupervisedStream

type NameLookup = Callable[[str, str | None], str | None]


def name_max_age(options: Mapping[str, Any]) -> float:
    """Seconds the operator may cache a name: the option's minutes, at least the minimum."""
    try:
        minutes = float(options.get(CONF_NAME_MAX_AGE, DEFAULT_NAME_MAX_AGE))
    except TypeError, ValueError:
        minutes = DEFAULT_NAME_MAX_AGE
    return max(minutes, MIN_NAME_MAX_AGE) * 60


class CallerNameStream(SupervisedStream[NumberLookupResponder, NameLookup]):
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
        self.max_age = name_max_age(entry.options)
        scopes = lookup_scopes()
        super().__init__(
            hass,
            entry,
            settings,
            scopes,
            "caller names",
            lambda token_provider: NumberLookupResponder(
                endpoint,
                self._name_for,
                config=LookupConfig(
                    max_age=self.max_age,
                    backoff_initial=settings.backoff_initial,
                    backoff_max=settings.backoff_max,
                    scopes=scopes,
                ),
                token_provider=token_provider,
                on_state=self._on_status,
            ),
            on_missing_scope=lambda scopes: async_create_lookup_scope_issue(hass, entry, scopes),
            on_connected=lambda: async_delete_lookup_scope_issue(hass, entry.entry_id),
        )

    @property
    def stats(self) -> dict[str, Any]:
        """State and counters for diagnostics (no numbers, no names)."""
        return {**super().stats, "max_age_minutes": self.max_age / 60}

    @callback
    def async_start(self, name_for: NameLookup) -> None:
        """Run the lookup stream; ``name_for`` names a number for a called subscriber."""
        self._async_start(name_for)

    def _name_for(self, number: str, recipient: str | None) -> str | None:
        return None if self._handler is None else self._handler(number, recipient)
