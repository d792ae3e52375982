"""Restore rules of the per-subscriber state: events since the start always win."""

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


def test_events_since_start_beat_restored_values() -> None:
    sub = Subscriber("+4799900001", "dev", "Alice")
    sub.last_caller = LastCaller("+47a", False, "new", t(100))
    assert not sub.restore_last_caller(LastCaller("+47b", False, "old", t(50)))
    assert sub.last_caller.call_id == "new"
    sub.country = Country("SE", "Sweden")
    assert not sub.restore_country(Country("DE", "Germany"), None)
    sub.location = Locations(None, "1", None, None)
    assert not sub.restore_location(Locations(None, "2", None, None))
    assert sub.location.vlr == "1"
    sub.handset = Handset("1", "01")
    assert not sub.restore_handset(Handset("2", "02"))
    sub.seen(t(100))
    sub.seen(t(10))  # an older, reordered event does not move it back
    assert sub.last_event == t(100)
    assert not sub.restore_last_event(t(50))


def test_restored_values_fill_an_empty_state() -> None:
    sub = Subscriber("+4799900001", "dev", "Alice", home_country="")
    assert sub.home_country == "NO"
    assert sub.restore_location(Locations("1", "2", None, None))
    assert sub.restore_handset(Handset("1", "01"))
    assert sub.restore_last_event(t(5))
    assert sub.restore_country(Country("SE", "Sweden"), Country("NO", "Norway"))
    assert sub.roaming is True


def test_counters_add_once() -> None:
    sub = Subscriber("+4799900001", "dev", "Alice")
    sub.missed_calls = 2  # counted since the start
    assert sub.restore_missed_calls(3)
    assert not sub.restore_missed_calls(3)
    assert sub.missed_calls == 5
    sub.add_voicemail(UnheardVoicemail("vm2", None, t(2)))
    assert sub.restore_voicemails(
        [UnheardVoicemail("vm1", None, t(1)), UnheardVoicemail("vm2", None, t(2))]
    )
    assert not sub.restore_voicemails([UnheardVoicemail("vm0", None, t(0))])
    assert [v.voicemail_id for v in sub.voicemails] == ["vm1", "vm2"]


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


def test_code_only_country_gives_way_to_a_full_restore_not_to_older_data() -> None:
    sub = Subscriber("+4799900001", "dev", "Alice")
    assert sub.restore_country(Country("SE", "SE"), None, code_only=True)
    assert sub.roaming is True
    assert sub.restore_country(Country("SE", "Sweden"), Country("NO", "Norway"))
    assert sub.country == Country("SE", "Sweden")
    assert not sub.restore_country(Country("DK", "DK"), None, code_only=True)
    # An event beats any restore that comes after it.
    sub = Subscriber("+4799900001", "dev", "Alice")
    assert sub.restore_country(Country("SE", "SE"), None, code_only=True)
    sub.set_country(Country("DE", "Germany"), None)
    assert not sub.restore_country(Country("SE", "Sweden"), None)
    assert sub.country == Country("DE", "Germany")
