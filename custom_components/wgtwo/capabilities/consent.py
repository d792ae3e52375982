"""Consent: a subscriber who revokes the product's consent is removed at once.

Bus event ``consent_revoked`` (the envelope only). The subscriber's device is removed and a
repair issue names it; the issue clears when the subscriber's device comes back (a new
consent and its first event).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from homeassistant.helpers import device_registry as dr

from ..client import ConsentRevokeEvent, WgtwoEvent
from ..compat import device_by_identifier
from ..const import device_identifier
from ..repairs import async_create_consent_issue, async_delete_consent_issue
from ..subscriber import Subscriber
from .base import BusEvent, Capability, Sentence, envelope

_LOGGER = logging.getLogger(__name__)

TYPE_CONSENT_REVOKED: Final = "consent_revoked"


def _sentence(_data: Mapping[str, Any]) -> Sentence:
    return "logbook_consent_revoked", {}


class Consent(Capability):
    """Consent revocations (always received, whatever event types the entry chose)."""

    events = (ConsentRevokeEvent,)
    bus_events = {TYPE_CONSENT_REVOKED: BusEvent(sentence=_sentence, icon="mdi:account-cancel")}

    def handle(self, number: str, event: WgtwoEvent) -> None:
        """Fire the bus event, forget the subscriber, remove its device, raise the issue."""
        room = self.room
        entry_id = room.entry.entry_id
        registry = dr.async_get(room.hass)
        device = device_by_identifier(registry, device_identifier(entry_id, number), entry_id)
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
        async_delete_consent_issue(
            self.room.hass, self.room.entry.entry_id, self.room.number_key(number), number
        )
