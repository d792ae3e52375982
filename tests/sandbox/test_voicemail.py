"""The sandbox's voicemails: real WAV audio as long as their metadata says, seven-day expiry."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import random
import time
import wave
from collections.abc import Callable
from datetime import UTC, timedelta

import grpc
import pytest

from custom_components.wgtwo.client.proto.wgtwo.common.v0 import phonenumber_pb2
from custom_components.wgtwo.client.proto.wgtwo.voicemail.v0 import (
    voicemail_pb2,
    voicemail_pb2_grpc,
)
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.scenario import ALICE, BOB, OUTSIDER, demo_story, play_demo
from wgtwo_sandbox.server import to_event

from .conftest import Client, eventually
from .test_services import new_voicemail

Connect = Callable[..., Client]
Stub = voicemail_pb2_grpc.VoicemailMediaServiceStub


async def _get(stub: Stub, voicemail_id: str) -> voicemail_pb2.GetVoicemailResponse:
    request = voicemail_pb2.GetVoicemailRequest(voicemail_id=voicemail_id)
    response: voicemail_pb2.GetVoicemailResponse = await stub.GetVoicemail(request)  # type: ignore[misc]
    return response


def _audio_seconds(wav: bytes) -> float:
    with wave.open(io.BytesIO(wav)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 8000)
        frames = audio.readframes(audio.getnframes())
        assert any(frames), "the audio is not silence"
        seconds: float = audio.getnframes() / audio.getframerate()
        return seconds


async def test_each_voicemail_plays_audio_as_long_as_its_duration(
    sandbox: SandboxServer, connect: Connect
) -> None:
    stub = Stub(connect(sandbox).channel)
    ids = [f"vm-{n}" for n in range(12)]
    await sandbox.publish([new_voicemail(voicemail_id) for voicemail_id in ids])
    durations = set()
    for voicemail_id in ids:
        got = await _get(stub, voicemail_id)
        seconds = got.metadata.duration.ToTimedelta().total_seconds()
        assert _audio_seconds(got.wav) == seconds
        assert 2 <= seconds <= 5
        durations.add(seconds)
    assert len(durations) > 1, "voicemails differ in length"
    # The same id always plays the same audio.
    assert (await _get(stub, "vm-3")).wav == (await _get(stub, "vm-3")).wav


async def test_expired_voicemails_are_gone(sandbox: SandboxServer, connect: Connect) -> None:
    stub = Stub(connect(sandbox).channel)
    await sandbox.publish([new_voicemail("old")])
    sandbox.broker.clock = lambda: time.time() + timedelta(days=6).total_seconds()
    await sandbox.publish([new_voicemail("new")])
    to_alice = voicemail_pb2.GetAllVoicemailMetadataRequest(
        to=phonenumber_pb2.PhoneNumber(e164="+4791234567")
    )
    listed = await stub.GetAllVoicemailMetadata(to_alice)
    assert {m.voicemail_id for m in listed.metadata} == {"old", "new"}

    # A day later "old" has had its seven days (counted from arrival); "new" has not.
    sandbox.broker.clock = lambda: time.time() + timedelta(days=7, seconds=1).total_seconds()
    listed = await stub.GetAllVoicemailMetadata(to_alice)
    assert [m.voicemail_id for m in listed.metadata] == ["new"]
    for call in (
        stub.GetVoicemail(voicemail_pb2.GetVoicemailRequest(voicemail_id="old")),
        stub.MarkVoicemailAsRead(voicemail_pb2.MarkVoicemailAsReadRequest(voicemail_id="old")),
        stub.DeleteVoicemail(voicemail_pb2.DeleteVoicemailRequest(voicemail_id="old")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_demo_leaves_a_playable_voicemail_for_alice(
    sandbox: SandboxServer, connect: Connect
) -> None:
    task = asyncio.create_task(play_demo(sandbox, 0.01, seed=3))
    try:
        await eventually(lambda: bool(sandbox.voicemails.voicemails), 5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    stub = Stub(connect(sandbox).channel)
    listed = await stub.GetAllVoicemailMetadata(
        voicemail_pb2.GetAllVoicemailMetadataRequest(to=phonenumber_pb2.PhoneNumber(e164=ALICE))
    )
    first = listed.metadata[0]
    assert not first.played
    assert first.expires.ToDatetime(UTC) - first.created.ToDatetime(UTC) == timedelta(days=7)
    got = await _get(stub, first.voicemail_id)
    assert _audio_seconds(got.wav) == first.duration.ToTimedelta().total_seconds()


def test_demo_voicemails_come_from_a_stranger_a_named_caller_and_a_hidden_number() -> None:
    events = [
        to_event(item)
        for cycle in itertools.islice(demo_story(random.Random(5)), 3)
        for episode in cycle
        for step in episode
        for item in step
    ]
    callers = [
        e.voicemail_event.from_number.e164
        for e in events
        if e.HasField("voicemail_event") and e.owner.phone_number.e164 == ALICE
    ]
    assert callers == [OUTSIDER, BOB, OUTSIDER]
    hidden = {
        e.voice_event.from_number.e164
        for e in events
        if e.HasField("voice_event") and e.voice_event.caller_id_hidden
    }
    assert OUTSIDER in hidden
