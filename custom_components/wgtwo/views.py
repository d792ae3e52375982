"""The authenticated view that streams a voicemail's audio from the operator.

Media players fetch it through a signed path (``async_sign_path``), the frontend with its
session; without either Home Assistant answers 401 before this code runs. The path's parts
are checked (see :mod:`.ids`; aiohttp has decoded the voicemail id): a malformed one is 404.
The audio goes only to an administrator or one of the subscriber's owners, or along a path
signed for no user (an automation's), else 403 (access.py).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Final

from aiohttp import web
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView

from .access import may_hear
from .capabilities.voicemail import VOICEMAIL_MIME_TYPE, VOICEMAIL_VIEW_URL
from .client import WgtwoError
from .client.event_types import SCOPE_VOICEMAIL_GET
from .const import DOMAIN
from .errors import ErrorKind, error_kind
from .ids import is_voicemail_id
from .runtime import find_subscriber

DATA_VIEW_REGISTERED: Final = f"{DOMAIN}_voicemail_view"
# What the operator's error means for the request; anything else: the gateway failed.
_STATUSES: Final = {ErrorKind.NOT_FOUND: HTTPStatus.NOT_FOUND}


class VoicemailView(HomeAssistantView):
    """GET one voicemail's WAV; 404 unless the operator says it was left for the subscriber."""

    url = VOICEMAIL_VIEW_URL
    name = "api:wgtwo:voicemail"
    requires_auth = True

    async def get(
        self, request: web.Request, entry_id: str, subscriber_key: str, voicemail_id: str
    ) -> web.StreamResponse:
        """Fetch the audio now (the operator serves it whole) and send it."""
        hass = request.app[KEY_HASS]
        found = find_subscriber(hass, entry_id, subscriber_key)
        if found is None or not is_voicemail_id(voicemail_id):
            return web.Response(status=HTTPStatus.NOT_FOUND)
        coordinator, subscriber = found
        if not may_hear(hass, request, coordinator.entry.options, subscriber.number):
            return web.Response(status=HTTPStatus.FORBIDDEN)
        try:
            voicemail = await coordinator.api.get_voicemail(voicemail_id)
        except WgtwoError as err:
            kind = error_kind(err)
            if kind is ErrorKind.MISSING_SCOPE:
                return web.Response(
                    status=HTTPStatus.FORBIDDEN, text=f"scope {SCOPE_VOICEMAIL_GET} not granted"
                )
            return web.Response(status=_STATUSES.get(kind, HTTPStatus.BAD_GATEWAY))
        if voicemail.to_number != subscriber.number:
            # Another subscriber's, or one whose metadata names no subscriber: not this one's.
            return web.Response(status=HTTPStatus.NOT_FOUND)
        return web.Response(
            body=voicemail.wav,
            content_type=VOICEMAIL_MIME_TYPE,
            headers={"Cache-Control": "private, max-age=3600"},
        )


@callback
def async_register_view(hass: HomeAssistant) -> None:
    """Register the view once per Home Assistant instance."""
    if hass.data.get(DATA_VIEW_REGISTERED):
        return
    hass.http.register_view(VoicemailView())
    hass.data[DATA_VIEW_REGISTERED] = True
