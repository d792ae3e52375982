"""Roaming: the country a subscriber's phone is in, and whether that is abroad.

Bus event ``roaming_country_changed``: ``previous`` and ``current`` ({code, name} or None)
and ``roaming`` (True, False, or None when the home country is not known).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..client import CountryChangeEvent
from ..subscriber import Aspect, Subscriber
from .base import ROAMING_COUNTRY_ENTITY, BusEvent, Capability, Sentence, SubscriberUpdate

TYPE_ROAMING: Final = "roaming_country_changed"


def _sentence(data: Mapping[str, Any]) -> Sentence:
    """Roaming, back home or at home, in the country named as the event names it."""
    current = data.get("current")
    country = (current.get("name") or current.get("code")) if isinstance(current, dict) else None
    if not isinstance(current, dict) or not country:
        return "logbook_country_unknown", {}
    placeholders: dict[str, str | None] = {"country": str(country)}
    roaming = data.get("roaming")
    if roaming is True:
        return "logbook_roaming", placeholders
    if roaming is None:
        return "logbook_country", placeholders
    previous = data.get("previous")
    if isinstance(previous, dict) and previous.get("code") != current.get("code"):
        return "logbook_back_home", placeholders
    return "logbook_at_home", placeholders


class Roaming(Capability):
    """Country changes of a subscriber's phone."""

    events = (CountryChangeEvent,)
    bus_events = {
        TYPE_ROAMING: BusEvent(sentence=_sentence, entity=ROAMING_COUNTRY_ENTITY),
    }

    def apply(self, sub: Subscriber, event: CountryChangeEvent) -> SubscriberUpdate:
        """Take the new country and fire ``roaming_country_changed``."""
        if event.current is not None:
            sub.previous_country = event.previous or sub.country
            sub.country = event.current
            sub.country_time = event.timestamp
        self.fire(
            event,
            TYPE_ROAMING,
            sub,
            {
                "previous": event.previous.as_dict() if event.previous else None,
                "current": event.current.as_dict() if event.current else None,
                "roaming": sub.roaming,
            },
        )
        return SubscriberUpdate(Aspect.COUNTRY if event.current is not None else Aspect(0))
