"""What Home Assistant knows about one subscriber number; the entities render it.

The coordinator changes this state from events and keeps a snapshot of its lasting facts
(last caller, counters, unheard voicemails, country, network, handset, serving nodes, the call
forwarding last set, missed-call decisions still pending, which callers and voicemails
were hidden) in the entry's store, so the entities show them again after a restart. Calls
in progress are not kept: after a restart the phone is idle until its next call event.

A caller who hid the number is remembered by its key (see :mod:`.ids`), never by the
number, and a voicemail whose caller was hidden by its id: it stays hidden wherever it is
shown, whatever the operator's metadata says and whoever calls later.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from enum import IntFlag, auto
from typing import Any, Final

from homeassistant.util import dt as dt_util

from .call_state import CallState, CallTracker
from .client import Country, ForwardingMode, Handset, Locations, NetworkGeneration, NetworkInfo
from .client.forwarding import NEEDS_NUMBER
from .countries import country_from_number, normalize_country_code

MAX_UNHEARD_VOICEMAILS: Final = 100
MAX_REMEMBERED_CALLERS: Final = 64
# Voicemails remembered as left by a hidden caller (the operator keeps them 7 days).
MAX_HIDDEN_VOICEMAILS: Final = 256
# Missed-call decisions kept in a snapshot (each settles within seconds).
MAX_PENDING_MISSED: Final = 16


class Aspect(IntFlag):
    """Parts of a subscriber's state, so an update reaches only the entities showing them."""

    CALLS = auto()
    LAST_CALLER = auto()
    MISSED_CALLS = auto()
    VOICEMAIL = auto()
    COUNTRY = auto()
    LOCATION = auto()
    HANDSET = auto()
    LAST_EVENT = auto()
    CONNECTION = auto()
    FORWARDING = auto()  # the call forwarding last set (the API has no getter)
    NETWORK = auto()  # the serving network read from the operator


NO_ASPECTS: Final = Aspect(0)
ALL_ASPECTS: Final = Aspect(sum(Aspect))
# Aspects kept in the stored snapshot: a change to any of them schedules a save.
STORED_ASPECTS: Final = ALL_ASPECTS & ~(Aspect.CALLS | Aspect.CONNECTION)


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


@dataclass(frozen=True, slots=True)
class PendingMissed:
    """An unanswered incoming call that counts as missed at ``settles`` unless answered.

    ``timestamp`` and ``sequence`` are those of the event that decided it (the bus event's
    envelope); ``payload`` is the ``call_missed`` payload.
    """

    call_id: str
    settles: datetime
    timestamp: datetime
    sequence: int
    payload: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """Return the decision as JSON types (for the snapshot)."""
        return {
            "call_id": self.call_id,
            "settles": self.settles.isoformat(),
            "timestamp": self.timestamp.isoformat(),
            "sequence": self.sequence,
            "payload": self.payload,
        }

    @classmethod
    def from_dict(cls, data: Any) -> PendingMissed | None:
        """Read a stored decision back; None when it is malformed."""
        item = _dict(data)
        call_id = _str(item.get("call_id"))
        settles = _time(item.get("settles"))
        timestamp = _time(item.get("timestamp"))
        sequence = item.get("sequence")
        payload = _dict(item.get("payload"))
        if (
            not call_id
            or settles is None
            or timestamp is None
            or not isinstance(sequence, int)
            or payload.get("call_id") != call_id
            or not all(isinstance(v, str | int | float | bool | None) for v in payload.values())
        ):
            return None
        if payload.get("caller_id_hidden") is not False:
            # A hidden caller stays hidden, even if a number was stored with it.
            payload = payload | {"caller_id_hidden": True, "from_number": None, "from_name": None}
        return cls(call_id, settles, timestamp, sequence, payload)


@dataclass(frozen=True, slots=True)
class ForwardingState:
    """The call forwarding Home Assistant last set; ``number`` for number and conditional."""

    mode: ForwardingMode
    number: str | None
    set_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """Return the state as JSON types (for the snapshot)."""
        return {"mode": str(self.mode), "number": self.number, "set_at": self.set_at.isoformat()}

    @classmethod
    def from_dict(cls, data: Any) -> ForwardingState | None:
        """Read a stored state back; None when it is missing or malformed."""
        modes = {mode.value for mode in ForwardingMode}
        if not isinstance(data, dict) or data.get("mode") not in modes:
            return None
        parsed = _time(data.get("set_at"))
        number = data.get("number")
        mode = ForwardingMode(data["mode"])
        if parsed is None:
            return None
        if mode in NEEDS_NUMBER and not isinstance(number, str):
            return None
        return cls(mode, number if mode in NEEDS_NUMBER else None, parsed)


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
        # When the country shown was reported (a roaming event, or a network read): the
        # newer report wins. None when not known (a snapshot of an older version).
        self.country_time: datetime | None = None
        # The serving network of the SIM the operator saw last (never its IMSI or ICCID),
        # and how many SIMs the number has.
        self.network: NetworkInfo | None = None
        self.network_sims = 0
        self.location: Locations | None = None
        self.handset: Handset | None = None
        self.last_event: datetime | None = None
        self.forwarding: ForwardingState | None = None
        # The scopes the subscriber's consent grants the product; None: not known (the
        # subscriber came with an event), every feature is shown.
        self.scopes: frozenset[str] | None = None
        # The IMSI of the SIM that last told where the number is or which handset it is in.
        self.imsi: str | None = None
        # Missed-call decisions waiting for their settle time, by call id.
        self.pending_missed: dict[str, PendingMissed] = {}
        # Caller key -> whether that caller's latest call hid the number, so a
        # voicemail left by a hidden caller does not reveal it either.
        self._callers_hidden: OrderedDict[str, bool] = OrderedDict()
        # Ids of the voicemails whose caller was hidden (the values are unused).
        self._hidden_voicemails: OrderedDict[str, None] = OrderedDict()

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

    def grants(self, scopes: frozenset[str]) -> bool:
        """Whether the consent grants one of ``scopes`` (always, when none or not known)."""
        return not scopes or self.scopes is None or not scopes.isdisjoint(self.scopes)

    @property
    def latest_voicemail(self) -> UnheardVoicemail | None:
        """The newest unheard voicemail."""
        return max(self.voicemails, key=lambda v: v.time) if self.voicemails else None

    def seen(self, timestamp: datetime) -> bool:
        """Record the time of an event; True if it is the newest so far."""
        if self.last_event is None or timestamp > self.last_event:
            self.last_event = timestamp
            return True
        return False

    def remember_caller(self, key: str, hidden: bool) -> None:
        """Remember whether a caller (by its key) hid its number (bounded)."""
        self._callers_hidden[key] = hidden
        self._callers_hidden.move_to_end(key)
        while len(self._callers_hidden) > MAX_REMEMBERED_CALLERS:
            self._callers_hidden.popitem(last=False)

    def caller_hidden(self, key: str | None) -> bool:
        """Whether the caller of this key last called with its number hidden."""
        return key is not None and self._callers_hidden.get(key, False)

    def hide_voicemail(self, voicemail_id: str) -> bool:
        """Remember that a voicemail's caller was hidden (bounded); True if it is new."""
        if voicemail_id in self._hidden_voicemails:
            return False
        self._hidden_voicemails[voicemail_id] = None
        while len(self._hidden_voicemails) > MAX_HIDDEN_VOICEMAILS:
            self._hidden_voicemails.popitem(last=False)
        return True

    def voicemail_hidden(self, voicemail_id: str) -> bool:
        """Whether this voicemail's caller was hidden."""
        return voicemail_id in self._hidden_voicemails

    def add_voicemail(self, voicemail: UnheardVoicemail) -> bool:
        """Add an unheard voicemail; False if it is already known."""
        if any(v.voicemail_id == voicemail.voicemail_id for v in self.voicemails):
            return False
        self.voicemails.append(voicemail)
        del self.voicemails[:-MAX_UNHEARD_VOICEMAILS]
        return True

    # -- snapshot ----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Return the lasting facts as JSON types, for the entry's store."""
        caller = self.last_caller
        return {
            "last_caller": None
            if caller is None
            else {
                "number": caller.number,
                "hidden": caller.hidden,
                "call_id": caller.call_id,
                "time": caller.time.isoformat(),
            },
            "missed_calls": self.missed_calls,
            "voicemails": [
                {"voicemail_id": v.voicemail_id, "from_number": v.from_number, "time": _iso(v.time)}
                for v in self.voicemails
            ],
            "country": _as_dict(self.country),
            "previous_country": _as_dict(self.previous_country),
            "country_time": _iso(self.country_time),
            "network": None
            if self.network is None
            else self.network.as_dict() | {"sims": self.network_sims},
            "location": _as_dict(self.location),
            "handset": _as_dict(self.handset),
            "last_event": _iso(self.last_event),
            "forwarding": self.forwarding.as_dict() if self.forwarding is not None else None,
            "scopes": sorted(self.scopes) if self.scopes is not None else None,
            "imsi": self.imsi,
            "callers_hidden": [[key, hidden] for key, hidden in self._callers_hidden.items()],
            "hidden_voicemails": list(self._hidden_voicemails),
            "pending_missed": [
                pending.as_dict()
                for pending in sorted(self.pending_missed.values(), key=lambda p: p.settles)[
                    -MAX_PENDING_MISSED:
                ]
            ],
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Take the facts back from a snapshot; malformed parts are skipped."""
        caller = _dict(data.get("last_caller"))
        time = _time(caller.get("time"))
        if time is not None:
            hidden = caller.get("hidden") is True
            self.last_caller = LastCaller(
                number=None if hidden else _str(caller.get("number")),
                hidden=hidden,
                call_id=_str(caller.get("call_id")) or "",
                time=time,
            )
        missed = data.get("missed_calls")
        if isinstance(missed, int) and missed > 0:
            self.missed_calls = missed
        for pair in _list(data.get("callers_hidden"))[-MAX_REMEMBERED_CALLERS:]:
            if isinstance(pair, list) and len(pair) == 2:
                key, hidden = pair
                if isinstance(key, str) and isinstance(hidden, bool):
                    self.remember_caller(key, hidden)
        for voicemail_id in _list(data.get("hidden_voicemails"))[-MAX_HIDDEN_VOICEMAILS:]:
            if isinstance(voicemail_id, str):
                self.hide_voicemail(voicemail_id)
        for item in data.get("voicemails") or []:
            voicemail = _dict(item)
            voicemail_id = _str(voicemail.get("voicemail_id"))
            when = _time(voicemail.get("time"))
            if voicemail_id and when is not None:
                hidden = self.voicemail_hidden(voicemail_id)
                from_number = None if hidden else _str(voicemail.get("from_number"))
                self.add_voicemail(UnheardVoicemail(voicemail_id, from_number, when))
        self.country = _country(data.get("country"))
        self.previous_country = _country(data.get("previous_country"))
        self.country_time = _time(data.get("country_time"))
        network = _dict(data.get("network"))
        if network:
            self.network = _network(network)
            sims = network.get("sims")
            self.network_sims = sims if isinstance(sims, int) and sims > 0 else 1
        location = _dict(data.get("location"))
        if location:
            self.location = Locations(
                msc=_str(location.get("msc")),
                vlr=_str(location.get("vlr")),
                sgsn=_str(location.get("sgsn")),
                mme=_str(location.get("mme")),
            )
        handset = _dict(data.get("handset"))
        if imei := _str(handset.get("imei")):
            self.handset = Handset(
                imei=imei, software_version=_str(handset.get("software_version")) or ""
            )
        self.last_event = _time(data.get("last_event"))
        self.forwarding = ForwardingState.from_dict(data.get("forwarding"))
        scopes = data.get("scopes")
        if isinstance(scopes, list) and all(isinstance(scope, str) for scope in scopes):
            self.scopes = frozenset(scopes)
        self.imsi = _str(data.get("imsi"))
        for item in _list(data.get("pending_missed"))[-MAX_PENDING_MISSED:]:
            if (pending := PendingMissed.from_dict(item)) is not None:
                self.pending_missed[pending.call_id] = pending
                self.calls.restore_unanswered(
                    pending.call_id,
                    pending.timestamp,
                    hidden=pending.payload["caller_id_hidden"] is True,
                )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _as_dict(value: Country | Locations | Handset | None) -> dict[str, Any] | None:
    return value.as_dict() if value is not None else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _time(value: Any) -> datetime | None:
    """Parse a stored time; one without a time zone cannot be compared and is dropped."""
    parsed = dt_util.parse_datetime(value) if isinstance(value, str) else None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def _network(data: dict[str, Any]) -> NetworkInfo:
    label = _str(data.get("generation")) or ""
    generations = {generation.label: generation for generation in NetworkGeneration}
    return NetworkInfo(
        mcc=_str(data.get("mcc")),
        mnc=_str(data.get("mnc")),
        generation=generations.get(label),
        tadig=_str(data.get("tadig")),
        msc=_str(data.get("msc")),
        vlr=_str(data.get("vlr")),
        sgsn=_str(data.get("sgsn")),
        mme=_str(data.get("mme")),
        timestamp=_time(data.get("timestamp")),
    )


def _country(value: Any) -> Country | None:
    country = _dict(value)
    code = _str(country.get("code"))
    if code is None:
        return None
    return Country(code=code, name=_str(country.get("name")) or "")
