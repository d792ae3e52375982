"""Serving node: which network nodes (MSC, VLR, SGSN, MME) serve a subscriber's phone.

Bus event ``location_updated``: ``previous`` and ``current`` ({msc, vlr, sgsn, mme} or None).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..client import Locations, LocationUpdateEvent
from ..subscriber import NO_ASPECTS, Aspect, Subscriber
from .base import ROAMING_COUNTRY_ENTITY, BusEvent, Capability, Sentence, SubscriberUpdate

TYPE_LOCATION: Final = "location_updated"
# The node the serving-node sensor and the logbook name, in this order of preference.
NODE_KEYS: Final = ("mme", "vlr", "sgsn", "msc")


def serving_node(location: Locations | None) -> str | None:
    """Return the node that names where the phone is served: MME, else VLR, SGSN, MSC."""
    if location is None:
        return None
    return location.mme or location.vlr or location.sgsn or location.msc


def _sentence(data: Mapping[str, Any]) -> Sentence:
    current = data.get("current")
    if isinstance(current, dict):
        for node_key in NODE_KEYS:
            if node := current.get(node_key):
                return "logbook_location", {"node": str(node)}
    return "logbook_location_unknown", {}


class ServingNode(Capability):
    """Location updates of a subscriber's phone (network nodes, not a position)."""

    events = (LocationUpdateEvent,)
    bus_events = {
        TYPE_LOCATION: BusEvent(
            sentence=_sentence,
            entity=("sensor", "location"),
            fallback=ROAMING_COUNTRY_ENTITY,
            icon="mdi:radio-tower",
        )
    }

    def apply(self, sub: Subscriber, event: LocationUpdateEvent) -> SubscriberUpdate:
        """Take the new serving nodes and fire ``location_updated``."""
        if event.current is not None:
            sub.location = event.current
        self.fire(
            event,
            TYPE_LOCATION,
            sub,
            {
                "previous": event.previous.as_dict() if event.previous else None,
                "current": event.current.as_dict() if event.current else None,
            },
        )
        self.room.moved(sub)
        return SubscriberUpdate(Aspect.LOCATION if event.current is not None else NO_ASPECTS)
