"""Voicemail media: the ids that name a subscriber's voicemails, and their translated errors.

A voicemail's media-source id is ``media-source://wgtwo/<entry_id>/<subscriber key>/<id>``.
The subscriber key is a digest of the entry and the number instead of the number itself:
these ids end up in URLs, notifications and logs.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Final

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .client import (
    ActionError,
    AuthenticationError,
    CannotConnectError,
    MissingScopeError,
    WgtwoError,
)
from .const import DOMAIN

if TYPE_CHECKING:
    from .coordinator import WgtwoCoordinator
    from .data import WgtwoConfigEntry
    from .subscriber import Subscriber

MEDIA_SOURCE_PREFIX: Final = f"media-source://{DOMAIN}"
# Path of the authenticated view that streams a voicemail's audio.
VOICEMAIL_VIEW_URL: Final = "/api/wgtwo/voicemail/{entry_id}/{subscriber_key}/{voicemail_id}"
VOICEMAIL_MIME_TYPE: Final = "audio/wav"


def subscriber_key(entry_id: str, number: str) -> str:
    """Stable key of a subscriber in media ids (no phone number in it)."""
    return hashlib.sha256(f"{entry_id}:{number}".encode()).hexdigest()[:20]


def voicemail_identifier(entry_id: str, number: str, voicemail_id: str) -> str:
    """Return the media-source identifier (after the domain) of a voicemail."""
    return f"{entry_id}/{subscriber_key(entry_id, number)}/{voicemail_id}"


def voicemail_media_content_id(entry_id: str, number: str, voicemail_id: str) -> str:
    """Return the ``media-source://`` id of a voicemail, to browse, play or attach it."""
    return f"{MEDIA_SOURCE_PREFIX}/{voicemail_identifier(entry_id, number, voicemail_id)}"


def voicemail_path(entry_id: str, key: str, voicemail_id: str) -> str:
    """Path of the view serving a voicemail's audio (unsigned)."""
    return VOICEMAIL_VIEW_URL.format(
        entry_id=entry_id, subscriber_key=key, voicemail_id=voicemail_id
    )


def find_subscriber(
    entries: list[WgtwoConfigEntry], entry_id: str, key: str
) -> tuple[WgtwoCoordinator, Subscriber] | None:
    """Return the coordinator and subscriber a media id names, if loaded."""
    for entry in entries:
        if entry.entry_id != entry_id:
            continue
        coordinator = entry.runtime_data.coordinator
        for subscriber in coordinator.subscribers.values():
            if subscriber_key(entry_id, subscriber.number) == key:
                return coordinator, subscriber
    return None


def voicemail_error[E: HomeAssistantError](
    err: WgtwoError, scope: str, kind: type[E], voicemail_id: str = ""
) -> E | ServiceValidationError:
    """Translate a failed voicemail call into the error the user sees.

    ``kind`` is the class for what the user cannot fix by changing the request
    (``HomeAssistantError``, ``BrowseError``, ``Unresolvable``); a voicemail that is not
    at the operator is the caller's mistake for an action, so it is then a
    ``ServiceValidationError`` unless ``kind`` is a media error.
    """
    placeholders: dict[str, str]
    match err:
        case MissingScopeError():
            key, placeholders = "voicemail_missing_scope", {"scope": scope}
        case AuthenticationError():
            key, placeholders = "invalid_auth", {}
        case CannotConnectError():
            key, placeholders = "voicemail_cannot_connect", {}
        case ActionError() if err.not_found:
            key, placeholders = "voicemail_not_found", {"voicemail_id": voicemail_id}
            if kind is HomeAssistantError:
                return ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key=key,
                    translation_placeholders=placeholders,
                )
        case ActionError():
            key, placeholders = "voicemail_failed", {"error": err.status}
        case _:
            key, placeholders = "voicemail_failed", {"error": type(err).__name__}
    return kind(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )
