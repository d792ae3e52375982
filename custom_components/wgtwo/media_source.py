"""Voicemails in Home Assistant's media browser: Media → Working Group Two → subscriber.

Each subscriber of every loaded entry is a folder; its items are the voicemails the operator
still holds (``GetAllVoicemailMetadata``), newest first. Resolving one gives a signed path
to the authenticated view, so any media player that takes a URL can play it. Identifiers
are ``<entry_id>/<subscriber key>[/<voicemail id, percent-encoded>]`` (see :mod:`.ids`);
any other is refused.

Home Assistant names no user to a media source; it serves one through the websocket
connection or HTTP request the call runs in (``access.current_asker``, the user its URL
signing picks too). A user who is neither an administrator nor an owner sees no folder of
the subscriber and cannot resolve its voicemails; the path is signed for the user who asked
(the view checks that user again), or for no user when none asked (an automation).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from homeassistant.components.http.auth import async_sign_path
from homeassistant.components.media_player.const import MediaClass, MediaType
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.components.media_source import (
    BrowseMediaSource,
    MediaSource,
    MediaSourceItem,
    PlayMedia,
    Unresolvable,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util

from .access import NOT_OWNER, Asker, current_asker, may_act
from .capabilities.voicemail import (
    VOICEMAIL_MIME_TYPE,
    voicemail_identifier,
    voicemail_path,
)
from .client import VoicemailInfo, WgtwoError
from .client.event_types import SCOPE_VOICEMAIL_GET
from .const import DOMAIN
from .coordinator import WgtwoCoordinator
from .errors import Feature, not_found_error, operator_error
from .ids import unquote_voicemail_id
from .runtime import find_subscriber, loaded_coordinators
from .subscriber import Subscriber

SOURCE_NAME: Final = "Working Group Two"
# How long a resolved URL stays valid for the media player that got it.
SIGNED_URL_LIFETIME: Final = timedelta(hours=1)
# Fixed words of the titles, in "common" of strings.json; English if a key is missing.
_DEFAULT_WORDS: Final = {
    "voicemail_title": "{caller} · {time} · {duration}",
    "voicemail_title_unplayed": "New · {caller} · {time} · {duration}",
    "hidden_number": "Hidden number",
}


async def async_get_media_source(hass: HomeAssistant) -> MediaSource:
    """Set up the voicemail media source (media_source calls it on first use)."""
    return WgtwoMediaSource(hass)


class WgtwoMediaSource(MediaSource):
    """Browse and play the subscribers' voicemails."""

    name = SOURCE_NAME

    def __init__(self, hass: HomeAssistant) -> None:
        """Bind to Home Assistant; the entries are looked up on each request."""
        super().__init__(DOMAIN)
        self.hass = hass

    def _find(
        self, entry_id: str, key: str, asker: Asker | None, error: type[HomeAssistantError]
    ) -> tuple[WgtwoCoordinator, Subscriber]:
        found = find_subscriber(self.hass, entry_id, key)
        if found is None:
            raise error(translation_domain=DOMAIN, translation_key="voicemail_media_unknown")
        if not _may_see(asker, *found):
            raise error(translation_domain=DOMAIN, translation_key=NOT_OWNER)
        return found

    async def async_browse_media(self, item: MediaSourceItem) -> BrowseMediaSource:
        """Return the root (one folder per subscriber) or one subscriber's voicemails."""
        parts = item.identifier.split("/") if item.identifier else []
        asker = current_asker()
        if not parts:
            return self._root(asker)
        if len(parts) != 2:
            raise BrowseError(translation_domain=DOMAIN, translation_key="voicemail_media_unknown")
        coordinator, subscriber = self._find(parts[0], parts[1], asker, BrowseError)
        try:
            voicemails = await coordinator.api.list_voicemails(subscriber.number)
        except WgtwoError as err:
            raise self._error(err, BrowseError) from err
        words = await self._words()
        folder = self._folder(coordinator, subscriber)
        folder.children = [
            child
            for voicemail in sorted(voicemails, key=_newest_first)
            if (child := self._item(coordinator, subscriber, voicemail, words)) is not None
        ]
        return folder

    async def async_resolve_media(self, item: MediaSourceItem) -> PlayMedia:
        """Return a path to the view, signed for who asked, to a voicemail the operator holds."""
        asker = current_asker()
        parts = item.identifier.split("/")
        voicemail_id = unquote_voicemail_id(parts[-1]) if len(parts) == 3 else None
        if voicemail_id is None:
            raise Unresolvable(translation_domain=DOMAIN, translation_key="voicemail_media_unknown")
        entry_id, key, _ = parts
        coordinator, subscriber = self._find(entry_id, key, asker, Unresolvable)
        try:
            voicemails = await coordinator.api.list_voicemails(subscriber.number)
        except WgtwoError as err:
            raise self._error(err, Unresolvable) from err
        if not any(v.voicemail_id == voicemail_id for v in voicemails):
            raise not_found_error(self.hass, Feature.VOICEMAIL, voicemail_id, Unresolvable)
        path = voicemail_path(entry_id, key, voicemail_id)
        return PlayMedia(_signed(self.hass, path, asker), VOICEMAIL_MIME_TYPE)

    def _error[E: HomeAssistantError](self, err: WgtwoError, error_class: type[E]) -> E:
        return operator_error(  # type: ignore[return-value]
            self.hass, err, Feature.VOICEMAIL, scopes={SCOPE_VOICEMAIL_GET}, error_class=error_class
        )

    def _root(self, asker: Asker | None) -> BrowseMediaSource:
        root = BrowseMediaSource(
            domain=DOMAIN,
            identifier=None,
            media_class=MediaClass.APP,
            media_content_type=MediaType.APP,
            title=SOURCE_NAME,
            can_play=False,
            can_expand=True,
            children_media_class=MediaClass.DIRECTORY,
        )
        folders: list[BrowseMediaSource] = []
        for coordinator in loaded_coordinators(self.hass):
            folders.extend(
                self._folder(coordinator, subscriber)
                for subscriber in coordinator.subscribers.values()
                if _may_see(asker, coordinator, subscriber)
            )
        root.children = sorted(folders, key=lambda folder: folder.title.casefold())
        return root

    def _folder(self, coordinator: WgtwoCoordinator, subscriber: Subscriber) -> BrowseMediaSource:
        entry_id = coordinator.entry.entry_id
        return BrowseMediaSource(
            domain=DOMAIN,
            identifier=f"{entry_id}/{coordinator.number_key(subscriber.number)}",
            media_class=MediaClass.DIRECTORY,
            media_content_type=MediaType.MUSIC,
            title=subscriber.name,
            can_play=False,
            can_expand=True,
            children_media_class=MediaClass.MUSIC,
        )

    def _item(
        self,
        coordinator: WgtwoCoordinator,
        subscriber: Subscriber,
        voicemail: VoicemailInfo,
        words: dict[str, str],
    ) -> BrowseMediaSource | None:
        """Return a voicemail's item; None for one whose id cannot be in a media id."""
        identifier = voicemail_identifier(
            coordinator.entry.entry_id,
            coordinator.number_key(subscriber.number),
            voicemail.voicemail_id,
        )
        if identifier is None:
            return None
        number = voicemail.from_number
        if (
            number is None
            or subscriber.voicemail_hidden(voicemail.voicemail_id)
            or subscriber.caller_hidden(coordinator.number_key(number))
        ):
            caller = words["hidden_number"]
        else:
            caller = coordinator.phonebook.name_for(number) or number
        template = words["voicemail_title" if voicemail.played else "voicemail_title_unplayed"]
        title = _fill(
            template,
            caller=caller,
            time=_local_time(voicemail.created),
            duration=_duration(voicemail.duration),
        )
        return BrowseMediaSource(
            domain=DOMAIN,
            identifier=identifier,
            media_class=MediaClass.MUSIC,
            media_content_type=VOICEMAIL_MIME_TYPE,
            title=title,
            can_play=True,
            can_expand=False,
        )

    async def _words(self) -> dict[str, str]:
        """Return the title words in Home Assistant's language."""
        translated = await async_get_translations(
            self.hass, self.hass.config.language, "common", [DOMAIN]
        )
        prefix = f"component.{DOMAIN}.common."
        return {key: translated.get(prefix + key, text) for key, text in _DEFAULT_WORDS.items()}


def _may_see(asker: Asker | None, coordinator: WgtwoCoordinator, subscriber: Subscriber) -> bool:
    """Return whether who asked (None: no user, an automation) may see the voicemails."""
    return asker is None or may_act(asker.user, coordinator.entry.options, subscriber.number)


def _signed(hass: HomeAssistant, path: str, asker: Asker | None) -> str:
    """Sign a path for who asked (no user: an automation), and keep its voicemail id encoded.

    Home Assistant signs the decoded path (what the view's request compares) but may hand
    it back decoded, which would turn an encoded ``/``, ``?`` or ``#`` into a real one:
    the signature's query (the last ``?`` on; a signature has none) goes back onto the
    encoded path.
    """
    if asker is None:
        signed = async_sign_path(hass, path, SIGNED_URL_LIFETIME, use_content_user=True)
    else:
        signed = async_sign_path(
            hass, path, SIGNED_URL_LIFETIME, refresh_token_id=asker.refresh_token_id
        )
    return f"{path}?{signed.rpartition('?')[2]}"


def _newest_first(voicemail: VoicemailInfo) -> float:
    return -voicemail.created.timestamp() if voicemail.created is not None else 0.0


def _fill(template: str, **values: str) -> str:
    """Put the values into a translated template (no other braces are interpreted)."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def _local_time(value: datetime | None) -> str:
    return dt_util.as_local(value).strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "-"
    seconds = round(value.total_seconds())
    return f"{seconds // 60}:{seconds % 60:02d}"
