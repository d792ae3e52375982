"""stop(): nothing left behind, whatever the loop was doing."""

from __future__ import annotations

import asyncio

import pytest

from custom_components.wgtwo.client import (
    ConnectionState,
    Endpoint,
    EventSubscription,
    WgtwoEvent,
)
from wgtwo_sandbox import SandboxServer

from .helpers import Recorder, endpoint_of, fast_config, publish_voice, wait_for


async def test_stop_before_run_and_twice(sandbox: SandboxServer) -> None:
    subscription = EventSubscription(endpoint_of(sandbox), fast_config(), Recorder())
    await subscription.stop()
    await subscription.stop()
    assert subscription.status.state is ConnectionState.DISCONNECTED


async def test_run_twice_at_once_is_refused(sandbox: SandboxServer) -> None:
    subscription = EventSubscription(endpoint_of(sandbox), fast_config(), Recorder())
    task = asyncio.create_task(subscription.run())
    await wait_for(lambda: subscription.status.state is ConnectionState.CONNECTED)
    with pytest.raises(RuntimeError, match="already running"):
        await subscription.run()
    await subscription.stop()
    await subscription.stop()
    await task
    assert task.result() is None


async def test_stop_while_idle_returns_quickly_and_run_returns_normally(
    sandbox: SandboxServer,
) -> None:
    """No handler running: stop() does not wait out the time a handler gets (60 s here)."""
    config = fast_config(stop_timeout=60.0)
    subscription = EventSubscription(endpoint_of(sandbox), config, Recorder())
    task = asyncio.create_task(subscription.run())
    await wait_for(lambda: subscription.status.state is ConnectionState.CONNECTED)
    await asyncio.wait_for(subscription.stop(), 30)
    assert task.done()
    assert not task.cancelled()
    await wait_for(lambda: sandbox.stats["open_streams"] == 0, message="stream closed")


async def test_stop_while_waiting_to_retry(sandbox: SandboxServer) -> None:
    recorder = Recorder()
    config = fast_config(backoff_initial=30.0, backoff_max=60.0)
    subscription = EventSubscription(
        Endpoint("127.0.0.1", 9, plaintext=True), config, recorder, on_state=recorder.on_state
    )
    task = asyncio.create_task(subscription.run())
    await wait_for(lambda: recorder.count(ConnectionState.DISCONNECTED) == 1)
    await subscription.stop()
    assert task.done()


async def test_stop_lets_the_running_handler_finish_and_acks_it(sandbox: SandboxServer) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(_event: WgtwoEvent) -> None:
        started.set()
        await release.wait()

    recorder = Recorder(before=slow)
    config = fast_config(stop_timeout=60.0)
    subscription = EventSubscription(endpoint_of(sandbox), config, recorder)
    task = asyncio.create_task(subscription.run())
    await wait_for(lambda: subscription.status.state is ConnectionState.CONNECTED)
    await publish_voice(sandbox, 1)
    await started.wait()
    stopping = asyncio.create_task(subscription.stop())
    await asyncio.sleep(0)  # stop() has begun while the handler still runs
    release.set()
    await asyncio.wait_for(stopping, 30)
    assert task.done()
    assert recorder.sequences == [1]
    assert subscription.stats.acked == 1
    assert sandbox.stats["acks"] == 1


async def test_stop_cancels_a_handler_that_hangs(sandbox: SandboxServer) -> None:
    started = asyncio.Event()

    async def hang(_event: WgtwoEvent) -> None:
        started.set()
        await asyncio.Event().wait()

    recorder = Recorder(before=hang)
    subscription = EventSubscription(endpoint_of(sandbox), fast_config(stop_timeout=0.1), recorder)
    task = asyncio.create_task(subscription.run())
    await wait_for(lambda: subscription.status.state is ConnectionState.CONNECTED)
    await publish_voice(sandbox, 1)
    await started.wait()
    await subscription.stop()
    assert task.done()
    assert not task.cancelled()
    assert sandbox.stats["acks"] == 0


async def test_stop_from_inside_the_handler(sandbox: SandboxServer) -> None:
    subscription: EventSubscription

    async def stop_now(_event: WgtwoEvent) -> None:
        await subscription.stop()

    recorder = Recorder(before=stop_now)
    subscription = EventSubscription(endpoint_of(sandbox), fast_config(), recorder)
    task = asyncio.create_task(subscription.run())
    await wait_for(lambda: subscription.status.state is ConnectionState.CONNECTED)
    await publish_voice(sandbox, 2)
    await asyncio.wait_for(task, 30)
    assert recorder.sequences == [1]


async def test_cancelling_the_runner_from_outside_still_cleans_up(
    sandbox: SandboxServer,
) -> None:
    subscription = EventSubscription(endpoint_of(sandbox), fast_config(), Recorder())
    task = asyncio.create_task(subscription.run())
    await wait_for(lambda: subscription.status.state is ConnectionState.CONNECTED)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_for(lambda: sandbox.stats["open_streams"] == 0, message="stream closed")
    await subscription.stop()


async def test_run_again_after_stop(sandbox: SandboxServer) -> None:
    recorder = Recorder()
    subscription = EventSubscription(endpoint_of(sandbox), fast_config(), recorder)
    for round_ in range(2):
        task = asyncio.create_task(subscription.run())
        await wait_for(lambda: subscription.status.state is ConnectionState.CONNECTED)
        await publish_voice(sandbox, 1, call_prefix=f"round-{round_}")
        await recorder.wait_events(round_ + 1)
        await subscription.stop()
        await task
