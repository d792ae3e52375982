"""Roaming: the country a subscriber's phone is in, and whether that is abroad.

Fed by the v0 roaming events and by the v1 country change and periodic country streams.
Bus event ``roaming_country_changed``: ``previous`` and ``current`` ({code, name} or None)
and ``roaming`` (True, False, or None when the home country is not known). A change to the
country the subscriber is already in is not a change: when both the v0 and the v1 stream
report a move, it shows once. A periodic report of another country than the one known is a
move (the previous country is the one known); of the same country it changes nothing.
Several SIMs of one number: the newest event wins; the IMSI of the last report is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..client import Country, CountryChangeEvent, PeriodicCountryEvent
from ..subscriber import NO_ASPECTS, Aspect, Subscriber
from .base import (
    NO_CHANGE,
    ROAMING_COUNTRY_ENTITY,
    BusEvent,
    Capability,
    Sentence,
    SubscriberUpdate,
)

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

    events = (CountryChangeEvent, PeriodicCountryEvent)
    bus_events = {
        TYPE_ROAMING: BusEvent(sentence=_sentence, entity=ROAMING_COUNTRY_ENTITY),
    }

    def apply(
        self, sub: Subscriber, event: CountryChangeEvent | PeriodicCountryEvent
    ) -> SubscriberUpdate:
        """Take the new country and fire ``roaming_country_changed`` (once per move)."""
        previous: Country | None
        current: Country | None
        if isinstance(event, PeriodicCountryEvent):
            if event.imsi:
                sub.imsi = event.imsi
            if event.country is None or _same(event.country, sub.country):
                return SubscriberUpdate(Aspect.COUNTRY) if event.imsi else NO_CHANGE
            previous, current = sub.country, event.country
        else:
            previous, current = event.previous, event.current
            if current is not None and _same(current, sub.country):
                return NO_CHANGE  # the other stream told this move already
        if current is not None:
            sub.previous_country = previous or sub.country
            sub.country = current
            sub.country_time = event.timestamp
        self.fire(
            event,
            TYPE_ROAMING,
            sub,
            {
                "previous": previous.as_dict() if previous else None,
                "current": current.as_dict() if current else None,
                "roaming": sub.roaming,
            },
        )
        self.room.moved(sub)
        return SubscriberUpdate(Aspect.COUNTRY if current is not None else NO_ASPECTS)


def _same(country: Country, known: Country | None) -> bool:
    return known is not None and bool(country.code) and country.code.upper() == known.code.upper()
