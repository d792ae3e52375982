"""What Home Assistant knows about one subscriber number; the entities render it.

The tracker updates this state from events; entities restore it after a restart. Restored
values never overwrite what an event delivered since the start (events can arrive before
the entities are added), and restored counters add to what was counted since the start.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from .call_state import CallState, CallTracker
from .client import Country, Handset, Locations
from .countries import country_from_number, normalize_country_code

MAX_UNHEARD_VOICEMAILS: Final = 100
MAX_REMEMBERED_CALLERS: Final = 64


@dataclass(frozen=True, slots=True)
class LastCaller:
    """The last incoming caller; ``number`` is None when the caller hid it."""

    number: str | None
    hidden: bool
    call_id: str
    time: datetime


@dataclass(frozen=True, slots=True)
class UnheardVoicemail:
    """A voicemail the user has not marked heard yet."""

    voicemail_id: str
    from_number: str | None
    time: datetime


class Subscriber:
    """State of one subscriber number (one device)."""

    def __init__(
        self, number: str, device_id: str, name: str, home_country: str | None = None
    ) -> None:
        """Start empty; ``home_country`` overrides the one derived from the number."""
        self.number = number
        self.device_id = device_id
        self.name = name
        self.home_country = normalize_country_code(home_country) or country_from_number(number)
        self.calls = CallTracker()
        self.last_caller: LastCaller | None = None
        self.missed_calls = 0
        self.voicemails: list[UnheardVoicemail] = []
        self.country: Country | None = None
        self.previous_country: Country | None = None
        self.location: Locations | None = None
        self.handset: Handset | None = None
        self.last_event: datetime | None = None
        # Caller number -> whether that caller's latest call hid the number, so a
        # voicemail left by a hidden caller does not reveal it either.
        self._callers_hidden: OrderedDict[str, bool] = OrderedDict()
        self._restored: set[str] = set()
        self._country_code_only = False

    @property
    def call_state(self) -> CallState:
        """Aggregate call state of the phone."""
        return self.calls.state

    @property
    def roaming(self) -> bool | None:
        """Whether the subscriber is outside the home country (None when unknown)."""
        if self.country is None or not self.country.code or self.home_country is None:
            return None
        return normalize_country_code(self.country.code) != self.home_country

    def seen(self, timestamp: datetime) -> None:
        """Record the time of an event."""
        if self.last_event is None or timestamp > self.last_event:
            self.last_event = timestamp

    def remember_caller(self, number: str, hidden: bool) -> None:
        """Remember whether a caller hid its number (bounded)."""
        self._callers_hidden[number] = hidden
        self._callers_hidden.move_to_end(number)
        while len(self._callers_hidden) > MAX_REMEMBERED_CALLERS:
            self._callers_hidden.popitem(last=False)

    def caller_hidden(self, number: str | None) -> bool:
        """Whether this number last called with its number hidden."""
        return number is not None and self._callers_hidden.get(number, False)

    def set_country(self, current: Country, previous: Country | None) -> None:
        """Record the country the network reported."""
        self.country = current
        self.previous_country = previous
        self._country_code_only = False

    def add_voicemail(self, voicemail: UnheardVoicemail) -> bool:
        """Add an unheard voicemail; False if it is already known."""
        if any(v.voicemail_id == voicemail.voicemail_id for v in self.voicemails):
            return False
        self.voicemails.append(voicemail)
        del self.voicemails[:-MAX_UNHEARD_VOICEMAILS]
        return True

    def _first_restore(self, key: str) -> bool:
        if key in self._restored:
            return False
        self._restored.add(key)
        return True

    # -- restore (called by entities with their last state) --------------------------

    def restore_last_caller(self, caller: LastCaller) -> bool:
        """Restore the last caller unless an event set a newer one."""
        if self.last_caller is not None and self.last_caller.time >= caller.time:
            return False
        self.last_caller = caller
        return True

    def restore_missed_calls(self, count: int) -> bool:
        """Add the count from before the restart (once)."""
        if not self._first_restore("missed_calls") or count <= 0:
            return False
        self.missed_calls += count
        return True

    def restore_voicemails(self, voicemails: list[UnheardVoicemail]) -> bool:
        """Put back the unheard voicemails from before the restart (once)."""
        if not self._first_restore("voicemails") or not voicemails:
            return False
        known = {v.voicemail_id for v in self.voicemails}
        restored = [v for v in voicemails if v.voicemail_id not in known]
        self.voicemails[:0] = restored
        del self.voicemails[:-MAX_UNHEARD_VOICEMAILS]
        return bool(restored)

    def restore_country(
        self, current: Country, previous: Country | None, *, code_only: bool = False
    ) -> bool:
        """Restore the country unless an event already reported one.

        ``code_only`` marks a restore that knows only the code (from the roaming sensor);
        a full restore (from the roaming country sensor) may still replace it.
        """
        if self.country is not None and not (self._country_code_only and not code_only):
            return False
        self.country = current
        self.previous_country = previous
        self._country_code_only = code_only
        return True

    def restore_location(self, location: Locations) -> bool:
        """Restore the serving nodes unless an event already reported them."""
        if self.location is not None:
            return False
        self.location = location
        return True

    def restore_handset(self, handset: Handset) -> bool:
        """Restore the handset unless an event already reported one."""
        if self.handset is not None:
            return False
        self.handset = handset
        return True

    def restore_last_event(self, timestamp: datetime) -> bool:
        """Restore the last event time unless a newer event arrived."""
        if self.last_event is not None and self.last_event >= timestamp:
            return False
        self.last_event = timestamp
        return True
