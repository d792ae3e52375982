"""The connection of one config entry to the wgtwo API: token, event stream and actions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later

from .client import (
    AuthenticationError,
    ConnectionState,
    ConnectionStatus,
    Endpoint,
    EventSubscription,
    MissingScopeError,
    SendSmsResult,
    SubscriptionConfig,
    Voicemail,
    WgtwoActions,
    WgtwoError,
    WgtwoEvent,
    scopes_for,
)
from .client.event_types import (
    SCOPE_SMS_SEND,
    SCOPE_VOICEMAIL_DELETE,
    SCOPE_VOICEMAIL_GET,
    SCOPE_VOICEMAIL_UPDATE,
)
from .const import DOMAIN, ISSUE_MISSING_SCOPES, SIGNAL_CONNECTION
from .data import WgtwoConfigEntry
from .settings import (
    WgtwoSettings,
    create_token_provider,
    endpoint_from_data,
    event_types_from_options,
    get_settings,
)

_LOGGER = logging.getLogger(__package__)

# Recommended production settings for the event stream.
MAX_IN_FLIGHT: Final = 50

type EventHandler = Callable[[WgtwoEvent], Awaitable[None]]


class ScopedActions:
    """The API's voicemail and SMS calls, each with a token that carries only its own scope.

    Action scopes are optional grants: a product without SMS sending can still mark
    voicemails read, so no token asks for more than the one call needs.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        data: Mapping[str, Any],
        endpoint: Endpoint,
        settings: WgtwoSettings,
    ) -> None:
        self._hass = hass
        self._data = data
        self._endpoint = endpoint
        self._settings = settings
        self._clients: dict[str, WgtwoActions] = {}

    def _client(self, scope: str) -> WgtwoActions:
        client = self._clients.get(scope)
        if client is None:
            provider = create_token_provider(self._hass, self._data, {scope}, self._settings)
            client = self._clients[scope] = WgtwoActions(self._endpoint, provider)
        return client

    async def get_voicemail(self, voicemail_id: str) -> Voicemail:
        """Fetch a voicemail's metadata and audio."""
        return await self._client(SCOPE_VOICEMAIL_GET).get_voicemail(voicemail_id)

    async def mark_voicemail_read(self, voicemail_id: str) -> None:
        """Mark a voicemail as played at the operator."""
        await self._client(SCOPE_VOICEMAIL_UPDATE).mark_voicemail_read(voicemail_id)

    async def delete_voicemail(self, voicemail_id: str) -> None:
        """Delete a voicemail at the operator."""
        await self._client(SCOPE_VOICEMAIL_DELETE).delete_voicemail(voicemail_id)

    async def send_sms(self, from_subscriber: str, to_address: str, content: str) -> SendSmsResult:
        """Send a text SMS on behalf of a subscriber."""
        return await self._client(SCOPE_SMS_SEND).send_sms(from_subscriber, to_address, content)

    async def close(self) -> None:
        """Close every channel opened so far."""
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.close()


def subscription_name(entry_id: str) -> str:
    """Durable and queue name of an entry's subscription: stable across restarts."""
    return f"ha-{entry_id}"


class WgtwoHub:
    """Keep one entry's event stream running and report its connection state.

    Events go to the handler set with ``set_handler`` (the subscriber tracker). The stream
    reconnects by itself; rejected credentials start a reauth flow and a missing scope
    raises a repair issue, after which the stream stays stopped until the entry reloads.
    """

    def __init__(self, hass: HomeAssistant, entry: WgtwoConfigEntry) -> None:
        self._hass = hass
        self._entry = entry
        self._settings = settings = get_settings(hass)
        self.endpoint = endpoint_from_data(entry.data, settings)
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
            on_state=self._on_state,
        )
        self.connected = False
        self._down_timer: Callable[[], None] | None = None
        self._stopped = asyncio.Event()
        self.events_handled = 0
        self.last_error: str | None = None
        self._handler: EventHandler | None = None
        self._reported_down = False
        self._task: asyncio.Task[None] | None = None
        self._actions = ScopedActions(hass, entry.data, self.endpoint, settings)

    @property
    def issue_id(self) -> str:
        """The id of this entry's missing-scope repair issue."""
        return ISSUE_MISSING_SCOPES.format(entry_id=self._entry.entry_id)

    @property
    def last_event_time(self) -> datetime | None:
        """When the last event arrived (None before the first)."""
        return self.subscription.stats.last_event_time

    @property
    def stats(self) -> dict[str, Any]:
        """Counters and state for diagnostics (no personal data)."""
        return {
            "connected": self.connected,
            "state": self.subscription.status.state.value,
            "last_error": self.last_error,
            "events_handled": self.events_handled,
            "event_types": [str(t) for t in self.event_types],
            "endpoint": self.endpoint.target,
            "plaintext": self.endpoint.plaintext,
            **self.subscription.stats.as_dict(),
        }

    def set_handler(self, handler: EventHandler) -> None:
        """Set where events go (before ``async_start``)."""
        self._handler = handler

    async def async_prepare(self) -> None:
        """Fetch a token once so bad credentials or scopes show up during setup."""
        if self.token_provider is None:
            return
        try:
            await self.token_provider.get_token()
        except MissingScopeError as err:
            self._create_scope_issue(err.missing_scopes)
            raise

    @property
    def actions(self) -> ScopedActions:
        """Voicemail and SMS calls for services and buttons."""
        return self._actions

    @callback
    def async_start(self) -> None:
        """Run the event stream in a background task tied to the entry."""
        self._task = self._entry.async_create_background_task(
            self._hass, self.run(), name=f"{DOMAIN} event stream"
        )

    async def async_stop(self) -> None:
        """Stop the stream, wait for its task and close the action channels."""
        self._stopped.set()
        await self.subscription.stop()
        task, self._task = self._task, None
        if task is not None and not task.done():
            await asyncio.wait([task])
        await self._actions.close()
        self._cancel_down_timer()
        self._set_connected(False)

    async def run(self) -> None:
        """Run the stream until stopped; turn fatal errors into reauth or a repair issue."""
        delay = self._settings.refused_retry_initial
        try:
            while not self._stopped.is_set():
                try:
                    await self.subscription.run()
                except AuthenticationError:
                    _LOGGER.warning(
                        "Credentials rejected; the event stream stopped until reauthentication"
                    )
                    self._entry.async_start_reauth(self._hass)
                except MissingScopeError as err:
                    _LOGGER.warning(
                        "The event stream stopped: the OAuth client lacks scope(s) %s",
                        ", ".join(sorted(err.missing_scopes)),
                    )
                    self._create_scope_issue(err.missing_scopes)
                except WgtwoError as err:
                    _LOGGER.error(
                        "The event stream stopped: %s; trying again in %.0f s", err, delay
                    )
                    self._set_connected(False)
                    try:
                        async with asyncio.timeout(delay):
                            await self._stopped.wait()
                    except TimeoutError:
                        delay = min(delay * 2, self._settings.refused_retry_max)
                        continue
                return
        finally:
            self._set_connected(False)

    async def _async_handle_event(self, event: WgtwoEvent) -> None:
        handler = self._handler
        if handler is not None:
            await handler(event)
        self.events_handled += 1

    def _on_state(self, status: ConnectionStatus) -> None:
        """Track the connection; log a lasting loss and its recovery once each."""
        if status.state is ConnectionState.CONNECTED:
            self._cancel_down_timer()
            self.last_error = None
            if self._reported_down:
                _LOGGER.info("Connection to the wgtwo event stream restored")
                self._reported_down = False
            ir.async_delete_issue(self._hass, DOMAIN, self.issue_id)
            self._set_connected(True)
        elif status.state in (ConnectionState.DISCONNECTED, ConnectionState.FAILED):
            self.last_error = status.reason
            grace = self._settings.disconnect_grace
            if status.state is ConnectionState.FAILED or grace <= 0:
                self._report_down()
            elif self._down_timer is None and not self._reported_down:
                self._down_timer = async_call_later(self._hass, grace, self._report_down_later)

    @callback
    def _report_down_later(self, _now: datetime) -> None:
        self._down_timer = None
        self._report_down()

    def _report_down(self) -> None:
        self._cancel_down_timer()
        if not self._reported_down:
            _LOGGER.info(
                "Connection to the wgtwo event stream lost (%s)", self.last_error or "unknown"
            )
            self._reported_down = True
        self._set_connected(False)

    def _cancel_down_timer(self) -> None:
        if self._down_timer is not None:
            self._down_timer()
            self._down_timer = None

    def _set_connected(self, connected: bool) -> None:
        if connected == self.connected:
            return
        self.connected = connected
        async_dispatcher_send(
            self._hass, SIGNAL_CONNECTION.format(entry_id=self._entry.entry_id), connected
        )

    def _create_scope_issue(self, scopes: Iterable[str]) -> None:
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            self.issue_id,
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="missing_scopes",
            translation_placeholders={
                "scopes": ", ".join(sorted(scopes)),
                "title": self._entry.title,
            },
            data={"entry_id": self._entry.entry_id},
        )
