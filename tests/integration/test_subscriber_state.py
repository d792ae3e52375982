"""The per-subscriber state: its snapshot round trip and its memory bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.wgtwo.client import Country, Handset, Locations
from custom_components.wgtwo.subscriber import (
    MAX_HIDDEN_VOICEMAILS,
    MAX_REMEMBERED_CALLERS,
    MAX_UNHEARD_VOICEMAILS,
    LastCaller,
    Subscriber,
    UnheardVoicemail,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
_ISO = T0.isoformat()


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
    sub.remember_caller("key-hidden", True)
    assert sub.caller_hidden("key-hidden")
    for i in range(MAX_REMEMBERED_CALLERS):
        sub.remember_caller(f"key-{i}", False)
    assert not sub.caller_hidden("key-hidden")
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


def test_hidden_callers_and_voicemails_are_kept_bounded() -> None:
    sub = Subscriber("+4799900001", "dev", "Alice")
    sub.remember_caller("key-hidden", True)
    sub.remember_caller("key-shown", False)
    for i in range(MAX_HIDDEN_VOICEMAILS + 1):
        assert sub.hide_voicemail(f"vm{i}")
    assert not sub.hide_voicemail(f"vm{MAX_HIDDEN_VOICEMAILS}")
    assert not sub.voicemail_hidden("vm0")  # the oldest made room
    again = Subscriber("+4799900001", "dev", "Alice")
    again.restore(sub.snapshot())
    assert again.caller_hidden("key-hidden")
    assert not again.caller_hidden("key-shown")
    assert again.voicemail_hidden(f"vm{MAX_HIDDEN_VOICEMAILS}")
    assert not again.voicemail_hidden("vm0")

    broken = Subscriber("+4799900001", "dev", "Alice")
    broken.restore(
        {
            "callers_hidden": [["key-a", "yes"], ["key-b"], "key-c", [5, True], ["key-d", True]],
            "hidden_voicemails": [5, None, "vm"],
            "voicemails": [{"voicemail_id": "vm", "from_number": "+4670000003", "time": _ISO}],
        }
    )
    assert [broken.caller_hidden(k) for k in ("key-a", "key-b", "key-c", "key-d")] == [
        False,
        False,
        False,
        True,
    ]
    assert broken.voicemail_hidden("vm")
    # A voicemail stored as hidden shows no caller, even if a number was stored with it.
    assert broken.latest_voicemail is not None
    assert broken.latest_voicemail.from_number is None
