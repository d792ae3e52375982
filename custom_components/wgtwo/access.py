"""Who may act on a subscriber's line: Home Assistant's administrators and the line's owners.

The options give each subscriber its owners, a list of Home Assistant user ids (none by
default: administrators only). The rule, here and nowhere else:

- An action a person started (its context names a user: the UI, the REST API, a script
  that person ran) on a subscriber needs an administrator or one of its owners. Anyone
  else gets ``Unauthorized`` (translated), before anything reaches the operator.
- An action no person started (an automation, a script an automation ran, Home Assistant
  itself: no user in the context) is not limited.
- Voicemail audio (the view, the media browser) goes to the user Home Assistant serves
  the request for, under the same rule; a URL signed without a user (what Home Assistant
  signs for automations) is served as an automation's.

Home Assistant's own permissions (a read-only user controls no entity) apply before this.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from homeassistant.auth.models import User
from homeassistant.components.http.auth import STORAGE_KEY as HTTP_AUTH_KEY
from homeassistant.components.http.const import KEY_HASS_REFRESH_TOKEN_ID, KEY_HASS_USER
from homeassistant.components.websocket_api.connection import current_connection
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import Unauthorized
from homeassistant.helpers.http import current_request

from .const import CONF_OWNERS, CONF_SUBSCRIBERS, DOMAIN

NOT_OWNER = "not_owner"


class NotAllowedError(Unauthorized):
    """Home Assistant's ``Unauthorized`` with a message in the user's language."""

    def __init__(self, translation_key: str, context: Context | None = None) -> None:
        """Refuse for the user of ``context``, saying why with ``translation_key``."""
        super().__init__(context=context)
        self.translation_domain = DOMAIN
        self.translation_key = translation_key
        self.translation_placeholders = {}
        self.generate_message = True


def owners(options: Mapping[str, Any], number: str) -> frozenset[str]:
    """Return the user ids the options make owners of a subscriber."""
    settings = (options.get(CONF_SUBSCRIBERS) or {}).get(number) or {}
    found = settings.get(CONF_OWNERS) if isinstance(settings, Mapping) else None
    return frozenset(str(user_id) for user_id in found or ())


def may_act(user: User, options: Mapping[str, Any], number: str) -> bool:
    """Return whether ``user`` may act on the subscriber and hear its voicemails."""
    return user.is_admin or user.id in owners(options, number)


async def _person(hass: HomeAssistant, context: Context | None) -> User | None:
    """Return the user who started the action; None when no person did."""
    if context is None or context.user_id is None:
        return None
    user = await hass.auth.async_get_user(context.user_id)
    if user is None:  # removed meanwhile: no one to allow
        raise NotAllowedError(NOT_OWNER, context)
    return user


async def async_check_owner(
    hass: HomeAssistant, context: Context | None, options: Mapping[str, Any], number: str
) -> None:
    """Raise ``Unauthorized`` unless no person, an administrator or an owner started it."""
    user = await _person(hass, context)
    if user is not None and not may_act(user, options, number):
        raise NotAllowedError(NOT_OWNER, context)


async def async_check_admin(
    hass: HomeAssistant, context: Context | None, translation_key: str
) -> None:
    """Raise ``Unauthorized`` (saying ``translation_key``) unless no person or an admin."""
    user = await _person(hass, context)
    if user is not None and not user.is_admin:
        raise NotAllowedError(translation_key, context)


@dataclass(frozen=True, slots=True)
class Asker:
    """The user a request is served for, and the refresh token it came with."""

    user: User
    refresh_token_id: str


def current_asker() -> Asker | None:
    """Return who Home Assistant serves the code running now, as its URL signing sees it.

    The websocket connection, else the authenticated HTTP request, this runs in; None
    when neither (an automation, Home Assistant itself).
    """
    connection = current_connection.get()
    if connection is not None and connection.refresh_token_id is not None:
        return Asker(connection.user, connection.refresh_token_id)
    request = current_request.get()
    if request is not None and KEY_HASS_USER in request and KEY_HASS_REFRESH_TOKEN_ID in request:
        return Asker(request[KEY_HASS_USER], request[KEY_HASS_REFRESH_TOKEN_ID])
    return None


def may_hear(
    hass: HomeAssistant, request: web.Request, options: Mapping[str, Any], number: str
) -> bool:
    """Return whether a subscriber's voicemail audio may go to an authenticated request.

    To an administrator or an owner (with their login, or a path signed for them), or to a
    path Home Assistant signed for no user: its media source signs so for automations.
    """
    refresh_token_id = request.get(KEY_HASS_REFRESH_TOKEN_ID)
    if refresh_token_id is not None and refresh_token_id == hass.data.get(HTTP_AUTH_KEY):
        return True
    user: User | None = request.get(KEY_HASS_USER)
    return user is not None and may_act(user, options, number)
