"""Fixtures for client tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

FakeResponse = Callable[[web.Request], Awaitable[web.StreamResponse] | web.StreamResponse]


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """Client tests talk to the sandbox over 127.0.0.1 (other hosts stay blocked)."""


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session closed at teardown."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
async def fake_token_endpoint() -> AsyncIterator[Callable[[FakeResponse], Awaitable[str]]]:
    """Start token endpoints answering whatever a test wants (server misbehaviour)."""
    runners: list[web.AppRunner] = []

    async def start(answer: FakeResponse) -> str:
        async def handle(request: web.Request) -> web.StreamResponse:
            result = answer(request)
            if isinstance(result, web.StreamResponse):
                return result
            return await result

        app = web.Application()
        app.router.add_post("/oauth2/token", handle)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/oauth2/token"

    yield start
    for runner in runners:
        await runner.cleanup()
