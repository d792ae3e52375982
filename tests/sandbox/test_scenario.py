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
from wgtwo_sandbox.scenario import ALICE, BOB, demo_story, play_demo
from wgtwo_sandbox.server import to_event
from wgtwo_sandbox.standalone import skip_integration_init

from .conftest import eventually

V = events_pb2.VoiceEvent


def test_demo_story_covers_every_kind_of_event() -> None:
    episodes = list(itertools.islice(demo_story(random.Random(7)), 27))  # three rounds
    events = [to_event(item) for episode in episodes for step in episode for item in step]
    kinds = {event.WhichOneof("event") for event in events}
    assert kinds == {
        "voice_event",
        "voicemail_event",
        "sms_event",
        "sms_delivery_report_event",
        "country_change_event",
        "location_update_event",
        "handset_update_event",
    }
    calls: dict[str, list[int]] = {}
    for event in events:
        if event.HasField("voice_event"):
            calls.setdefault(event.voice_event.call_id, []).append(event.voice_event.type)
    flows = {tuple(types) for types in calls.values()}
    assert flows == {
        (V.CALL_INITIATED, V.CALL_RINGING, V.CALL_ANSWERED, V.CALL_ENDED),
        (V.CALL_INITIATED, V.CALL_RINGING, V.CALL_FWD_VOICEMAIL, V.CALL_ENDED),
    }
    assert any(e.voice_event.caller_id_hidden for e in events if e.HasField("voice_event"))
    roaming = [
        (e.country_change_event.previous.code, e.country_change_event.current.code)
        for e in events
        if e.HasField("country_change_event")
    ][:2]
    assert roaming == [("NO", "SE"), ("SE", "NO")]
    owners = {e.owner.phone_number.e164 for e in events}
    assert owners == {ALICE, BOB}


async def test_play_demo_publishes_at_once_and_makes_voicemails(sandbox: SandboxServer) -> None:
    task = asyncio.create_task(play_demo(sandbox, 0.01, seed=1))
    try:
        await eventually(lambda: bool(sandbox.voicemails.voicemails), 5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert sandbox.stats["published"] >= 9


def test_skip_integration_init_registers_bare_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("custom_components.wgtwo", "custom_components.wgtwo.client"):
        assert name in sys.modules  # so monkeypatch puts the real package back afterwards
        monkeypatch.delitem(sys.modules, name)
    skip_integration_init()
    module = sys.modules["custom_components.wgtwo.client"]
    assert module.__path__[0].endswith("custom_components/wgtwo/client")
    skip_integration_init()  # idempotent
    assert sys.modules["custom_components.wgtwo.client"] is module
