"""The authenticated view that streams a voicemail's audio from the operator.

Media players fetch it through a signed path (``async_sign_path``), the frontend with its
session; without either Home Assistant answers 401 before this code runs.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Final

from aiohttp import web
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView

from .client import ActionError, MissingScopeError, WgtwoError
from .client.event_types import SCOPE_VOICEMAIL_GET
from .const import DOMAIN
from .voicemail import VOICEMAIL_MIME_TYPE, VOICEMAIL_VIEW_URL, find_subscriber

DATA_VIEW_REGISTERED: Final = f"{DOMAIN}_voicemail_view"


class VoicemailView(HomeAssistantView):
    """GET one voicemail's WAV; 404 unless a loaded entry's subscriber holds it."""

    url = VOICEMAIL_VIEW_URL
    name = "api:wgtwo:voicemail"
    requires_auth = True

    async def get(
        self, request: web.Request, entry_id: str, subscriber_key: str, voicemail_id: str
    ) -> web.StreamResponse:
        """Fetch the audio now (the operator serves it whole) and send it."""
        hass = request.app[KEY_HASS]
        found = find_subscriber(
            hass.config_entries.async_loaded_entries(DOMAIN), entry_id, subscriber_key
        )
        if found is None:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        coordinator, subscriber = found
        try:
            voicemail = await coordinator.actions.get_voicemail(voicemail_id)
        except ActionError as err:
            status = HTTPStatus.NOT_FOUND if err.not_found else HTTPStatus.BAD_GATEWAY
            return web.Response(status=status)
        except MissingScopeError:
            return web.Response(
                status=HTTPStatus.FORBIDDEN, text=f"scope {SCOPE_VOICEMAIL_GET} not granted"
            )
        except WgtwoError:
            return web.Response(status=HTTPStatus.BAD_GATEWAY)
        if voicemail.to_number not in (None, subscriber.number):
            return web.Response(status=HTTPStatus.NOT_FOUND)  # another subscriber's
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
