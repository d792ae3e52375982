"""The per-subscriber state: its snapshot round trip and its memory bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.wgtwo.client import Country, Handset, Locations
from custom_components.wgtwo.subscriber import (
    MAX_REMEMBERED_CALLERS,
    MAX_UNHEARD_VOICEMAILS,
    LastCaller,
    Subscriber,
    UnheardVoicemail,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_snapshot_round_trip_keeps_every_fact() -> None:
    sub = Subscriber("+4799900001", "dev", "Alice")
    sub.last_caller = LastCaller("+4799900002", False, "c1", t(100))
    sub.missed_calls = 4
    sub.add_voicemail(UnheardVoicemail("vm1", None, t(1)))
    sub.add_voicemail(UnheardVoicemail("vm2", "+4799900002", t(2)))
    sub.country = Country("SE", "Sweden")
    sub.previous_country = Country("NO", "Norway")
    sub.location = Locations(None, "4790000001", None, "mme.example")
    sub.handset = Handset("356938035643809", "02")
    sub.seen(t(100))
    sub.seen(t(10))  # an older, reordered event does not move it back

    again = Subscriber("+4799900001", "dev", "Alice")
    again.restore(sub.snapshot())

    assert again.snapshot() == sub.snapshot()
    assert again.last_caller == sub.last_caller
    assert again.latest_voicemail == UnheardVoicemail("vm2", "+4799900002", t(2))
    assert again.roaming is True
    assert again.last_event == t(100)


def test_an_empty_snapshot_restores_nothing() -> None:
    sub = Subscriber("+4799900001", "dev", "Alice", home_country="")
    sub.restore({})
    assert sub.home_country == "NO"
    assert sub.snapshot() == Subscriber("+4799900001", "dev", "Alice").snapshot()
    assert sub.latest_voicemail is None


def test_memory_bounds() -> None:
    sub = Subscriber("+4799900001", "dev", "Alice")
    for i in range(MAX_UNHEARD_VOICEMAILS + 5):
        assert sub.add_voicemail(UnheardVoicemail(f"vm{i}", None, t(i)))
    assert not sub.add_voicemail(UnheardVoicemail(f"vm{MAX_UNHEARD_VOICEMAILS}", None, t(0)))
    assert len(sub.voicemails) == MAX_UNHEARD_VOICEMAILS
    sub.remember_caller("+47hidden", True)
    assert sub.caller_hidden("+47hidden")
    for i in range(MAX_REMEMBERED_CALLERS):
        sub.remember_caller(f"+47{i}", False)
    assert not sub.caller_hidden("+47hidden")
    assert not sub.caller_hidden(None)


def test_roaming_unknown_without_home_or_country() -> None:
    sub = Subscriber("+999123", "dev", "X")
    assert sub.home_country is None
    sub.country = Country("SE", "Sweden")
    assert sub.roaming is None
    sub = Subscriber("+4799900001", "dev", "Alice")
    assert sub.roaming is None
    sub.country = Country("nor", "Norway")
    assert sub.roaming is False
