"""Odd timing and odd servers: stop before start, cancelled handlers, events without metadata."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from custom_components.wgtwo.client import (
    Endpoint,
    EventSubscription,
    EventType,
    VoiceEvent,
    WgtwoEvent,
    event_from_proto,
)
from custom_components.wgtwo.client.models import _EPOCH
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2
from wgtwo_sandbox import SandboxServer

from .helpers import (
    Recorder,
    endpoint_of,
    events_server,
    fast_config,
    publish_voice,
    running,
    wait_for,
)


async def test_stop_before_the_run_task_started_ends_it(sandbox: SandboxServer) -> None:
    """An entry unloaded right after setup must not leave a stream running."""
    subscription = EventSubscription(endpoint_of(sandbox), fast_config(), Recorder())
    task = asyncio.create_task(subscription.run())
    await subscription.stop()
    await asyncio.wait_for(task, 30)
    assert sandbox.stats["streams_opened"] == 0


async def test_handler_whose_own_await_was_cancelled_is_retried(sandbox: SandboxServer) -> None:
    attempts: dict[int, int] = {}

    async def cancelled_first_time(event: WgtwoEvent) -> None:
        attempts[event.sequence] = attempts.get(event.sequence, 0) + 1
        if attempts[event.sequence] == 1:
            future = asyncio.get_running_loop().create_future()
            future.cancel()
            await future  # e.g. a shared request somebody else cancelled

    recorder = Recorder(before=cancelled_first_time)
    async with running(sandbox, fast_config(ack_timeout=0.2), recorder) as (sub, task):
        await publish_voice(sandbox, 1)
        await recorder.wait_events(1)
        assert not task.done()
    assert recorder.sequences == [1]
    assert attempts == {1: 2}
    assert sub.stats.handler_failures == 1


@pytest.fixture
async def no_metadata_server() -> AsyncIterator[Endpoint]:
    """EventsService streaming three different events that carry no metadata (sequence 0)."""

    async def subscribe(
        _request: events_pb2.SubscribeEventsRequest, _context: object
    ) -> AsyncIterator[events_pb2.SubscribeEventsResponse]:
        for call_id in ("a", "b", "c"):
            response = events_pb2.SubscribeEventsResponse()
            response.event.voice_event.call_id = call_id
            yield response
        await asyncio.Event().wait()

    async with events_server(subscribe) as endpoint:
        yield endpoint


async def test_events_without_sequence_are_not_taken_for_duplicates(
    no_metadata_server: Endpoint,
) -> None:
    recorder = Recorder()
    config = fast_config(manual_ack=False)
    async with running(no_metadata_server, config, recorder) as (sub, _):
        await recorder.wait_events(3)
    assert [e.call_id for e in recorder.events if isinstance(e, VoiceEvent)] == ["a", "b", "c"]
    assert sub.stats.duplicates_dropped == 0


SECRET_TEXT = "Your code is 914277"
SENDER = "+4791234567"


@pytest.fixture
async def no_metadata_sms_server() -> AsyncIterator[Endpoint]:
    """EventsService streaming two SMS events without metadata (sequence 0), then waiting."""

    async def subscribe(
        _request: events_pb2.SubscribeEventsRequest, _context: object
    ) -> AsyncIterator[events_pb2.SubscribeEventsResponse]:
        for sms_id in ("s1", "s2"):
            response = events_pb2.SubscribeEventsResponse()
            sms = response.event.sms_event
            sms.id = sms_id
            sms.text = SECRET_TEXT
            sms.from_e164.e164 = SENDER
            response.event.owner.phone_number.e164 = SENDER
            yield response
        await asyncio.Event().wait()

    async with events_server(subscribe) as endpoint:
        yield endpoint


async def test_failures_of_events_without_sequence_keep_no_text_or_number(
    no_metadata_sms_server: Endpoint,
) -> None:
    """A failed event without a sequence is counted under a digest, not its content."""
    recorder = Recorder(fail=lambda _event, _count: True)
    config = fast_config(EventType.SMS_EVENT, max_handler_failures=5)
    async with running(no_metadata_sms_server, config, recorder) as (sub, _):
        await wait_for(lambda: sub.stats.handler_failures == 2, message="two failures")
        keys = list(sub._failures._items)
    # Each event keeps its own count, under a key that holds neither the text nor a number.
    assert len(keys) == 2
    for key in keys:
        assert SECRET_TEXT not in repr(key)
        assert SENDER not in repr(key)


def test_timestamp_beyond_what_datetime_holds_does_not_break_decoding() -> None:
    event = events_pb2.Event()
    event.timestamp.seconds = 10**12  # year ~33,000
    event.voice_event.call_id = "c"
    model = event_from_proto(event)
    assert isinstance(model, VoiceEvent)
    assert model.call_id == "c"
    assert model.timestamp == _EPOCH
