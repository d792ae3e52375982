"""Reconnects: server-ended streams, durable resume, queues, stalls and a killed server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from custom_components.wgtwo.client import (
    Backoff,
    ConnectionState,
    ConnectionStatus,
    Endpoint,
    EventType,
    StartPosition,
    WgtwoError,
)
from tests.sandbox_fixtures import MakeSandbox, SandboxLauncher, free_port
from wgtwo_sandbox import SandboxServer

from .helpers import Recorder, events_server, fast_config, publish_voice, running, wait_for


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.OK,
    ],
)
async def test_transient_end_reconnects_and_loses_nothing(
    sandbox: SandboxServer, code: grpc.StatusCode
) -> None:
    recorder = Recorder()
    async with running(sandbox, fast_config(), recorder) as (sub, _):
        await publish_voice(sandbox, 2)
        await recorder.wait_events(2)
        await wait_for(lambda: sub.stats.acked == 2)
        assert sandbox.end_streams(code, "maintenance") == 1
        await wait_for(lambda: recorder.count(ConnectionState.DISCONNECTED) == 1)
        await publish_voice(sandbox, 2)  # published while the client is away
        await wait_for(lambda: recorder.count(ConnectionState.CONNECTED) == 2, message="back")
        await publish_voice(sandbox, 1)
        await recorder.wait_events(5)
        # A last event: once it is handled, any duplicate sent before it would have been too.
        await publish_voice(sandbox, 1, call_prefix="last")
        await recorder.wait_events(6)
    assert recorder.sequences == [1, 2, 3, 4, 5, 6]
    disconnected = next(s for s in recorder.states if s.state is ConnectionState.DISCONNECTED)
    assert disconnected.retry_in is not None
    assert disconnected.retry_in <= 0.05
    expected = "stream ended by server" if code is grpc.StatusCode.OK else code.name
    assert disconnected.reason == expected
    assert sub.stats.reconnects == 1


async def test_invalid_argument_stops_with_an_error(sandbox: SandboxServer) -> None:
    recorder = Recorder()
    async with running(sandbox, fast_config(), recorder) as (_sub, task):
        sandbox.end_streams(grpc.StatusCode.INVALID_ARGUMENT, "bad request")
        with pytest.raises(WgtwoError, match="INVALID_ARGUMENT"):
            await asyncio.wait_for(task, 30)
    assert recorder.states[-1].state is ConnectionState.FAILED


async def test_a_stream_ended_again_and_again_is_resumed_at_once(
    sandbox: SandboxServer,
) -> None:
    """Only attempts that fail grow the backoff: each accepted stream starts it over."""
    recorder = Recorder()
    # Grown once, the delay would be 60 s: far beyond the wait below.
    backoff = Backoff(0.3, 60.0, multiplier=200.0, rand=lambda: 1.0)
    async with running(sandbox, fast_config(), recorder, backoff=backoff):
        for connections in (2, 3, 4):
            sandbox.end_streams(grpc.StatusCode.UNAVAILABLE)  # right after the last fault
            await wait_for(
                lambda n=connections: recorder.count(ConnectionState.CONNECTED) == n,  # type: ignore[misc]
                timeout=30,
                message=f"connection {connections}",
            )
    delays = [s.retry_in for s in recorder.states if s.state is ConnectionState.DISCONNECTED]
    assert delays == [0.3, 0.3, 0.3]


async def test_a_server_back_after_an_outage_is_used_long_before_the_backoff_ends(
    make_sandbox: MakeSandbox,
) -> None:
    """However long the backoff has grown, a probe notices the server coming back."""
    server = await make_sandbox(grpc_port=free_port())
    recorder = Recorder()
    # The second delay is 100 s; the event must come well within it.
    backoff = Backoff(0.1, 100.0, multiplier=1000.0, rand=lambda: 1.0)
    config = fast_config(backoff_max=100.0)
    async with running(server, config, recorder, backoff=backoff) as (sub, _):
        await publish_voice(server, 1)
        await recorder.wait_events(1)
        await server.stop()
        await wait_for(lambda: (sub.status.retry_in or 0.0) >= 100.0, message="backoff grown")
        await server.start()
        await publish_voice(server, 1, call_prefix="after")
        await recorder.wait_events(2, timeout=30)
        server.end_streams(grpc.StatusCode.UNAVAILABLE)
        await wait_for(
            lambda: recorder.count(ConnectionState.CONNECTED) == 3, timeout=30, message="again"
        )
    delays = [s.retry_in for s in recorder.states if s.state is ConnectionState.DISCONNECTED]
    assert delays[:3] == [0.1, 100.0, 0.1]  # the stream that got through reset it
    assert recorder.sequences == [1, 2]


class TimedRecorder(Recorder):
    """Also notes when each disconnection was reported."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped_at: list[float] = []

    def on_state(self, status: ConnectionStatus) -> None:
        """Record the state and the time of a disconnection."""
        super().on_state(status)
        if status.state is ConnectionState.DISCONNECTED:
            self.dropped_at.append(time.monotonic())


@pytest.fixture
async def refusing_server() -> AsyncIterator[Endpoint]:
    """An EventsService that is reachable but ends every Subscribe at once (overloaded)."""

    async def subscribe(_request: object, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(grpc.StatusCode.UNAVAILABLE, "busy")

    async with events_server(subscribe) as endpoint:
        yield endpoint


async def test_a_reachable_server_that_refuses_gets_the_full_backoff(
    refusing_server: Endpoint,
) -> None:
    """The probe only shortens waits for an unreachable server, or refusals would hammer."""
    recorder = TimedRecorder()
    backoff = Backoff(0.05, 1.0, rand=lambda: 1.0)
    async with running(refusing_server, fast_config(), recorder, connected=False, backoff=backoff):
        await wait_for(lambda: len(recorder.dropped_at) >= 4, message="four refusals")
    times = recorder.dropped_at
    delays = [s.retry_in for s in recorder.states if s.state is ConnectionState.DISCONNECTED]
    assert delays[:4] == [0.05, 0.1, 0.2, 0.4]
    assert times[3] - times[0] >= 0.05 + 0.1 + 0.2
    assert recorder.count(ConnectionState.CONNECTED) == 0


async def test_unreachable_server_is_retried_with_growing_delays() -> None:
    recorder = Recorder()
    endpoint = Endpoint("127.0.0.1", 9, plaintext=True)
    config = fast_config(backoff_initial=0.02, backoff_max=0.08)
    async with running(endpoint, config, recorder, connected=False) as (sub, task):
        await wait_for(lambda: recorder.count(ConnectionState.DISCONNECTED) >= 4)
        assert not task.done()
    delays = [s.retry_in for s in recorder.states if s.state is ConnectionState.DISCONNECTED]
    assert all(d is not None and 0.01 <= d <= 0.08 for d in delays)
    assert delays[3] is not None
    assert delays[3] >= 0.04
    assert recorder.states[0].state is ConnectionState.CONNECTING
    assert recorder.states[1].reason == "UNAVAILABLE"
    assert sub.stats.reconnects >= 3


async def test_durable_subscription_resumes_without_loss_or_duplicates(
    sandbox: SandboxServer,
) -> None:
    config = fast_config(client_id="c", durable_name="home", start=StartPosition.oldest())
    first = Recorder()
    async with running(sandbox, config, first) as (sub, _):
        await publish_voice(sandbox, 5)
        await first.wait_events(5)
        await wait_for(lambda: sub.stats.acked == 5)
    missed = await publish_voice(sandbox, 4, call_prefix="while-away")
    second = Recorder()
    async with running(sandbox, config, second):
        await second.wait_events(4)
        await publish_voice(sandbox, 1)
        await second.wait_events(5)
        await publish_voice(sandbox, 1, call_prefix="last")  # handled last: nothing else came
        await second.wait_events(6)
    assert first.sequences == [1, 2, 3, 4, 5]
    assert second.sequences[:4] == missed
    assert second.sequences == [6, 7, 8, 9, 10, 11]


async def test_durable_resume_redelivers_events_left_unhandled(sandbox: SandboxServer) -> None:
    block = asyncio.Event()

    async def stall_on_third(event: object) -> None:
        if getattr(event, "sequence", 0) == 3:
            await block.wait()

    config = fast_config(client_id="c", durable_name="home", ack_timeout=10.0, stop_timeout=0.2)
    first = Recorder(before=stall_on_third)
    async with running(sandbox, config, first) as (sub, _):
        await publish_voice(sandbox, 4)
        await wait_for(lambda: sub.stats.acked == 2)
    # The handler of #3 was cut off at stop: #3 and #4 were never acked.
    second = Recorder()
    async with running(sandbox, config, second):
        await second.wait_events(2)
        await publish_voice(sandbox, 1, call_prefix="last")  # handled last: nothing else came
        await second.wait_events(3)
    assert first.sequences == [1, 2]
    assert second.sequences == [3, 4, 5]


async def test_queue_members_share_the_events(sandbox: SandboxServer) -> None:
    config = fast_config(client_id="c", queue_name="workers", max_in_flight=2)
    one, two = Recorder(), Recorder()
    async with running(sandbox, config, one), running(sandbox, config, two):
        sequences = await publish_voice(sandbox, 40)
        await wait_for(lambda: len(one.events) + len(two.events) == 40, message="40 events")
        # Last events until each member handled one: each has then handled all it was sent.
        first_last = sequences[-1] + 1
        while not all(any(s >= first_last for s in r.sequences) for r in (one, two)):
            assert len(sequences) < 80, "a member gets no more events"
            sequences.extend(await publish_voice(sandbox, 1, call_prefix=f"last-{len(sequences)}"))
            await wait_for(
                lambda: len(one.events) + len(two.events) == len(sequences), message="last"
            )
    assert one.sequences
    assert two.sequences
    assert set(one.sequences).isdisjoint(two.sequences)
    assert sorted(one.sequences + two.sequences) == sequences


async def test_a_stall_is_detected_by_keepalive_and_recovered(sandbox: SandboxServer) -> None:
    recorder = Recorder()
    config = fast_config(keepalive_time=0.3, keepalive_timeout=0.3)
    async with running(sandbox, config, recorder):
        await publish_voice(sandbox, 1)
        await recorder.wait_events(1)
        sandbox.set_stalled(True)
        # The stream stays open through a stall: only the keepalive pings notice it.
        await wait_for(
            lambda: recorder.count(ConnectionState.DISCONNECTED) >= 1, 30, "stall detected"
        )
        await publish_voice(sandbox, 2)
        sandbox.set_stalled(False)
        await recorder.wait_events(3, timeout=30)
    assert recorder.sequences == [1, 2, 3]


async def test_killed_and_restarted_server_resumes_with_nothing_lost(
    sandbox_cli: SandboxLauncher, tmp_path: object
) -> None:
    from pathlib import Path

    state = Path(str(tmp_path)) / "sandbox.state"
    server = await sandbox_cli.start("--state", str(state))
    endpoint = Endpoint("127.0.0.1", server.grpc_port, plaintext=True)
    config = fast_config(
        client_id="c", durable_name="home", ack_timeout=1.0, backoff_initial=0.1, backoff_max=0.3
    )
    recorder = Recorder()

    async def post(count: int, prefix: str) -> list[int]:
        import aiohttp

        from .samples import sample_json

        items = []
        for index in range(count):
            item = sample_json("voice")
            item["event"]["voiceEvent"]["callId"] = f"{prefix}-{index}"
            items.append(item)
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{server.http_url}/events", json=items) as response,
        ):
            assert response.status == 200
            return list((await response.json())["sequences"])

    async with running(endpoint, config, recorder) as (sub, _):
        first = await post(3, "before")
        await recorder.wait_events(3)
        await wait_for(lambda: sub.stats.acked == 3)
        server.kill()
        await wait_for(lambda: recorder.count(ConnectionState.DISCONNECTED) >= 1)
        server = await sandbox_cli.start(
            "--state", str(state), grpc_port=server.grpc_port, http_port=server.http_port
        )
        second = await post(3, "after")
        await recorder.wait_events(6, timeout=30)
        last = await post(1, "last")  # handled last: nothing else came
        await recorder.wait_events(7, timeout=30)
    assert recorder.sequences == first + second + last
    assert [e.sequence for e in recorder.events] == [1, 2, 3, 4, 5, 6, 7]


async def test_two_types_reconnect_keeps_both(make_sandbox: MakeSandbox) -> None:
    server = await make_sandbox()
    recorder = Recorder()
    config = fast_config(EventType.VOICE_EVENT, EventType.SMS_EVENT)
    async with running(server, config, recorder):
        from .helpers import publish

        await publish(server, "voice", "sms")
        await recorder.wait_events(2)
        server.end_streams(grpc.StatusCode.UNAVAILABLE)
        await wait_for(lambda: recorder.count(ConnectionState.CONNECTED) == 2)
        await publish(server, "sms_binary", "voice")
        await recorder.wait_events(4)
    assert [e.kind for e in recorder.events] == ["voice", "sms", "sms", "voice"]


async def test_plain_subscription_resumes_at_the_first_unhandled_event(
    sandbox: SandboxServer,
) -> None:
    recorder = Recorder(fail=lambda event, count: event.sequence == 2 and count == 1)
    async with running(sandbox, fast_config(ack_timeout=30.0), recorder) as (sub, _):
        await publish_voice(sandbox, 3)
        await wait_for(lambda: sub.stats.acked == 2 and sub.stats.handler_failures == 1)
        sandbox.end_streams(grpc.StatusCode.UNAVAILABLE)  # #2 would come back in 30 s only
        await recorder.wait_events(3)
        # The resume sends #3 again before #4: once #4 is handled, #3 was dropped.
        await publish_voice(sandbox, 1, call_prefix="last")
        await recorder.wait_events(4)
    assert recorder.sequences == [1, 3, 2, 4]
    assert recorder.calls == {1: 1, 2: 2, 3: 1, 4: 1}
    assert sub.stats.duplicates_dropped == 1  # #3 came again with the resume and was dropped
