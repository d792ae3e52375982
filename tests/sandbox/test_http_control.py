"""The HTTP control endpoints the dev instance and other tools use."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import grpc
import pytest

from wgtwo_sandbox import SandboxServer

from .conftest import EXAMPLE, VOICE, Client, basic_auth, eventually, read, voice

Connect = Callable[..., Client]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    session: aiohttp.ClientSession, url: str, body: Any = None, raw: bytes | None = None
) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
    async with session.post(url, **kwargs) as response:
        return response.status, await response.json()


async def test_post_events_single_and_list(
    sandbox: SandboxServer, session: aiohttp.ClientSession, connect: Connect
) -> None:
    stream = await connect(sandbox).subscribe(type=[VOICE])
    status, body = await post(session, f"{sandbox.http_url}/events", EXAMPLE)
    assert (status, body) == (200, {"sequences": [1]})
    status, body = await post(session, f"{sandbox.http_url}/events", [voice("a"), voice("b")])
    assert (status, body) == (200, {"sequences": [2, 3]})
    first = await read(stream)
    assert first.event.voice_event.from_number.e164 == "+4799948352"
    assert [(await read(stream)).event.voice_event.call_id for _ in range(2)] == ["a", "b"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"voiceEvent": {}}', '{"event"'),
        (b'{"event": {"voiceEvent": {"nope": 1}}}', "not a SubscribeEventsResponse"),
        (b'{"event": {}}', "no payload"),
        (b"[1]", "JSON object"),
    ],
)
async def test_post_events_rejects_bad_bodies(
    sandbox: SandboxServer, session: aiohttp.ClientSession, raw: bytes, message: str
) -> None:
    status, body = await post(session, f"{sandbox.http_url}/events", raw=raw)
    assert status == 400
    assert message in body["error"]
    assert sandbox.stats["published"] == 0


async def test_end_streams_over_http(
    sandbox: SandboxServer, session: aiohttp.ClientSession, connect: Connect
) -> None:
    stream = await connect(sandbox).subscribe()
    url = f"{sandbox.http_url}/control/end-streams"
    status, body = await post(session, url, {"code": "RESOURCE_EXHAUSTED", "details": "busy"})
    assert (status, body) == (200, {"ended": 1})
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await read(stream)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert err.value.details() == "busy"
    assert (await post(session, url, {"code": "NOPE"}))[0] == 400
    assert (await post(session, url, ["UNAVAILABLE"]))[0] == 400
    async with session.post(url) as response:  # no body: UNAVAILABLE
        assert response.status == 200


async def test_stall_validation_and_toggle(
    sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    url = f"{sandbox.http_url}/control/stall"
    assert (await post(session, url, {"stalled": "yes"}))[0] == 400
    assert await post(session, url, {"stalled": True}) == (200, {"stalled": True})
    assert sandbox.stats["stalled"] is True
    assert await post(session, url, {"stalled": False}) == (200, {"stalled": False})
    assert sandbox.stats["stalled"] is False


async def test_token_controls_and_stats_over_http(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession, connect: Connect
) -> None:
    base = auth_sandbox.http_url
    async with session.post(
        auth_sandbox.token_url,
        data={"grant_type": "client_credentials", "scope": "events.voice.subscribe"},
        headers={"Authorization": basic_auth("test-client", "test-secret")},
    ) as response:
        value = (await response.json())["access_token"]
    metadata = (("authorization", f"Bearer {value}"),)
    client = connect(auth_sandbox)
    await client.subscribe(metadata=metadata)
    assert await post(session, f"{base}/control/expire-tokens") == (200, {"ok": True})
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await read(await client.subscribe(metadata=metadata))
    assert err.value.details() == "token expired"
    assert await post(session, f"{base}/control/revoke-tokens") == (200, {"ok": True})
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await read(await client.subscribe(metadata=metadata))
    assert err.value.details() == "token revoked"
    async with session.get(f"{base}/control/stats") as response:
        stats = await response.json()
    assert stats["tokens_issued"] == 1
    assert stats["streams_opened"] == 1
    await eventually(lambda: auth_sandbox.stats["open_streams"] == 1)
