"""scripts/develop's demo: once each cycle has played, the counts it raised are reset."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web

from tools.develop import reset_counts_each_cycle

BUTTONS = [
    "button.alice_mark_voicemail_heard",
    "button.alice_reset_missed_calls",
    "button.bob_mark_voicemail_heard",
    "button.bob_reset_missed_calls",
]


class FakeInstance:
    """Home Assistant's REST API and the sandbox's stats, as far as the demo uses them."""

    def __init__(self) -> None:
        self.cycles = 0
        self.polls = 0
        self.presses: list[list[str]] = []
        self.valid_token = "fresh"

    async def stats(self, _request: web.Request) -> web.Response:
        self.polls += 1
        return web.json_response({"published": 9, "scenario_cycles": self.cycles})

    def _check(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.valid_token}":
            raise web.HTTPUnauthorized

    async def template(self, request: web.Request) -> web.Response:
        self._check(request)
        assert "integration_entities('wgtwo')" in (await request.json())["template"]
        return web.Response(text=json.dumps(BUTTONS))

    async def press(self, request: web.Request) -> web.Response:
        self._check(request)
        self.presses.append((await request.json())["entity_id"])
        return web.json_response([])


@pytest.fixture
async def instance(socket_enabled: None) -> AsyncIterator[tuple[FakeInstance, str]]:
    fake = FakeInstance()
    app = web.Application()
    app.router.add_get("/control/stats", fake.stats)
    app.router.add_post("/api/template", fake.template)
    app.router.add_post("/api/services/button/press", fake.press)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110 - polling state owned by the fake
            await asyncio.sleep(0.01)


async def test_each_cycle_ends_with_the_buttons_a_user_would_press(
    instance: tuple[FakeInstance, str],
) -> None:
    fake, url = instance
    tokens = iter(["stale", "fresh"])
    logins: list[str] = []

    async def login() -> str:
        logins.append(next(tokens))
        return logins[-1]

    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(reset_counts_each_cycle(session, url, url, login, poll=0.01))
        try:
            # The first cycle is still playing: nothing is pressed.
            await until(lambda: fake.polls >= 3)
            assert fake.presses == []
            # It has played: every subscriber's two buttons, once (the expired login renewed).
            fake.cycles = 1
            await until(lambda: len(fake.presses) == 1)
            assert fake.presses == [BUTTONS]
            assert logins == ["stale", "fresh"]
            polls = fake.polls
            await until(lambda: fake.polls >= polls + 3)
            assert len(fake.presses) == 1
            # The next cycle: pressed again.
            fake.cycles = 2
            await until(lambda: len(fake.presses) == 2)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
