"""The one-shot subscription check used before saving a configuration."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from custom_components.wgtwo.client import (
    AuthenticationError,
    CannotConnectError,
    Endpoint,
    EventType,
    MissingScopeError,
    TokenProvider,
    async_check_subscription,
    scopes_for,
)
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox
from wgtwo_sandbox import SandboxServer

from .conftest import FakeResponse
from .helpers import endpoint_of, wait_for

TYPES = (EventType.VOICE_EVENT, EventType.SMS_EVENT)


def provider_for(
    server: SandboxServer,
    session: aiohttp.ClientSession,
    *,
    secret: str = TEST_CLIENT_SECRET,
    scopes: frozenset[str] | None = None,
) -> TokenProvider:
    return TokenProvider(
        session,
        TEST_CLIENT_ID,
        secret,
        scopes_for(TYPES) if scopes is None else scopes,
        token_url=server.token_url,
    )


async def test_valid_settings_pass_quickly(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    # Accepted: the check returns then, not when its minute is up.
    async with asyncio.timeout(30):
        await async_check_subscription(
            endpoint_of(auth_sandbox), TYPES, provider_for(auth_sandbox, session), timeout=60
        )
    assert auth_sandbox.stats["streams_opened"] == 1
    await wait_for(lambda: auth_sandbox.stats["open_streams"] == 0, message="stream closed")


async def test_without_auth(sandbox: SandboxServer) -> None:
    await async_check_subscription(endpoint_of(sandbox), ["VOICE_EVENT"], None, timeout=5)


async def test_bad_credentials(auth_sandbox: SandboxServer, session: aiohttp.ClientSession) -> None:
    provider = provider_for(auth_sandbox, session, secret="nope")
    with pytest.raises(AuthenticationError):
        await async_check_subscription(endpoint_of(auth_sandbox), TYPES, provider, timeout=5)
    assert auth_sandbox.stats["streams_opened"] == 0


async def test_missing_scope_at_the_token_endpoint(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession
) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_CLIENT_SECRET,
        granted_scopes={"events.voice.subscribe"},
    )
    with pytest.raises(MissingScopeError) as info:
        await async_check_subscription(
            endpoint_of(server), TYPES, provider_for(server, session), timeout=5
        )
    assert info.value.missing_scopes == {"events.sms.subscribe"}


async def test_missing_scope_on_the_stream(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    provider = provider_for(auth_sandbox, session, scopes=frozenset({"events.voice.subscribe"}))
    with pytest.raises(MissingScopeError) as info:
        await async_check_subscription(endpoint_of(auth_sandbox), TYPES, provider, timeout=5)
    assert info.value.missing_scopes == {"events.sms.subscribe"}
    assert info.value.event_types == {EventType.SMS_EVENT}


async def test_token_rejected_twice(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession
) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID, client_secret=TEST_CLIENT_SECRET, token_ttl=0.0
    )
    provider = provider_for(server, session)
    with pytest.raises(AuthenticationError):
        await async_check_subscription(endpoint_of(server), TYPES, provider, timeout=5)
    assert provider.requests == 2


async def test_no_token_for_a_server_that_wants_one(auth_sandbox: SandboxServer) -> None:
    with pytest.raises(AuthenticationError):
        await async_check_subscription(endpoint_of(auth_sandbox), TYPES, None, timeout=5)


async def test_unreachable_host_fails_at_once() -> None:
    # The first failed attempt ends the check, long before its minute is up.
    with pytest.raises(CannotConnectError, match="connection failed"):
        async with asyncio.timeout(30):
            await async_check_subscription(
                Endpoint("127.0.0.1", 9, plaintext=True), TYPES, None, timeout=60
            )


async def test_stalled_server_is_cannot_connect(sandbox: SandboxServer) -> None:
    sandbox.set_stalled(True)
    with pytest.raises(CannotConnectError, match=r"timeout|connection failed"):
        await async_check_subscription(endpoint_of(sandbox), TYPES, None, timeout=0.5)


async def test_unreachable_token_endpoint(
    sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    provider = TokenProvider(
        session, "id", "secret", scopes_for(TYPES), token_url="http://127.0.0.1:9/oauth2/token"
    )
    with pytest.raises(CannotConnectError):
        await async_check_subscription(endpoint_of(sandbox), TYPES, provider, timeout=2)


async def test_token_endpoint_that_hangs(
    sandbox: SandboxServer,
    session: aiohttp.ClientSession,
    fake_token_endpoint: Callable[[FakeResponse], Awaitable[str]],
) -> None:
    release = asyncio.Event()

    async def hang(_request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.json_response({"access_token": "late"})

    url = await fake_token_endpoint(hang)
    provider = TokenProvider(session, "id", "secret", scopes_for(TYPES), token_url=url)
    try:
        with pytest.raises(CannotConnectError, match="in time"):
            await async_check_subscription(endpoint_of(sandbox), TYPES, provider, timeout=0.3)
    finally:
        release.set()
