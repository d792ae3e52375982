"""Consent: every consenting subscriber from the start, kept current, removed on revocation.

When the entry is set up and whenever the event stream (re)connects, the product's consents
are listed (every page) and each subscription turned into its number (``GetMsisdn``, scope
``subscription.id:read``): each consenting subscriber gets its device at once, named from
the phonebook, with the scopes its consent grants (the entities of a feature it did not
grant are left out). Without that scope a fixable repair issue names it, and subscribers
appear with their first event as before. An operator-wide (tenant) consent adds no device;
diagnostics show it. A subscriber the entry's subscriber filter leaves out gets no device
(the coordinator refuses it); diagnostics count them. The numbers the listing named are
kept in memory for the options form, which offers them to the filter.

The consent change stream keeps this current: ``added`` creates the device, ``updated``
changes the granted scopes, ``revoked`` does what the v0 ``CONSENT_REVOKE_EVENT`` does:
fires ``consent_revoked`` (the envelope only), removes the device and raises a repair issue
naming it; the issue clears when the subscriber consents again. When both a v1 revocation
and a v0 one arrive, the first cleans up and the second is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util

from ..client import (
    ConsentChange,
    ConsentChangeEvent,
    ConsentRevokeEvent,
    MissingScopeError,
    WgtwoError,
    WgtwoEvent,
)
from ..client.consents import ConsentInfo
from ..compat import device_by_identifier
from ..const import device_identifier
from ..repairs import (
    async_create_consent_issue,
    async_create_id_scope_issue,
    async_delete_consent_issue,
    async_delete_id_scope_issue,
)
from ..subscriber import Subscriber
from .base import BusEvent, Capability, Room, Sentence, envelope

_LOGGER = logging.getLogger(__name__)

TYPE_CONSENT_REVOKED: Final = "consent_revoked"
# Numbers whose revocation was handled, so the other stream's revocation is dropped.
MAX_REVOKED: Final = 256
# Numbers whose latest consent change is kept, so a listing under way does not undo it.
MAX_CHANGES_KEPT: Final = 4096
# Subscriptions turned into numbers at once while listing (a thousand one after the other
# would take most of the setup of a large entry; the operator gets no more than this).
NAMING_CONCURRENCY: Final = 8


def _sentence(_data: Mapping[str, Any]) -> Sentence:
    return "logbook_consent_revoked", {}


@dataclass(slots=True)
class ConsentListing:
    """What the last listing of the consents found (for diagnostics; no numbers)."""

    subscriptions: int = 0
    named: int = 0
    left_out: int = 0  # named, but left out by the subscriber filter
    tenants: list[frozenset[str]] = field(default_factory=list)
    listed_at: datetime | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "subscriptions": self.subscriptions,
            "named": self.named,
            "left_out": self.left_out,
            "tenant_consents": [{"scopes": sorted(scopes)} for scopes in self.tenants],
            "listed": self.listed_at is not None,
            "error": self.error,
        }


class Consent(Capability):
    """Consents: the subscribers they name, their scopes, and their revocations."""

    events = (ConsentRevokeEvent, ConsentChangeEvent)
    bus_events = {TYPE_CONSENT_REVOKED: BusEvent(sentence=_sentence, icon="mdi:account-cancel")}

    def __init__(self, room: Room) -> None:
        """Bind to the entry's coordinator."""
        super().__init__(room)
        self.listing = ConsentListing()
        self._revoked: OrderedDict[str, None] = OrderedDict()
        # Consent changes the streams told, counted; per number, the count at its latest.
        # A listing that began before a number's latest change does not undo that change.
        self._changes = 0
        self._changed: OrderedDict[str, int] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._again = False
        # The numbers the last listing named (never shown: the options form offers them).
        self.numbers: frozenset[str] = frozenset()

    # -- the listing ----------------------------------------------------------------------

    def started(self) -> None:
        """List the consents as soon as the entry is set up."""
        self._list_soon()

    def stream_connected(self) -> None:
        """List them again after every (re)connect: what changed meanwhile shows."""
        self._list_soon()

    def unload(self) -> None:
        """Stop a listing under way."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def async_idle(self) -> None:
        """Wait until the listings asked for so far are done."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    def _list_soon(self) -> None:
        if self._task is not None and not self._task.done():
            self._again = True
            return
        room = self.room
        self._task = room.entry.async_create_background_task(
            room.hass, self._async_list(), name="wgtwo consents"
        )

    async def _async_list(self) -> None:
        while True:
            self._again = False
            await self.async_list()
            if not self._again:
                return

    async def async_list(self) -> None:
        """List the consents and give each consenting subscriber its device and scopes."""
        room = self.room
        listing = self.listing
        begun = self._changes
        try:
            consents = await room.api.list_consents()
        except WgtwoError as err:
            listing.error = type(err).__name__
            _LOGGER.info("Cannot list the consents (%s)", type(err).__name__)
            return
        listing.listed_at = dt_util.utcnow()
        listing.error = None
        listing.tenants = [c.scopes for c in consents if c.tenant is not None]
        subscriptions = [c for c in consents if c.subscription_id is not None]
        listing.subscriptions = len(subscriptions)
        numbers: set[str] = set()
        left_out = 0
        async with contextlib.aclosing(self._numbers_of(subscriptions)) as named:
            async for consent, number_or_error in named:
                if isinstance(number_or_error, MissingScopeError):
                    self._id_scope_missing(number_or_error)
                    return
                if isinstance(number_or_error, WgtwoError):
                    listing.error = type(number_or_error).__name__
                    _LOGGER.info(
                        "Cannot name a consenting subscriber (%s)", type(number_or_error).__name__
                    )
                    continue
                if number_or_error is None:
                    continue
                numbers.add(number_or_error)
                if self._changed.get(number_or_error, 0) > begun:
                    continue  # a stream told a newer change while this listing ran
                if not self._consented(number_or_error, consent.scopes):
                    left_out += 1
        listing.named = len(numbers)
        listing.left_out = left_out
        self.numbers = frozenset(numbers)
        if subscriptions:
            async_delete_id_scope_issue(room.hass, room.entry.entry_id)
        _LOGGER.debug("Consents listed: %d subscribers named", len(numbers))

    def _id_scope_missing(self, err: MissingScopeError) -> None:
        self.listing.error = "missing_scope"
        _LOGGER.warning(
            "Consents cannot be turned into numbers without scope(s) %s; "
            "subscribers appear with their first event",
            ", ".join(sorted(err.missing_scopes)),
        )
        async_create_id_scope_issue(self.room.hass, self.room.entry, err.missing_scopes)

    async def _numbers_of(
        self, consents: list[ConsentInfo]
    ) -> AsyncGenerator[tuple[ConsentInfo, str | WgtwoError | None]]:
        """Yield each consent with its number (or the error), in order, several asked at once.

        At most :data:`NAMING_CONCURRENCY` requests are under way; those not yet answered
        are cancelled when the caller stops early.
        """
        asked: deque[tuple[ConsentInfo, asyncio.Task[str | WgtwoError | None]]] = deque()
        try:
            for consent in consents:
                asked.append((consent, asyncio.create_task(self._number_or_error(consent))))
                if len(asked) >= NAMING_CONCURRENCY:
                    first, task = asked.popleft()
                    yield first, await task
            while asked:
                first, task = asked.popleft()
                yield first, await task
        finally:
            for _, task in asked:
                task.cancel()

    async def _number_or_error(self, consent: ConsentInfo) -> str | WgtwoError | None:
        try:
            return await self._number_of(consent)
        except WgtwoError as err:
            return err

    async def _number_of(self, consent: ConsentInfo) -> str | None:
        return await self.room.api.get_msisdn(consent)

    def _consented(self, number: str, scopes: frozenset[str]) -> bool:
        """Give a consenting subscriber its device; False when the filter leaves it out."""
        self._revoked.pop(number, None)
        return self.room.subscriber(number, scopes) is not None

    # -- the streams ----------------------------------------------------------------------

    def handle(self, number: str, event: WgtwoEvent) -> None:
        """Act on a consent change, or a revocation from either stream."""
        self._changes += 1
        self._changed[number] = self._changes
        self._changed.move_to_end(number)
        while len(self._changed) > MAX_CHANGES_KEPT:
            self._changed.popitem(last=False)
        if isinstance(event, ConsentChangeEvent):
            if event.change is ConsentChange.ADDED:
                self._consented(number, event.scopes)
                return
            if event.change is ConsentChange.UPDATED:
                if number in self.room.subscribers:
                    self.room.set_scopes(self.room.subscribers[number], event.scopes)
                else:
                    self._consented(number, event.scopes)
                return
        self._revoke(number, event)

    def handle_unowned(self, event: WgtwoEvent) -> None:
        """List the consents again when an operator-wide one changed (diagnostics show it)."""
        if isinstance(event, ConsentChangeEvent) and event.tenant is not None:
            self._list_soon()

    def _revoke(self, number: str, event: WgtwoEvent) -> None:
        """Fire the bus event, forget the subscriber, remove its device, raise the issue."""
        room = self.room
        entry_id = room.entry.entry_id
        registry = dr.async_get(room.hass)
        device = device_by_identifier(registry, device_identifier(entry_id, number), entry_id)
        if device is None and number in self._revoked:
            _LOGGER.debug("Revocation already handled (from the other stream)")
            return
        self._revoked[number] = None
        while len(self._revoked) > MAX_REVOKED:
            self._revoked.popitem(last=False)
        room.fire(envelope(event, TYPE_CONSENT_REVOKED, number, device.id if device else None))
        room.forget(number)
        if device is not None:
            registry.async_remove_device(device.id)
        async_create_consent_issue(
            room.hass,
            room.entry,
            room.number_key(number),
            room.phonebook.name_for(number) or number,
        )
        _LOGGER.info("A subscriber revoked consent; its device was removed")

    def subscriber_added(self, subscriber: Subscriber) -> None:
        """Clear the old issue of a subscriber who consented again."""
        number = subscriber.number
        self._revoked.pop(number, None)
        async_delete_consent_issue(
            self.room.hass, self.room.entry.entry_id, self.room.number_key(number), number
        )
