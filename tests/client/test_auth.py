"""Tokens from the sandbox's token endpoint, and how auth failures surface in the loop."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import aiohttp
import grpc
import pytest
from aiohttp import web

from custom_components.wgtwo.client import (
    AuthenticationError,
    CannotConnectError,
    ConnectionState,
    Endpoint,
    EventType,
    InvalidEndpointError,
    MissingScopeError,
    TokenProvider,
    scopes_for,
)
from custom_components.wgtwo.client.auth import MAX_CREDENTIAL_LENGTH, basic_authorization
from custom_components.wgtwo.client.endpoint import normalize_target
from custom_components.wgtwo.client.errors import TokenRequestError
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox
from wgtwo_sandbox import SandboxServer

from .conftest import FakeResponse
from .helpers import Recorder, fast_config, publish_voice, running, wait_for

VOICE_SCOPES = scopes_for([EventType.VOICE_EVENT])


def provider_for(
    server: SandboxServer,
    session: aiohttp.ClientSession,
    scopes: frozenset[str] = VOICE_SCOPES,
    secret: str = TEST_CLIENT_SECRET,
    **kwargs: Any,
) -> TokenProvider:
    return TokenProvider(
        session, TEST_CLIENT_ID, secret, scopes, token_url=server.token_url, **kwargs
    )


async def test_token_is_fetched_once_and_shared(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    provider = provider_for(auth_sandbox, session)
    tokens = await asyncio.gather(*(provider.get_token() for _ in range(10)))
    assert len(set(tokens)) == 1
    assert await provider.get_token() == tokens[0]
    assert provider.requests == 1
    assert auth_sandbox.stats["tokens_issued"] == 1
    assert provider.scopes == VOICE_SCOPES
    assert provider.token_url == auth_sandbox.token_url


async def test_concurrent_forced_refreshes_make_one_request(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    provider = provider_for(auth_sandbox, session)
    first = await provider.get_token()
    refreshed = await asyncio.gather(*(provider.get_token(force_refresh=True) for _ in range(5)))
    assert len(set(refreshed)) == 1
    assert refreshed[0] != first
    assert provider.requests == 2


async def test_token_is_refreshed_ahead_of_expiry(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession
) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID, client_secret=TEST_CLIENT_SECRET, token_ttl=0.4
    )
    provider = provider_for(server, session, refresh_margin=90.0)
    first = await provider.get_token()
    assert provider.token_if_fresh() == first
    await asyncio.sleep(0.25)  # past half the lifetime: due for refresh, not yet expired
    assert provider.token_if_fresh() is None
    assert await provider.get_token() != first
    provider.invalidate()
    assert provider.token_if_fresh() is None
    await provider.get_token()
    assert provider.requests == 3


async def test_bad_credentials_raise_authentication_error(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    provider = provider_for(auth_sandbox, session, secret="wrong")
    with pytest.raises(AuthenticationError, match="invalid_client"):
        await provider.get_token()


async def test_ungranted_scope_names_the_missing_scopes(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession
) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_CLIENT_SECRET,
        granted_scopes={"events.voice.subscribe"},
    )
    wanted = scopes_for([EventType.VOICE_EVENT, EventType.SMS_EVENT, EventType.VOICEMAIL_EVENT])
    provider = provider_for(server, session, scopes=wanted)
    with pytest.raises(MissingScopeError) as info:
        await provider.get_token()
    assert info.value.missing_scopes == {"events.sms.subscribe", "events.voicemail.subscribe"}


def test_token_url_must_be_https_for_remote_hosts(session: aiohttp.ClientSession) -> None:
    with pytest.raises(InvalidEndpointError):
        TokenProvider(session, "id", "secret", (), token_url="http://id.example.com/token")


@pytest.mark.parametrize(
    ("answer", "error", "match"),
    [
        (lambda _r: web.Response(status=503, text="busy"), CannotConnectError, "HTTP 503"),
        (lambda _r: web.Response(status=429), CannotConnectError, "HTTP 429"),
        (lambda _r: web.Response(status=200, text="not json"), CannotConnectError, "no access"),
        (lambda _r: web.json_response({"token_type": "bearer"}), CannotConnectError, "no access"),
        (
            lambda _r: web.json_response({"error": "invalid_request"}, status=400),
            TokenRequestError,
            "invalid_request",
        ),
        # What an aiohttp server answers to a 10 kB Authorization header.
        (
            lambda _r: web.Response(status=400, text="Got more than 8190 bytes"),
            TokenRequestError,
            "HTTP 400",
        ),
        (lambda _r: web.Response(status=404), TokenRequestError, "HTTP 404"),
        (lambda _r: web.Response(status=405), TokenRequestError, "HTTP 405"),
        (lambda _r: web.Response(status=413), TokenRequestError, "HTTP 413"),
        (lambda _r: web.Response(status=431), TokenRequestError, "HTTP 431"),
        (
            lambda _r: web.json_response({"error": "unsupported_grant_type"}, status=400),
            TokenRequestError,
            "unsupported_grant_type",
        ),
        # An error code that is not a short printable string is not repeated.
        (lambda _r: web.json_response({"error": ["x"]}, status=400), TokenRequestError, "HTTP 400"),
        (
            lambda _r: web.json_response({"error": "a\nb"}, status=422),
            TokenRequestError,
            "HTTP 422",
        ),
        (lambda _r: web.Response(status=401), AuthenticationError, "401"),
        (lambda _r: web.Response(status=403), AuthenticationError, "403"),
        (
            lambda _r: web.json_response({"error": "invalid_client"}, status=400),
            AuthenticationError,
            "invalid_client",
        ),
        (
            lambda _r: web.json_response({"error": "unauthorized_client"}, status=400),
            AuthenticationError,
            "unauthorized_client",
        ),
        (
            lambda _r: web.json_response({"error": "invalid_scope"}, status=400),
            MissingScopeError,
            "events.voice.subscribe",
        ),
    ],
)
async def test_token_endpoint_answers_map_to_typed_errors(
    fake_token_endpoint: Callable[[FakeResponse], Any],
    session: aiohttp.ClientSession,
    answer: FakeResponse,
    error: type[Exception],
    match: str,
) -> None:
    url = await fake_token_endpoint(answer)
    provider = TokenProvider(session, "id", "secret", VOICE_SCOPES, token_url=url)
    with pytest.raises(error, match=match) as info:
        await provider.get_token()
    if isinstance(info.value, TokenRequestError):
        assert 400 <= info.value.status < 500


async def test_token_request_error_names_status_and_code(
    fake_token_endpoint: Callable[[FakeResponse], Any], session: aiohttp.ClientSession
) -> None:
    url = await fake_token_endpoint(lambda _r: web.json_response({"error": "x" * 500}, status=400))
    provider = TokenProvider(session, "id", "secret", VOICE_SCOPES, token_url=url)
    with pytest.raises(TokenRequestError) as info:
        await provider.get_token()
    assert info.value.status == 400
    assert info.value.error == "x" * 64
    assert len(str(info.value)) < 100


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("x" * (MAX_CREDENTIAL_LENGTH + 1), "the-secret"), ("product-42", "s" * 10_000)],
    ids=["long client id", "long secret"],
)
async def test_absurd_credentials_are_refused_without_a_request(
    fake_token_endpoint: Callable[[FakeResponse], Any],
    session: aiohttp.ClientSession,
    client_id: str,
    secret: str,
) -> None:
    seen: list[web.Request] = []

    def answer(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        return web.json_response({"access_token": "tok"})

    url = await fake_token_endpoint(answer)
    provider = TokenProvider(session, client_id, secret, VOICE_SCOPES, token_url=url)
    with pytest.raises(AuthenticationError, match="longer than") as info:
        await provider.get_token()
    assert secret not in str(info.value)
    assert client_id not in str(info.value)
    assert provider.requests == 0
    assert seen == []

    # The longest accepted values are sent.
    longest = "x" * MAX_CREDENTIAL_LENGTH
    provider = TokenProvider(session, longest, longest, VOICE_SCOPES, token_url=url)
    assert await provider.get_token() == "tok"
    assert len(seen) == 1


async def test_basic_auth_form_and_odd_expiry(
    fake_token_endpoint: Callable[[FakeResponse], Any], session: aiohttp.ClientSession
) -> None:
    seen: dict[str, str] = {}

    def answer(request: web.Request) -> web.StreamResponse:
        seen["authorization"] = request.headers.get("Authorization", "")
        return web.json_response(
            {"access_token": "tok", "token_type": "bearer", "expires_in": "soon"}
        )

    url = await fake_token_endpoint(answer)
    provider = TokenProvider(session, "id", "s3cret", frozenset(), token_url=url)
    assert (
        basic_authorization("a:b", "ü x")
        == "Basic " + base64.b64encode(b"a%3Ab:%C3%BC%20x").decode()
    )
    assert await provider.get_token() == "tok"
    assert seen["authorization"] == "Basic " + base64.b64encode(b"id:s3cret").decode()
    assert provider.token_if_fresh() == "tok"  # an unreadable expiry counts as one hour


async def test_unreachable_token_endpoint_is_cannot_connect(
    session: aiohttp.ClientSession,
) -> None:
    provider = TokenProvider(
        session, "id", "secret", VOICE_SCOPES, token_url="http://127.0.0.1:9/oauth2/token"
    )
    with pytest.raises(CannotConnectError, match="unreachable"):
        await provider.get_token()


# -- the subscription loop with auth ------------------------------------------------------


async def test_subscription_with_token_receives_events(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    provider = provider_for(auth_sandbox, session)
    recorder = Recorder()
    async with running(auth_sandbox, fast_config(), recorder, token_provider=provider):
        await publish_voice(auth_sandbox, 2)
        await recorder.wait_events(2)
        await wait_for(lambda: auth_sandbox.stats["acks"] == 2)


async def test_token_expiry_mid_stream_is_survived(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    provider = provider_for(auth_sandbox, session)
    recorder = Recorder()
    async with running(auth_sandbox, fast_config(), recorder, token_provider=provider) as (
        sub,
        task,
    ):
        await publish_voice(auth_sandbox, 1)
        await wait_for(lambda: auth_sandbox.stats["acks"] == 1)
        auth_sandbox.expire_tokens()
        await publish_voice(auth_sandbox, 2)  # acks now need a new token
        await wait_for(lambda: auth_sandbox.stats["acks"] == 3, message="acks with new token")
        auth_sandbox.expire_tokens()
        auth_sandbox.end_streams(grpc.StatusCode.UNAVAILABLE)  # reconnect needs a new token
        await wait_for(lambda: recorder.count(ConnectionState.CONNECTED) == 2)
        await publish_voice(auth_sandbox, 1)
        await wait_for(lambda: auth_sandbox.stats["acks"] == 4)
        assert not task.done()
    assert recorder.sequences == [1, 2, 3, 4]
    assert sub.stats.ack_failures == 0
    assert provider.requests == 3


async def test_revoked_token_is_replaced_once_on_reconnect(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    provider = provider_for(auth_sandbox, session)
    recorder = Recorder()
    async with running(auth_sandbox, fast_config(), recorder, token_provider=provider):
        auth_sandbox.revoke_tokens()  # the cached token still looks fresh to the client
        auth_sandbox.end_streams(grpc.StatusCode.UNAVAILABLE)
        await wait_for(lambda: recorder.count(ConnectionState.CONNECTED) == 2)
    assert provider.requests == 2
    assert auth_sandbox.stats["streams_opened"] == 2


async def test_bad_credentials_stop_the_loop_without_a_retry_storm(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    provider = provider_for(auth_sandbox, session, secret="wrong")
    recorder = Recorder()
    async with running(
        auth_sandbox, fast_config(), recorder, token_provider=provider, connected=False
    ) as (_sub, task):
        with pytest.raises(AuthenticationError):
            await asyncio.wait_for(task, 30)
        await asyncio.sleep(0.2)
    assert provider.requests == 1
    assert auth_sandbox.stats["streams_opened"] == 0
    assert recorder.states[-1].state is ConnectionState.FAILED
    assert isinstance(recorder.states[-1].error, AuthenticationError)


async def test_tokens_that_keep_being_rejected_stop_the_loop(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession
) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID, client_secret=TEST_CLIENT_SECRET, token_ttl=0.0
    )
    provider = provider_for(server, session)
    recorder = Recorder()
    async with running(
        server, fast_config(), recorder, token_provider=provider, connected=False
    ) as (
        _sub,
        task,
    ):
        with pytest.raises(AuthenticationError, match="freshly issued"):
            await asyncio.wait_for(task, 30)
    assert provider.requests == 2
    assert recorder.count(ConnectionState.DISCONNECTED) == 0


async def test_no_token_for_a_server_that_wants_one_is_an_auth_error(
    auth_sandbox: SandboxServer,
) -> None:
    recorder = Recorder()
    async with running(auth_sandbox, fast_config(), recorder, connected=False) as (_sub, task):
        with pytest.raises(AuthenticationError, match="requires authentication"):
            await asyncio.wait_for(task, 30)


async def test_missing_scope_at_the_token_endpoint_stops_the_loop(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession
) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_CLIENT_SECRET,
        granted_scopes={"events.voice.subscribe"},
    )
    types = (EventType.VOICE_EVENT, EventType.SMS_EVENT)
    provider = provider_for(server, session, scopes=scopes_for(types))
    recorder = Recorder()
    async with running(
        server, fast_config(*types), recorder, token_provider=provider, connected=False
    ) as (_sub, task):
        with pytest.raises(MissingScopeError) as info:
            await asyncio.wait_for(task, 30)
    assert info.value.missing_scopes == {"events.sms.subscribe"}
    assert provider.requests == 1
    assert server.stats["streams_opened"] == 0


async def test_permission_denied_names_the_event_types_lacking_a_grant(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    # The token only carries the voice scope, but SMS is requested too.
    provider = provider_for(auth_sandbox, session, scopes=VOICE_SCOPES)
    types = (EventType.VOICE_EVENT, EventType.SMS_EVENT)
    recorder = Recorder()
    async with running(
        auth_sandbox, fast_config(*types), recorder, token_provider=provider, connected=False
    ) as (_sub, task):
        with pytest.raises(MissingScopeError) as info:
            await asyncio.wait_for(task, 30)
    assert info.value.missing_scopes == {"events.sms.subscribe"}
    assert info.value.event_types == {EventType.SMS_EVENT}
    assert "SMS_EVENT" in str(info.value)
    assert provider.requests == 1
    assert recorder.states[-1].state is ConnectionState.FAILED


async def test_unreachable_token_endpoint_is_retried(session: aiohttp.ClientSession) -> None:
    provider = TokenProvider(
        session, "id", "secret", VOICE_SCOPES, token_url="http://127.0.0.1:9/oauth2/token"
    )
    recorder = Recorder()
    endpoint = Endpoint("127.0.0.1", 9, plaintext=True)
    async with running(
        endpoint, fast_config(), recorder, token_provider=provider, connected=False
    ) as (_sub, task):
        await wait_for(lambda: recorder.count(ConnectionState.DISCONNECTED) >= 2)
        assert not task.done()
    assert "token endpoint unreachable" in (recorder.states[1].reason or "")
    assert provider.requests >= 2


async def test_unauthenticated_mid_stream_reconnects_with_a_new_token(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    provider = provider_for(auth_sandbox, session)
    recorder = Recorder()
    async with running(auth_sandbox, fast_config(), recorder, token_provider=provider) as (
        _sub,
        task,
    ):
        auth_sandbox.end_streams(grpc.StatusCode.UNAUTHENTICATED, "session expired")
        await wait_for(lambda: recorder.count(ConnectionState.CONNECTED) == 2)
        assert not task.done()
    disconnected = [s for s in recorder.states if s.state is ConnectionState.DISCONNECTED]
    assert [s.reason for s in disconnected] == ["token rejected"]
    assert provider.requests == 2


async def test_credentials_with_reserved_characters_are_accepted(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession
) -> None:
    client_id, secret = "product:42", "s3cr+t /=:%é"
    server = await make_sandbox(client_id=client_id, client_secret=secret)
    provider = TokenProvider(session, client_id, secret, VOICE_SCOPES, token_url=server.token_url)
    assert await provider.get_token()
    wrong = TokenProvider(
        session, client_id, "s3cr t /=:%é", VOICE_SCOPES, token_url=server.token_url
    )
    with pytest.raises(AuthenticationError):
        await wrong.get_token()


# -- server identity (unique ids of custom servers) ---------------------------------------


@pytest.mark.parametrize(
    ("target", "identity"),
    [
        ("localhost:50051", "127.0.0.1:50051"),
        ("LOCALHOST:50051", "127.0.0.1:50051"),
        ("localhost.:50051", "127.0.0.1:50051"),
        ("127.0.0.1:050051", "127.0.0.1:50051"),
        ("[::1]:50051", "127.0.0.1:50051"),
        ("::1", "127.0.0.1:443"),
        ("[::ffff:127.0.0.1]:50051", "127.0.0.1:50051"),
        (" 127.0.0.1:50051 ", "127.0.0.1:50051"),
        ("127.0.0.2:50051", "127.0.0.2:50051"),
        ("Example.COM", "example.com:443"),
        ("example.com.:443", "example.com:443"),
        ("bücher.example:8443", "xn--bcher-kva.example:8443"),
        ("xn--bcher-kva.example:8443", "xn--bcher-kva.example:8443"),
        ("[2001:DB8:0::1]:443", "[2001:db8::1]:443"),
        ("2001:db8::1", "[2001:db8::1]:443"),
        ("[2001:db8::1]", "[2001:db8::1]:443"),
        ("wgtwo_sandbox:50051", "wgtwo_sandbox:50051"),
    ],
)
def test_every_spelling_of_a_server_has_one_identity(target: str, identity: str) -> None:
    assert normalize_target(target) == identity


@pytest.mark.parametrize(
    "target",
    [
        "",
        "   ",
        "bad host",
        "example.com:notaport",
        "example.com:",
        "example.com:+443",
        "example.com:0",
        "example.com:65536",
        # int() reads these digits as 50051; the name must be ASCII digits only.
        "127.0.0.1:\uff15\uff10\uff10\uff15\uff11",
        "127.0.0.1:\u0665\u0660\u0660\u0665\u0661",
        "\uff11\uff12\uff17.0.0.1:50051",
        "127.0.0.01:50051",
        "999.1.1.1",
        "host\uff1a50051",
        "a..b",
        "bücher..example",
        "ü" * 70 + ".example",
        ".",
        "-a.example",
        "a-.example",
        "a" * 64 + ".example",
        ("a" * 60 + ".") * 5 + "example",
        "x" * 10_000,
        "http://example.com",
        "user@example.com",
        "[::1",
        "[::1]x",
        "[::1]:",
        "[example.com]:443",
        "1:2:3",
    ],
)
def test_malformed_targets_have_no_identity(target: str) -> None:
    with pytest.raises(InvalidEndpointError):
        normalize_target(target)
