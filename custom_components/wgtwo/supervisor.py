"""One way to keep a long-lived stream running: until it is fatal, then act on why.

The client reconnects by itself after transient failures; what it cannot get past ends
its ``run()``. Rejected credentials start a reauth flow; a missing scope stops the stream
until the entry reloads, with a repair issue naming it; a request the server refuses is
tried again after a long, doubling pause. Both of an entry's streams (events, caller names)
run under one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later

from .client import AuthenticationError, Backoff, MissingScopeError, WgtwoError
from .const import DOMAIN
from .settings import WgtwoSettings

_LOGGER = logging.getLogger(__package__)


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
