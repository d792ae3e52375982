"""Handset: the IMEI and software version of a subscriber's phone.

Fed by the v0 handset events and the v1 handset change stream. Bus event
``handset_changed``: ``previous`` and ``current`` ({imei, software_version} or None); never
the IMSI. A change to the handset already known is not a change: when both streams report
it, it shows once. The IMSI of the SIM last reported is kept (the handset sensor shows it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..client import HandsetUpdateEvent
from ..subscriber import NO_ASPECTS, Aspect, Subscriber
from .base import (
    NO_CHANGE,
    ROAMING_COUNTRY_ENTITY,
    BusEvent,
    Capability,
    Sentence,
    SubscriberUpdate,
)

TYPE_HANDSET: Final = "handset_changed"


def _sentence(data: Mapping[str, Any]) -> Sentence:
    """Tell a new handset from new software on the same one; the IMEI is not shown."""
    current = data.get("current")
    if not isinstance(current, dict) or not current.get("imei"):
        return "logbook_handset_unknown", {}
    previous = data.get("previous")
    if isinstance(previous, dict) and previous.get("imei") == current.get("imei"):
        return "logbook_handset_software", {
            "software_version": str(current.get("software_version") or "")
        }
    return "logbook_handset_changed", {}


class HandsetChanges(Capability):
    """Handset updates of a subscriber."""

    events = (HandsetUpdateEvent,)
    bus_events = {
        TYPE_HANDSET: BusEvent(
            sentence=_sentence,
            entity=("sensor", "handset"),
            fallback=ROAMING_COUNTRY_ENTITY,
            icon="mdi:cellphone",
        )
    }

    def apply(self, sub: Subscriber, event: HandsetUpdateEvent) -> SubscriberUpdate:
        """Take the new handset and fire ``handset_changed`` (once per change)."""
        if event.current is not None and event.current == sub.handset:
            return NO_CHANGE  # the other stream told this change already
        if event.imsi:
            sub.imsi = event.imsi
        if event.current is not None:
            sub.handset = event.current
        self.fire(
            event,
            TYPE_HANDSET,
            sub,
            {
                "previous": event.previous.as_dict() if event.previous else None,
                "current": event.current.as_dict() if event.current else None,
            },
        )
        return SubscriberUpdate(Aspect.HANDSET if event.current is not None else NO_ASPECTS)
