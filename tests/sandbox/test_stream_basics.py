"""Subscribe/publish basics: filtering, metadata, start positions."""

from __future__ import annotations

from collections.abc import Callable

from wgtwo_sandbox import SandboxServer

from .conftest import EXAMPLE, SMS, VOICE, Client, nothing_arrives, read, sms, voice


async def test_example_event_round_trips_with_metadata(
    sandbox: SandboxServer, connect: Callable[[SandboxServer], Client]
) -> None:
    client = connect(sandbox)
    call = await client.subscribe(type=[VOICE])
    assert await sandbox.publish(EXAMPLE) == [1]
    message = await read(call)
    event = message.event
    assert event.metadata.sequence == 1
    assert event.metadata.ack_inbox
    assert not event.metadata.is_redelivered
    assert event.voice_event.call_id == "e70b8117-6e3d-49e1-83f6-0e7f932e5bb2"
    assert event.voice_event.caller_id_hidden
    assert event.owner.phone_number.e164 == "+46724450024"
    assert event.timestamp.ToJsonString() == "2024-08-02T10:08:55.668065022Z"


async def test_type_filter(
    sandbox: SandboxServer, connect: Callable[[SandboxServer], Client]
) -> None:
    client = connect(sandbox)
    voice_call = await client.subscribe(type=[VOICE])
    sms_call = await client.subscribe(type=[SMS])
    await sandbox.publish([voice("a"), sms("b"), voice("c")])
    assert (await read(voice_call)).event.voice_event.call_id == "a"
    assert (await read(voice_call)).event.voice_event.call_id == "c"
    received = await read(sms_call)
    assert received.event.sms_event.id == "b"
    assert received.event.metadata.sequence == 2
    assert await nothing_arrives(sms_call, 0.2)
