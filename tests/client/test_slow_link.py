"""A far-away server: a link with a 1 s round trip must still connect on the first try."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from custom_components.wgtwo.client import (
    ConnectionState,
    Endpoint,
    EventType,
    StartPosition,
    SubscriptionConfig,
    async_check_subscription,
)
from tests.sandbox_fixtures import MakeSandbox
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.relay import DelayRelay

from .helpers import Recorder, publish_voice, running, wait_for

ONE_WAY = 0.5


@pytest.fixture
async def slow_link(make_sandbox: MakeSandbox) -> AsyncIterator[tuple[SandboxServer, Endpoint]]:
    """A sandbox reached through a relay that delays each direction by ``ONE_WAY``."""
    server = await make_sandbox(stall_relay=False)
    relay = DelayRelay(server.grpc_port, ONE_WAY)
    await relay.start()
    try:
        yield server, Endpoint("127.0.0.1", relay.port, plaintext=True)
    finally:
        await relay.stop()


async def test_check_passes_over_a_slow_link(
    slow_link: tuple[SandboxServer, Endpoint],
) -> None:
    _server, endpoint = slow_link
    # The check fails at the first failed connection attempt: passing is the first try.
    await async_check_subscription(endpoint, [EventType.VOICE_EVENT], None, timeout=30)


async def test_first_event_and_a_retry_over_a_slow_link(
    slow_link: tuple[SandboxServer, Endpoint],
) -> None:
    server, endpoint = slow_link
    await publish_voice(server, 1)
    config = SubscriptionConfig(
        event_types=(EventType.VOICE_EVENT,), manual_ack=False, start=StartPosition.oldest()
    )
    recorder = Recorder()
    async with running(endpoint, config, recorder, connected=False) as (sub, _):
        await recorder.wait_events(1, timeout=30)
        # Connected on the first try: no attempt failed before.
        assert recorder.count(ConnectionState.DISCONNECTED) == 0
        server.end_streams(grpc.StatusCode.UNAVAILABLE)
        await wait_for(lambda: recorder.count(ConnectionState.DISCONNECTED) == 1, 30)
        retry_in = sub.status.retry_in
        assert retry_in is not None
        assert retry_in <= config.backoff_initial
        await wait_for(lambda: recorder.count(ConnectionState.CONNECTED) == 2, 30, "back")
        # Back on the first retry.
        assert recorder.count(ConnectionState.DISCONNECTED) == 1
