"""A server that sends no headers until the first event (as some gRPC servers do)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from custom_components.wgtwo.client import (
    ConnectionState,
    Endpoint,
    EventType,
    async_check_subscription,
    stream,
)

from .helpers import Recorder, events_server, fast_config, running, wait_for


@pytest.fixture
def subscribed() -> asyncio.Event:
    """Set once the silent server received a Subscribe."""
    return asyncio.Event()


@pytest.fixture
async def silent_server(subscribed: asyncio.Event) -> AsyncIterator[Endpoint]:
    """EventsService whose Subscribe stays open without headers or events."""
    release = asyncio.Event()

    async def subscribe(_request: object, _context: object) -> None:
        subscribed.set()
        await release.wait()  # no context.write(): no headers either

    async with events_server(subscribe) as endpoint:
        try:
            yield endpoint
        finally:
            release.set()


async def test_open_stream_without_headers_counts_as_connected(
    silent_server: Endpoint, subscribed: asyncio.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Silent for 3 s (1 s in use): the check below has time to look before it counts.
    monkeypatch.setattr(stream, "_SILENT_ACCEPT_AFTER", 3.0)
    recorder = Recorder()
    async with running(silent_server, fast_config(), recorder, connected=False) as (sub, _):
        await asyncio.wait_for(subscribed.wait(), 30)
        assert recorder.count(ConnectionState.CONNECTED) == 0  # open, not yet counted
        await wait_for(lambda: recorder.count(ConnectionState.CONNECTED) == 1, 30)
        assert sub.stats.received == 0


async def test_check_accepts_a_silent_stream_after_the_timeout(silent_server: Endpoint) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await async_check_subscription(silent_server, [EventType.VOICE_EVENT], None, timeout=0.3)
    assert loop.time() - started >= 0.3
