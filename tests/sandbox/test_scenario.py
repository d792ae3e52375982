"""The demo scenario the development instance plays, and the CLI's standalone imports."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import sys

import pytest

from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.scenario import ALICE, BOB, Step, demo_story, play_demo
from wgtwo_sandbox.server import to_event
from wgtwo_sandbox.standalone import skip_integration_init

from .conftest import eventually

V = events_pb2.VoiceEvent


def _events(cycle: list[list[Step]]) -> list[events_pb2.Event]:
    return [to_event(item) for episode in cycle for step in episode for item in step]


def _features(events: list[events_pb2.Event], owner: str) -> set[str]:
    """What a subscriber's device shows of the events: one name per feature."""
    shown: set[str] = set()
    calls: dict[str, list[int]] = {}
    mine = [e for e in events if e.owner.phone_number.e164 == owner]
    for event in mine:
        match event.WhichOneof("event"):
            case "voice_event":
                calls.setdefault(event.voice_event.call_id, []).append(event.voice_event.type)
            case "voicemail_event":
                shown.add("voicemail")
            case "sms_event":
                shown.add(f"sms {events_pb2.SmsEvent.Direction.Name(event.sms_event.direction)}")
            case "sms_delivery_report_event":
                shown.add("delivery report")
            case "location_update_event":
                shown.add("serving node")
            case "handset_update_event":
                shown.add("handset")
    flows = set(map(tuple, calls.values()))
    if (V.CALL_INITIATED, V.CALL_RINGING, V.CALL_ANSWERED, V.CALL_ENDED) in flows:
        shown.add("answered call")
    if (V.CALL_INITIATED, V.CALL_RINGING, V.CALL_FWD_VOICEMAIL, V.CALL_ENDED) in flows:
        shown.add("missed call")
    trips = [
        (e.country_change_event.previous.code, e.country_change_event.current.code)
        for e in mine
        if e.HasField("country_change_event")
    ]
    if len(trips) == 2 and trips[0][0] == trips[1][1] == "NO" and trips[0][1] == trips[1][0]:
        shown.add("roaming abroad and back")
    return shown


def test_every_cycle_shows_every_feature_on_every_subscriber() -> None:
    cycles = list(itertools.islice(demo_story(random.Random(7)), 3))
    for cycle in cycles:
        events = _events(cycle)
        assert {e.owner.phone_number.e164 for e in events} == {ALICE, BOB}
        for owner in (ALICE, BOB):
            assert _features(events, owner) == {
                "answered call",
                "missed call",
                "voicemail",
                "sms TO_SUBSCRIBER",
                "sms FROM_SUBSCRIBER",
                "delivery report",
                "roaming abroad and back",
                "serving node",
                "handset",
            }, owner
    # Over the cycles the missed calls come from a stranger, a phonebook name and a hidden
    # number; abroad is a different country for each subscriber.
    every = [event for cycle in cycles for event in _events(cycle)]
    assert any(e.voice_event.caller_id_hidden for e in every if e.HasField("voice_event"))
    abroad = {
        e.owner.phone_number.e164: e.country_change_event.current.code
        for e in _events(cycles[0])
        if e.HasField("country_change_event") and e.country_change_event.current.code != "NO"
    }
    assert abroad == {ALICE: "SE", BOB: "DK"}


async def test_play_demo_publishes_at_once_and_counts_its_cycles(sandbox: SandboxServer) -> None:
    one_cycle = len(_events(next(demo_story(random.Random(1)))))
    task = asyncio.create_task(play_demo(sandbox, 0.01, seed=1))
    try:
        await eventually(lambda: bool(sandbox.voicemails.voicemails), 5)
        assert sandbox.stats["scenario_cycles"] == 0
        await eventually(lambda: sandbox.stats["scenario_cycles"] >= 1, 10)
        assert sandbox.stats["published"] >= one_cycle
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_skip_integration_init_registers_bare_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("custom_components.wgtwo", "custom_components.wgtwo.client"):
        assert name in sys.modules  # so monkeypatch puts the real package back afterwards
        monkeypatch.delitem(sys.modules, name)
    skip_integration_init()
    module = sys.modules["custom_components.wgtwo.client"]
    assert module.__path__[0].endswith("custom_components/wgtwo/client")
    skip_integration_init()  # idempotent
    assert sys.modules["custom_components.wgtwo.client"] is module
