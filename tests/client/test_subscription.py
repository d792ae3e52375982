"""The subscription loop against the sandbox over loopback gRPC: delivery, acks, dedup."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from custom_components.wgtwo.client import (
    ConnectionState,
    EventSubscription,
    EventType,
    SmsEvent,
    StartPosition,
    UnknownEvent,
    VoiceEvent,
    WgtwoEvent,
)
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.broker import StoredEvent

from .helpers import (
    PlainRecorder,
    Recorder,
    endpoint_of,
    fast_config,
    publish,
    publish_voice,
    running,
    types_of,
    wait_for,
)
from .samples import SAMPLES, event_with_unknown_field, sample_json
from .test_models import EXPECTED


def consumer_stats(server: SandboxServer) -> dict[str, object]:
    subscriptions = server.stats["subscriptions"]
    assert len(subscriptions) == 1
    return subscriptions[0]  # type: ignore[no-any-return]


async def test_every_event_type_round_trips_with_exact_values(sandbox: SandboxServer) -> None:
    recorder = Recorder()
    async with running(sandbox, fast_config(*types_of(SAMPLES)), recorder):
        sequences = await publish(sandbox, *SAMPLES)
        await recorder.wait_events(len(SAMPLES))
        await wait_for(lambda: sandbox.stats["acks"] == len(SAMPLES), message="acks")
    expected = [
        dataclasses.replace(EXPECTED[name], sequence=seq, is_redelivered=False)
        for name, seq in zip(SAMPLES, sequences, strict=True)
    ]
    assert recorder.events == expected


async def test_seed_example_round_trips(sandbox: SandboxServer) -> None:
    recorder = Recorder()
    async with running(sandbox, fast_config(EventType.VOICE_EVENT), recorder):
        from .samples import SEED_EXAMPLE

        [sequence] = await sandbox.publish([SEED_EXAMPLE])
        await recorder.wait_events(1)
    [event] = recorder.events
    assert isinstance(event, VoiceEvent)
    assert event.sequence == sequence
    assert event.owner_sub == "66cd\u20261a"
    assert event.as_dict()["timestamp"] == "2024-08-02T10:08:55.668065+00:00"


async def test_only_subscribed_types_arrive(sandbox: SandboxServer) -> None:
    recorder = Recorder()
    async with running(sandbox, fast_config(EventType.SMS_EVENT), recorder) as (sub, _):
        await publish(sandbox, "voice", "sms", "voicemail", "sms_binary")
        await recorder.wait_events(2)
        last = sample_json("sms")
        last["event"]["smsEvent"]["uuid"] = "last"  # a new message, not a redelivery
        await sandbox.publish([last])  # handled last: nothing else came
        await recorder.wait_events(3)
    assert [e.kind for e in recorder.events] == ["sms", "sms", "sms"]
    assert sub.stats.received == 3


async def test_each_event_is_acked_after_the_handler_finished(sandbox: SandboxServer) -> None:
    gate = asyncio.Event()

    async def wait_gate(_event: WgtwoEvent) -> None:
        await gate.wait()

    recorder = Recorder(before=wait_gate)
    config = fast_config(ack_timeout=0.3)
    async with running(sandbox, config, recorder) as (sub, _):
        await publish_voice(sandbox, 3)
        await wait_for(lambda: sub.stats.received >= 1)
        await asyncio.sleep(0.1)
        assert sandbox.stats["acks"] == 0  # handler still running: nothing acked yet
        gate.set()
        await recorder.wait_events(3)
        await wait_for(lambda: sandbox.stats["acks"] == 3, message="acks")
        await asyncio.sleep(0.5)  # past the ack timeout: nothing comes back
    assert sub.stats.acked == 3
    assert recorder.sequences == sorted(recorder.sequences)
    assert [recorder.calls[s] for s in recorder.sequences] == [1, 1, 1]


async def test_a_handler_that_returns_none_has_its_events_acked_in_order(
    sandbox: SandboxServer,
) -> None:
    recorder = PlainRecorder()
    async with running(sandbox, fast_config(ack_timeout=0.3), recorder) as (sub, _):
        await publish_voice(sandbox, 5)
        await recorder.wait_events(5)
        await wait_for(lambda: sandbox.stats["acks"] == 5, message="acks")
    assert recorder.sequences == [1, 2, 3, 4, 5]
    assert recorder.calls == {1: 1, 2: 1, 3: 1, 4: 1, 5: 1}
    assert sub.stats.acked == 5


# A handler fails the same way whether it suspends (a coroutine) or returns None at once.
_HANDLERS = pytest.mark.parametrize("recorder_type", [Recorder, PlainRecorder])


@_HANDLERS
async def test_failed_handler_leaves_event_unacked_then_it_is_handled_once(
    sandbox: SandboxServer, recorder_type: type[Recorder]
) -> None:
    recorder = recorder_type(fail=lambda event, count: event.sequence == 2 and count == 1)
    async with running(sandbox, fast_config(ack_timeout=0.2), recorder) as (sub, _):
        await publish_voice(sandbox, 3)
        await recorder.wait_events(3)
        await wait_for(lambda: sandbox.stats["acks"] == 3, message="acks")
    assert sorted(recorder.sequences) == [1, 2, 3]
    assert recorder.calls == {1: 1, 2: 2, 3: 1}
    assert sub.stats.handler_failures == 1
    assert sub.stats.redelivered >= 1
    assert sandbox.stats["redeliveries"] >= 1
    redelivered = next(e for e in recorder.events if e.sequence == 2)
    assert redelivered.is_redelivered


@_HANDLERS
async def test_poison_event_is_acked_after_the_failure_limit(
    sandbox: SandboxServer, recorder_type: type[Recorder]
) -> None:
    recorder = recorder_type(fail=lambda event, _count: event.sequence == 1)
    config = fast_config(ack_timeout=0.15, max_handler_failures=3)
    async with running(sandbox, config, recorder) as (sub, _):
        await publish_voice(sandbox, 2)
        await wait_for(lambda: sub.stats.poison_acked == 1, message="poison ack")
        await wait_for(lambda: sandbox.stats["acks"] == 2, message="acks")
        await asyncio.sleep(0.3)
    assert recorder.calls[1] == 3
    assert recorder.sequences == [2]
    assert sub.stats.handler_failures == 3


async def test_redelivery_of_a_handled_event_is_acked_not_handled_again(
    sandbox: SandboxServer,
) -> None:
    async def slow(_event: WgtwoEvent) -> None:
        await asyncio.sleep(0.35)  # longer than the ack timeout: the server redelivers

    recorder = Recorder(before=slow)
    async with running(sandbox, fast_config(ack_timeout=0.2, max_in_flight=5), recorder) as (
        sub,
        _,
    ):
        await publish_voice(sandbox, 1)
        await wait_for(lambda: sub.stats.duplicates_dropped >= 1, message="duplicate")
        await wait_for(lambda: sandbox.stats["acks"] == 1, message="ack")
    assert recorder.calls == {1: 1}
    assert sub.stats.acked >= 2


async def test_sms_redelivered_under_a_new_sequence_is_handled_once(
    sandbox: SandboxServer,
) -> None:
    recorder = Recorder()
    async with running(sandbox, fast_config(EventType.SMS_EVENT), recorder) as (sub, _):
        first = sample_json("sms")
        again = sample_json("sms")
        again["event"]["smsEvent"]["id"] = "attempt-2"  # same uuid, new delivery attempt
        other_direction = sample_json("sms")
        other_direction["event"]["smsEvent"]["direction"] = "FROM_SUBSCRIBER"
        await sandbox.publish([first, again, other_direction])
        await wait_for(lambda: sandbox.stats["acks"] == 3, message="acks")
    assert [(e.sequence, e.direction) for e in recorder.events if isinstance(e, SmsEvent)] == [
        (1, "to_subscriber"),
        (3, "from_subscriber"),
    ]
    assert sub.stats.duplicates_dropped == 1


async def test_max_in_flight_is_respected(sandbox: SandboxServer) -> None:
    gate = asyncio.Event()

    async def wait_gate(_event: WgtwoEvent) -> None:
        await gate.wait()

    recorder = Recorder(before=wait_gate)
    async with running(sandbox, fast_config(max_in_flight=3, ack_timeout=5.0), recorder):
        await publish_voice(sandbox, 10)
        await wait_for(lambda: consumer_stats(sandbox)["in_flight"] == 3, message="3 in flight")
        await asyncio.sleep(0.1)
        assert consumer_stats(sandbox)["in_flight"] == 3
        gate.set()
        await recorder.wait_events(10)
        await wait_for(lambda: sandbox.stats["acks"] == 10, message="acks")
        assert consumer_stats(sandbox)["max_in_flight_seen"] == 3
    assert recorder.sequences == list(range(1, 11))


async def test_without_manual_ack_nothing_is_acked(sandbox: SandboxServer) -> None:
    recorder = Recorder()
    async with running(sandbox, fast_config(manual_ack=False), recorder) as (sub, _):
        await publish_voice(sandbox, 3)
        await recorder.wait_events(3)
    assert sub.stats.acked == 0
    assert sandbox.stats["redeliveries"] == 0


async def test_start_position_oldest_replays_history(sandbox: SandboxServer) -> None:
    await publish_voice(sandbox, 3)
    recorder = Recorder()
    async with running(sandbox, fast_config(start=StartPosition.oldest()), recorder):
        await recorder.wait_events(3)
    assert recorder.sequences == [1, 2, 3]


async def test_unknown_payload_is_handed_over_and_acked(sandbox: SandboxServer) -> None:
    recorder = Recorder()
    async with running(sandbox, fast_config(EventType.VOICE_EVENT), recorder) as (sub, _):
        # A newer server sending VOICE_EVENT subscribers a payload field we do not know (99).
        broker = sandbox.broker
        body = event_with_unknown_field()
        broker.append(
            StoredEvent(broker.last_seq + 1, broker.clock(), events_pb2.VOICE_EVENT, body)
        )
        for consumer in broker.all_consumers():
            consumer.pump()
        # An enum value our proto does not know, in a known payload.
        odd = sample_json("voice")
        odd["event"]["voiceEvent"]["type"] = 42
        await sandbox.publish([odd])
        await publish(sandbox, "voice")
        await recorder.wait_events(3)
        await wait_for(lambda: sandbox.stats["acks"] == 3, message="acks")
    unknown, odd_event, normal = recorder.events
    assert isinstance(unknown, UnknownEvent)
    assert unknown.owner == "+46724450024"
    assert isinstance(odd_event, VoiceEvent)
    assert odd_event.call_event == 42
    assert isinstance(normal, VoiceEvent)
    assert sub.stats.unknown_events == 1


async def test_raw_hook_sees_every_response(sandbox: SandboxServer) -> None:
    seen: list[events_pb2.SubscribeEventsResponse] = []

    def hook(response: events_pb2.SubscribeEventsResponse) -> None:
        seen.append(response)
        if len(seen) == 1:
            raise RuntimeError("a broken hook must not break the stream")

    recorder = Recorder()
    async with running(sandbox, fast_config(), recorder, raw_hook=hook):
        await publish_voice(sandbox, 2)
        await recorder.wait_events(2)
    assert [r.event.metadata.sequence for r in seen] == [1, 2]
    assert seen[0].event.metadata.ack_inbox


async def test_broken_state_callback_does_not_break_the_loop(sandbox: SandboxServer) -> None:
    recorder = Recorder()

    def on_state(_status: object) -> None:
        raise RuntimeError("broken callback")

    subscription = EventSubscription(
        endpoint_of(sandbox), fast_config(), recorder, on_state=on_state
    )
    task = asyncio.create_task(subscription.run())
    await wait_for(lambda: subscription.status.state is ConnectionState.CONNECTED)
    await publish_voice(sandbox, 1)
    await recorder.wait_events(1)
    await subscription.stop()
    await task


async def test_states_and_stats(sandbox: SandboxServer) -> None:
    recorder = Recorder()
    async with running(sandbox, fast_config(), recorder) as (sub, _):
        await publish_voice(sandbox, 2)
        await recorder.wait_events(2)
        await wait_for(lambda: sub.stats.acked == 2)
        stats = sub.stats.as_dict()
    assert [s.state for s in recorder.states[:2]] == [
        ConnectionState.CONNECTING,
        ConnectionState.CONNECTED,
    ]
    assert stats["received"] == 2
    assert stats["acked"] == 2
    assert stats["reconnects"] == 0
    assert isinstance(stats["last_event_time"], str)
    assert sub.config.max_in_flight == 50


async def test_failed_handler_without_manual_ack_is_not_retried(sandbox: SandboxServer) -> None:
    recorder = Recorder(fail=lambda event, _count: event.sequence == 1)
    async with running(sandbox, fast_config(manual_ack=False), recorder) as (sub, _):
        await publish_voice(sandbox, 2)
        await recorder.wait_events(1)
        await asyncio.sleep(0.1)
    assert recorder.calls == {1: 1, 2: 1}
    assert sub.stats.handler_failures == 1
    assert sub.stats.poison_acked == 0
