"""Voicemail: new voicemail events, the unheard list and its sync, marking heard, deleting.

The unheard voicemails are what the events brought, made the operator's unplayed ones on
every (re)connection (with the ``voicemail.get`` scope), so they are right after a restart
or after a voicemail was heard on the phone. Marking heard clears them here and marks them
read at the operator when ``voicemail.update`` is granted (an optional grant: without it they
are only cleared here).

A voicemail's media-source id is ``media-source://wgtwo/<entry_id>/<subscriber key>/<id>``,
the voicemail id percent-encoded. The subscriber key stands for the number (see
:mod:`..ids`): these ids end up in URLs, notifications and logs. A voicemail whose id cannot
be a path segment (``.`` or ``..``, control characters, too long) has no media id.

A voicemail whose event names no caller, or whose caller's latest call hid the number, is
remembered as hidden (with the subscriber's snapshot): its caller is not shown anywhere,
even though the operator's metadata has the number, and also not after the caller called
again showing it. The sync hides the voicemails it learns of the same way.

Bus event ``voicemail_new``: ``voicemail_id``, ``from_number`` (None for a hidden caller),
``to_number``, ``from_name``, ``to_name`` and ``media_content_id`` (None when the voicemail
id cannot be put in one).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from homeassistant.const import CONF_NAME
from homeassistant.core import Context, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util

from ..client import (
    AuthenticationError,
    MissingScopeError,
    VoicemailEvent,
    WgtwoError,
)
from ..client.event_types import (
    SCOPE_VOICEMAIL_DELETE,
    SCOPE_VOICEMAIL_GET,
    SCOPE_VOICEMAIL_UPDATE,
)
from ..const import DOMAIN
from ..errors import ErrorKind, Feature, error_kind, not_found_error, operator_error
from ..ids import is_voicemail_id, quote_voicemail_id
from ..subscriber import MAX_UNHEARD_VOICEMAILS, Aspect, Subscriber, UnheardVoicemail
from .base import (
    BusEvent,
    Capability,
    EntityTrigger,
    Sentence,
    SubscriberUpdate,
    party,
    party_names,
)

_LOGGER = logging.getLogger(__name__)

EVENT_VOICEMAIL: Final = "voicemail"  # the voicemail event entity's key
VOICEMAIL_EVENT_TYPES: Final = ["new"]
TYPE_VOICEMAIL_NEW: Final = "voicemail_new"

MEDIA_SOURCE_PREFIX: Final = f"media-source://{DOMAIN}"
# Path of the authenticated view that streams a voicemail's audio.
VOICEMAIL_VIEW_URL: Final = "/api/wgtwo/voicemail/{entry_id}/{subscriber_key}/{voicemail_id}"
VOICEMAIL_MIME_TYPE: Final = "audio/wav"

# Stands in for the creation time of a voicemail listed without one.
_NEVER: Final = datetime.min.replace(tzinfo=UTC)


def voicemail_identifier(entry_id: str, key: str, voicemail_id: str) -> str | None:
    """Return the media-source identifier (after the domain) of a voicemail, if it has one."""
    if not is_voicemail_id(voicemail_id):
        return None
    return f"{entry_id}/{key}/{quote_voicemail_id(voicemail_id)}"


def voicemail_media_content_id(entry_id: str, key: str, voicemail_id: str) -> str | None:
    """Return the ``media-source://`` id of a voicemail, to browse, play or attach it."""
    identifier = voicemail_identifier(entry_id, key, voicemail_id)
    return None if identifier is None else f"{MEDIA_SOURCE_PREFIX}/{identifier}"


def voicemail_path(entry_id: str, key: str, voicemail_id: str) -> str:
    """Path of the view serving a voicemail's audio (unsigned; the id percent-encoded)."""
    return VOICEMAIL_VIEW_URL.format(
        entry_id=entry_id, subscriber_key=key, voicemail_id=quote_voicemail_id(voicemail_id)
    )


def _sentence(data: Mapping[str, Any]) -> Sentence:
    if caller := party(data, "from"):
        return "logbook_voicemail_new", {"party": caller}
    return "logbook_voicemail_new_hidden", {}


class Voicemail(Capability):
    """A subscriber's voicemails: events, the unheard list, heard and deleted."""

    events = (VoicemailEvent,)
    bus_events = {
        TYPE_VOICEMAIL_NEW: BusEvent(sentence=_sentence, entity=("event", EVENT_VOICEMAIL))
    }

    def __init__(self, *args: Any) -> None:
        """Start with no sync running."""
        super().__init__(*args)
        self._sync: asyncio.Task[None] | None = None
        # Bumped per subscriber when an action changes its unheard voicemails, so a sync
        # whose list was asked for before does not bring them back.
        self._acted: dict[str, int] = {}

    def apply(self, sub: Subscriber, event: VoicemailEvent) -> SubscriberUpdate:
        """Add the voicemail to the unheard ones and fire ``voicemail_new``."""
        hidden = self.caller_hidden(sub, event.voicemail_id, event.from_number)
        payload: dict[str, Any] = {
            "voicemail_id": event.voicemail_id,
            "from_number": None if hidden else event.from_number,
            "to_number": event.to_number,
        } | party_names(self.room.phonebook, event.from_number, event.to_number, hidden=hidden)
        payload["media_content_id"] = voicemail_media_content_id(
            self.room.entry.entry_id, self.room.number_key(sub.number), event.voicemail_id
        )
        sub.add_voicemail(
            UnheardVoicemail(event.voicemail_id, payload["from_number"], event.timestamp)
        )
        self.fire(event, TYPE_VOICEMAIL_NEW, sub, payload)
        return SubscriberUpdate(Aspect.VOICEMAIL, (EntityTrigger(EVENT_VOICEMAIL, "new", payload),))

    def caller_hidden(self, sub: Subscriber, voicemail_id: str, number: str | None) -> bool:
        """Whether a voicemail's caller is hidden; a newly hidden one is remembered."""
        if number is None or sub.caller_hidden(self.room.number_key(number)):
            sub.hide_voicemail(voicemail_id)
        return sub.voicemail_hidden(voicemail_id)

    # -- sync --------------------------------------------------------------------------

    @callback
    def stream_connected(self) -> None:
        """Sync the unheard voicemails in the background (at most one sync at a time)."""
        if self._sync is not None and not self._sync.done():
            return
        self._sync = self.room.entry.async_create_background_task(
            self.room.hass, self.async_sync(), name=f"{DOMAIN} voicemail sync"
        )

    async def async_sync(self) -> None:
        """Make each known subscriber's unheard voicemails the operator's unplayed ones.

        Without the voicemail.get scope (or while the operator cannot be reached) the
        list stays as the events made it.
        """
        for subscriber in list(self.room.subscribers.values()):
            before = {v.voicemail_id for v in subscriber.voicemails}
            acted = self._acted.get(subscriber.number, 0)
            try:
                listed = await self.room.api.list_voicemails(subscriber.number)
            except (MissingScopeError, AuthenticationError) as err:
                _LOGGER.debug("Unheard voicemails not synced: %s", type(err).__name__)
                return
            except WgtwoError as err:
                _LOGGER.debug(
                    "Unheard voicemails of a subscriber not synced: %s", type(err).__name__
                )
                continue
            if self.room.subscribers.get(subscriber.number) is not subscriber:
                continue  # forgotten meanwhile
            if self._acted.get(subscriber.number, 0) != acted:
                continue  # marked heard or deleted meanwhile: the list is out of date
            known = {v.voicemail_id: v for v in subscriber.voicemails}
            synced = [
                known.get(v.voicemail_id)
                or UnheardVoicemail(
                    v.voicemail_id,
                    None
                    if self.caller_hidden(subscriber, v.voicemail_id, v.from_number)
                    else v.from_number,
                    v.created or dt_util.utcnow(),
                )
                for v in listed
                if not v.played
            ]
            # Voicemails whose event arrived while the list was on its way stay.
            listed_ids = {v.voicemail_id for v in listed}
            synced += [
                v
                for v in subscriber.voicemails
                if v.voicemail_id not in before and v.voicemail_id not in listed_ids
            ]
            synced.sort(key=lambda v: v.time)
            synced = synced[-MAX_UNHEARD_VOICEMAILS:]
            if [v.voicemail_id for v in synced] != [v.voicemail_id for v in subscriber.voicemails]:
                subscriber.voicemails[:] = synced
                self.room.notify(subscriber, SubscriberUpdate(Aspect.VOICEMAIL))

    # -- actions -----------------------------------------------------------------------

    async def async_mark_heard(self, subscriber: Subscriber, *, context: Context | None) -> None:
        """Clear the unheard voicemails, marking them read at the operator when allowed.

        Refused (nothing cleared) when the person in ``context`` may not use the line.
        Without the voicemail.update scope they are only cleared here. Any other error of
        the operator is raised (translated) once they are cleared here: the next sync brings
        back what the operator still holds as unplayed.
        """
        await self.async_check_owner(subscriber, context)
        voicemails = list(subscriber.voicemails)
        subscriber.voicemails.clear()
        self._voicemail_acted(subscriber)
        self.room.notify(subscriber, SubscriberUpdate(Aspect.VOICEMAIL))
        for voicemail in voicemails:
            try:
                await self.room.api.mark_voicemail_read(voicemail.voicemail_id)
            except MissingScopeError:
                _LOGGER.debug("Voicemails cleared here only: voicemail.update not granted")
                return
            except WgtwoError as err:
                if error_kind(err) is ErrorKind.NOT_FOUND:
                    continue  # gone at the operator already
                raise operator_error(
                    self.room.hass,
                    err,
                    Feature.VOICEMAIL,
                    scopes={SCOPE_VOICEMAIL_UPDATE},
                    subject=voicemail.voicemail_id,
                ) from err

    async def async_delete(
        self, subscriber: Subscriber, voicemail_id: str | None, *, context: Context | None
    ) -> str:
        """Delete a voicemail at the operator (default: the newest) and from the unheard list.

        Refused when the person in ``context`` may not use the line. A named voicemail must
        be the subscriber's: the product reaches every subscriber's voicemails, so the
        operator's list for this subscriber is asked first. Returns the deleted id.
        """
        await self.async_check_owner(subscriber, context)
        if voicemail_id is None:
            voicemail_id = await self._newest_voicemail_id(subscriber)
        else:
            await self._check_belongs(subscriber, voicemail_id)
        try:
            await self.room.api.delete_voicemail(voicemail_id)
        except WgtwoError as err:
            if error_kind(err) is ErrorKind.NOT_FOUND:  # gone already (deleted on the phone)
                self._drop_unheard(subscriber, voicemail_id)
            raise operator_error(
                self.room.hass,
                err,
                Feature.VOICEMAIL,
                scopes={SCOPE_VOICEMAIL_DELETE},
                subject=voicemail_id,
            ) from err
        self._drop_unheard(subscriber, voicemail_id)
        return voicemail_id

    async def _check_belongs(self, subscriber: Subscriber, voicemail_id: str) -> None:
        """Raise unless the operator lists ``voicemail_id`` among the subscriber's voicemails.

        Without voicemail.get only the subscriber's unheard voicemails (its own events) are
        known to be its own. An unheard one the operator no longer lists is NOT_FOUND.
        """
        unheard = any(v.voicemail_id == voicemail_id for v in subscriber.voicemails)
        try:
            listed = await self.room.api.list_voicemails(subscriber.number)
        except WgtwoError as err:
            if unheard and isinstance(err, MissingScopeError):
                return
            raise operator_error(
                self.room.hass, err, Feature.VOICEMAIL, scopes={SCOPE_VOICEMAIL_GET}
            ) from err
        if any(v.voicemail_id == voicemail_id for v in listed):
            return
        if unheard:  # it was the subscriber's: deleted on the phone or expired
            self._drop_unheard(subscriber, voicemail_id)
            raise not_found_error(
                self.room.hass, Feature.VOICEMAIL, voicemail_id, ServiceValidationError
            )
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="voicemail_not_subscribers",
            translation_placeholders={"voicemail_id": voicemail_id},
        )

    async def _newest_voicemail_id(self, subscriber: Subscriber) -> str:
        """Return the newest voicemail at the operator (without voicemail.get: newest unheard)."""
        found: str | None = None
        try:
            listed = await self.room.api.list_voicemails(subscriber.number)
        except MissingScopeError:
            if (newest := subscriber.latest_voicemail) is not None:
                found = newest.voicemail_id
        except WgtwoError as err:
            raise operator_error(
                self.room.hass, err, Feature.VOICEMAIL, scopes={SCOPE_VOICEMAIL_GET}
            ) from err
        else:
            if listed:
                found = max(listed, key=lambda v: v.created or _NEVER).voicemail_id
        if found is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="no_voicemail",
                translation_placeholders={CONF_NAME: subscriber.name},
            )
        return found

    def _drop_unheard(self, subscriber: Subscriber, voicemail_id: str) -> None:
        self._voicemail_acted(subscriber)
        kept = [v for v in subscriber.voicemails if v.voicemail_id != voicemail_id]
        if len(kept) != len(subscriber.voicemails):
            subscriber.voicemails[:] = kept
            self.room.notify(subscriber, SubscriberUpdate(Aspect.VOICEMAIL))

    def _voicemail_acted(self, subscriber: Subscriber) -> None:
        number = subscriber.number
        self._acted[number] = self._acted.get(number, 0) + 1
