"""Clients of the operator's unary services, each with a token of its own scope.

Voicemail, SMS, MMS, call forwarding and network scopes are optional grants: a product
without SMS sending can still mark voicemails read, so no token asks for more than one call
needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.core import HomeAssistant

from .client import (
    Endpoint,
    ForwardingMode,
    MissingScopeError,
    MmsPart,
    NetworkInfo,
    SendMmsResult,
    SendSmsResult,
    TokenProvider,
    Voicemail,
    VoicemailInfo,
    WgtwoActions,
    WgtwoError,
)
from .client.consents import SCOPE_SUBSCRIPTION_ID, ConsentInfo
from .client.event_types import (
    SCOPE_MMS_FROM_SUBSCRIBER,
    SCOPE_MMS_TO_SUBSCRIBER,
    SCOPE_SMS_SEND,
    SCOPE_SMS_TO_SUBSCRIBER,
    SCOPE_VOICEMAIL_DELETE,
    SCOPE_VOICEMAIL_GET,
    SCOPE_VOICEMAIL_UPDATE,
)
from .client.forwarding import FORWARDING_SCOPES
from .client.network import SCOPE_NETWORK_INFO
from .settings import WgtwoSettings, create_token_provider


class OperatorApi:
    """One client per scope, opened on first use and closed on unload."""

    def __init__(
        self,
        hass: HomeAssistant,
        data: Mapping[str, Any],
        endpoint: Endpoint,
        settings: WgtwoSettings,
    ) -> None:
        """Remember where and as whom to call; nothing is opened yet."""
        self._hass = hass
        self._data = data
        self._endpoint = endpoint
        self._settings = settings
        self._clients: dict[str, WgtwoActions] = {}
        self._providers: dict[str, TokenProvider | None] = {}

    def _provider(self, scope: str) -> TokenProvider | None:
        if scope not in self._providers:
            # No scope: a token that asks for none (the consent listing needs none).
            scopes = {scope} if scope else set()
            self._providers[scope] = create_token_provider(
                self._hass, self._data, scopes, self._settings
            )
        return self._providers[scope]

    def _client(self, scope: str) -> WgtwoActions:
        client = self._clients.get(scope)
        if client is None:
            client = self._clients[scope] = WgtwoActions(self._endpoint, self._provider(scope))
        return client

    async def scope_granted(self, scope: str) -> bool | None:
        """Whether the OAuth client has ``scope``, by asking for a token carrying it.

        None when that cannot be told: no credentials (a server that takes no token), the
        token endpoint unreachable or the credentials rejected (the event stream asks the
        user to re-authenticate). The token is kept for the calls that follow.
        """
        provider = self._provider(scope)
        if provider is None:
            return None
        try:
            await provider.get_token()
        except MissingScopeError:
            return False
        except WgtwoError:
            return None
        return True

    async def get_network_info(self, number: str) -> list[NetworkInfo]:
        """Return the serving network of each of a subscriber's SIMs."""
        return await self._client(SCOPE_NETWORK_INFO).get_network_info(number)

    async def get_voicemail(self, voicemail_id: str) -> Voicemail:
        """Fetch a voicemail's metadata and audio."""
        return await self._client(SCOPE_VOICEMAIL_GET).get_voicemail(voicemail_id)

    async def list_voicemails(self, to_number: str) -> list[VoicemailInfo]:
        """List the voicemails the operator holds for a subscriber."""
        return await self._client(SCOPE_VOICEMAIL_GET).list_voicemails(to_number)

    async def mark_voicemail_read(self, voicemail_id: str) -> None:
        """Mark a voicemail as played at the operator."""
        await self._client(SCOPE_VOICEMAIL_UPDATE).mark_voicemail_read(voicemail_id)

    async def delete_voicemail(self, voicemail_id: str) -> None:
        """Delete a voicemail at the operator."""
        await self._client(SCOPE_VOICEMAIL_DELETE).delete_voicemail(voicemail_id)

    async def send_sms(self, from_subscriber: str, to_address: str, content: str) -> SendSmsResult:
        """Send a text SMS on behalf of a subscriber."""
        return await self._client(SCOPE_SMS_SEND).send_sms(from_subscriber, to_address, content)

    async def send_sms_to_subscriber(
        self, to_subscriber: str, from_address: str, content: str
    ) -> SendSmsResult:
        """Send a text to a subscriber from an approved sender (a name or a number)."""
        return await self._client(SCOPE_SMS_TO_SUBSCRIBER).send_sms_to_subscriber(
            to_subscriber, from_address, content
        )

    async def send_mms_from_subscriber(
        self, from_subscriber: str, to_number: str, parts: list[MmsPart]
    ) -> SendMmsResult:
        """Send an MMS from a subscriber to a number."""
        return await self._client(SCOPE_MMS_FROM_SUBSCRIBER).send_mms_from_subscriber(
            from_subscriber, to_number, parts
        )

    async def send_mms_to_subscriber(
        self, to_subscriber: str, sender: str, parts: list[MmsPart]
    ) -> SendMmsResult:
        """Send an MMS to a subscriber from an approved sender (a name or a number)."""
        return await self._client(SCOPE_MMS_TO_SUBSCRIBER).send_mms_to_subscriber(
            to_subscriber, sender, parts
        )

    async def set_call_forwarding(
        self, subscriber: str, mode: ForwardingMode, number: str | None
    ) -> None:
        """Set a subscriber's call forwarding with a token of that mode's scope only."""
        await self._client(FORWARDING_SCOPES[mode]).set_call_forwarding(subscriber, mode, number)

    async def list_consents(self) -> list[ConsentInfo]:
        """List the product's consents (every page; no scope needed)."""
        return await self._client("").list_consents()

    async def get_msisdn(self, consent: ConsentInfo) -> str | None:
        """Return the number of a consent's subscription (``subscription.id:read``)."""
        return await self._client(SCOPE_SUBSCRIPTION_ID).get_msisdn(consent)

    async def close(self) -> None:
        """Close every channel opened so far."""
        clients, self._clients = self._clients, {}
        self._providers = {}
        for client in clients.values():
            await client.close()
