"""The number lookup responder against the sandbox over loopback gRPC."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import pytest

from custom_components.wgtwo.client import (
    AuthenticationError,
    ConnectionState,
    ConnectionStatus,
    Endpoint,
    MissingScopeError,
    TokenProvider,
    WgtwoError,
)
from custom_components.wgtwo.client.lookup import (
    DETAILED_LOOKUP_SCOPES,
    LOOKUP_SCOPES,
    MAX_NAME_LENGTH,
    LookupConfig,
    NumberLookupResponder,
    lookup_scopes,
)
from custom_components.wgtwo.client.proto.wgtwo.lookup.v0 import lookup_pb2
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox, free_port
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.lookup_service import NoAnswerError
from wgtwo_sandbox.scopes import ALL_SCOPES, LOOKUP, LOOKUP_DETAILED

from .helpers import endpoint_of, wait_for

ALICE = "+4791234567"
BOB = "+4798765432"
CALLER = "+4722334455"
NAMES = {CALLER: "Carol", BOB: "  Bob  "}
FAST = LookupConfig(max_age=1800.0, backoff_initial=0.05, backoff_max=0.2, keepalive_time=5.0)


class Book:
    """A resolver that records what it was asked."""

    def __init__(self, names: dict[str, str] | None = None, fail: bool = False) -> None:
        self.names = NAMES if names is None else names
        self.fail = fail
        self.asked: list[tuple[str, str | None]] = []

    def __call__(self, number: str, recipient: str | None) -> str | None:
        self.asked.append((number, recipient))
        if self.fail:
            raise RuntimeError(f"phonebook broken for {number}")
        return self.names.get(number)


class States:
    """Records the responder's connection states."""

    def __init__(self) -> None:
        self.states: list[ConnectionStatus] = []

    def __call__(self, status: ConnectionStatus) -> None:
        self.states.append(status)

    @property
    def kinds(self) -> list[ConnectionState]:
        return [status.state for status in self.states]


@contextlib.asynccontextmanager
async def responding(
    server: SandboxServer | Endpoint,
    resolver: Book,
    *,
    token_provider: TokenProvider | None = None,
    config: LookupConfig = FAST,
    states: States | None = None,
    connected: bool = True,
) -> AsyncIterator[tuple[NumberLookupResponder, asyncio.Task[None]]]:
    """Run a responder in a task; stop it and check it ended on exit."""
    endpoint = server if isinstance(server, Endpoint) else endpoint_of(server)
    responder = NumberLookupResponder(
        endpoint, resolver, config=config, token_provider=token_provider, on_state=states
    )
    task = asyncio.create_task(responder.run())
    try:
        if connected:
            await wait_for(
                lambda: responder.status.state is ConnectionState.CONNECTED or task.done(),
                message="connected",
            )
            if task.done():
                task.result()
            assert isinstance(server, Endpoint) or server.lookups.streams
        yield responder, task
    finally:
        await responder.stop()
        assert task.done(), "run() still running after stop()"


def provider(
    session: aiohttp.ClientSession,
    server: SandboxServer,
    scopes: frozenset[str] = LOOKUP_SCOPES,
    secret: str = TEST_CLIENT_SECRET,
) -> TokenProvider:
    return TokenProvider(session, TEST_CLIENT_ID, secret, scopes, token_url=server.token_url)


async def test_names_unknown_numbers_and_cache_time(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    book = Book()
    async with responding(auth_sandbox, book, token_provider=provider(session, auth_sandbox)) as (
        responder,
        _,
    ):
        named = await auth_sandbox.lookups.ask(CALLER, ALICE)
        trimmed = await auth_sandbox.lookups.ask(BOB)
        unknown = await auth_sandbox.lookups.ask("+4711111111")

    assert (named.name, named.error, named.max_age) == ("Carol", None, 1800.0)
    assert trimmed.name == "Bob"
    assert (unknown.name, unknown.error) == ("", None)
    # The basic scope does not name the called subscriber.
    assert book.asked == [(CALLER, None), (BOB, None), ("+4711111111", None)]
    assert responder.stats.as_dict() | {"last_request_time": None} == {
        "asked": 3,
        "named": 2,
        "unknown": 1,
        "errors": 0,
        "reconnects": 0,
        "last_request_time": None,
    }
    assert responder.stats.last_request_time is not None
    assert auth_sandbox.stats["lookup"]["echo_mismatches"] == 0


async def test_detailed_scope_names_the_recipient(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    book = Book()
    token_provider = provider(session, auth_sandbox, lookup_scopes(detailed=True))
    async with responding(auth_sandbox, book, token_provider=token_provider):
        assert (await auth_sandbox.lookups.ask(CALLER, ALICE)).name == "Carol"
        assert (await auth_sandbox.lookups.ask(CALLER)).name == "Carol"

    assert token_provider.scopes == DETAILED_LOOKUP_SCOPES
    assert book.asked == [(CALLER, ALICE), (CALLER, None)]


async def test_malformed_requests_get_an_error_reply(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="custom_components.wgtwo.client")
    book = Book()
    async with responding(sandbox, book) as (responder, task):
        for bad in ("", "4722334455", "+0123", "+47 22 33 44 55", "+" + "1" * 16):
            answer = await sandbox.lookups.ask(bad)
            assert answer.error == "number must be an E.164 phone number"
            assert answer.name is None
        # The stream goes on answering.
        assert (await sandbox.lookups.ask(CALLER)).name == "Carol"
        assert not task.done()

    assert book.asked == [(CALLER, None)]
    assert responder.stats.errors == 5
    assert "4722334455" not in caplog.text


async def test_a_request_without_a_number_gets_an_error_reply(sandbox: SandboxServer) -> None:
    """Raw requests: no number at all, and a recipient that is not E.164 (ignored)."""
    book = Book()
    async with responding(sandbox, book) as (responder, _):
        answer = responder.answer(lookup_pb2.NumberLookupRequest(id="r1"))
        assert answer.WhichOneof("reply") == "error"
        assert answer.number_lookup_request.id == "r1"
        request = lookup_pb2.NumberLookupRequest(id="r2")
        request.number.e164 = CALLER
        request.recipient.e164 = "nobody"
        answer = responder.answer(request)
        assert answer.number_lookup_request == request
        assert answer.result.name == "Carol"
        assert answer.cache_control.max_age.seconds == 1800

    assert book.asked == [(CALLER, None)]


async def test_a_failing_resolver_gets_an_error_reply_without_the_number(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    book = Book(fail=True)
    async with responding(sandbox, book) as (responder, task):
        answer = await sandbox.lookups.ask(CALLER, ALICE)
        assert answer.error == "lookup failed"
        book.fail = False
        assert (await sandbox.lookups.ask(CALLER)).name == "Carol"
        assert not task.done()

    assert responder.stats.errors == 1
    assert "Caller name lookup failed: RuntimeError" in caplog.text
    assert CALLER not in caplog.text
    assert CALLER[1:] not in caplog.text


async def test_an_absurdly_long_name_is_cut(sandbox: SandboxServer) -> None:
    async with responding(sandbox, Book({CALLER: "x" * 5000})):
        answer = await sandbox.lookups.ask(CALLER)
    assert answer.name == "x" * MAX_NAME_LENGTH


async def test_reconnects_after_the_server_ends_the_stream(sandbox: SandboxServer) -> None:
    states = States()
    async with responding(sandbox, Book(), states=states) as (responder, _):
        assert sandbox.lookups.end_streams() == 1
        await wait_for(lambda: sandbox.stats["lookup"]["streams_opened"] == 2)
        await wait_for(lambda: states.kinds.count(ConnectionState.CONNECTED) == 2)
        assert (await sandbox.lookups.ask(CALLER)).name == "Carol"
        assert responder.stats.reconnects == 1

    assert states.kinds == [
        ConnectionState.CONNECTING,
        ConnectionState.CONNECTED,
        ConnectionState.DISCONNECTED,
        ConnectionState.CONNECTED,
    ]
    assert states.states[2].reason == "UNAVAILABLE"


async def test_an_expired_token_is_replaced(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    token_provider = provider(session, auth_sandbox)
    async with responding(auth_sandbox, Book(), token_provider=token_provider) as (_, task):
        auth_sandbox.expire_tokens()
        auth_sandbox.lookups.end_streams()
        await wait_for(lambda: auth_sandbox.stats["lookup"]["streams_opened"] == 2)
        await wait_for(lambda: bool(auth_sandbox.lookups.streams))
        assert (await auth_sandbox.lookups.ask(CALLER)).name == "Carol"
        assert not task.done()

    assert token_provider.requests == 2


async def test_rejected_credentials_end_run(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    states = States()
    token_provider = provider(session, auth_sandbox)
    async with responding(auth_sandbox, Book(), token_provider=token_provider, states=states) as (
        _,
        task,
    ):
        auth_sandbox.authority.client_secret = "rotated"
        auth_sandbox.revoke_tokens()
        auth_sandbox.lookups.end_streams()
        with pytest.raises(AuthenticationError):
            await asyncio.wait_for(task, 5)

    assert states.kinds[-1] is ConnectionState.FAILED
    assert isinstance(states.states[-1].error, AuthenticationError)


async def test_a_token_refused_twice_ends_run(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    """The server refuses even a freshly issued token: the credentials are no good."""
    token_provider = provider(session, auth_sandbox)

    def refuse(metadata: Any, needed: Any) -> None:
        from wgtwo_sandbox.auth import AuthError

        raise AuthError(grpc.StatusCode.UNAUTHENTICATED, "token not accepted")

    auth_sandbox.authority.check = refuse  # type: ignore[method-assign]
    async with responding(auth_sandbox, Book(), token_provider=token_provider, connected=False) as (
        _,
        task,
    ):
        with pytest.raises(AuthenticationError, match="freshly issued"):
            await asyncio.wait_for(task, 5)
    assert token_provider.requests == 2


async def test_no_token_for_a_server_that_wants_one(auth_sandbox: SandboxServer) -> None:
    async with responding(auth_sandbox, Book(), connected=False) as (_, task):
        with pytest.raises(AuthenticationError, match="requires authentication"):
            await asyncio.wait_for(task, 5)


async def test_scope_refused_by_the_token_endpoint(
    make_sandbox: MakeSandbox, session: aiohttp.ClientSession
) -> None:
    server = await make_sandbox(
        client_id=TEST_CLIENT_ID,
        client_secret=TEST_CLIENT_SECRET,
        granted_scopes=ALL_SCOPES - {LOOKUP, LOOKUP_DETAILED},
    )
    states = States()
    async with responding(
        server, Book(), token_provider=provider(session, server), states=states, connected=False
    ) as (_, task):
        with pytest.raises(MissingScopeError) as caught:
            await asyncio.wait_for(task, 5)

    assert caught.value.missing_scopes == {LOOKUP}
    assert states.kinds[-1] is ConnectionState.FAILED


async def test_scope_refused_on_the_stream(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    """A token without the lookup grant gets PERMISSION_DENIED from the stream itself."""
    token_provider = TokenProvider(
        session,
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        {"events.voice.subscribe"},
        token_url=auth_sandbox.token_url,
    )
    async with responding(auth_sandbox, Book(), token_provider=token_provider, connected=False) as (
        _,
        task,
    ):
        with pytest.raises(MissingScopeError) as caught:
            await asyncio.wait_for(task, 5)

    assert caught.value.missing_scopes == {LOOKUP}
    assert not auth_sandbox.lookups.streams


async def test_a_refused_stream_ends_run(sandbox: SandboxServer) -> None:
    async with responding(sandbox, Book()) as (_, task):
        sandbox.lookups.end_streams(grpc.StatusCode.INVALID_ARGUMENT, "no")
        with pytest.raises(WgtwoError, match="INVALID_ARGUMENT"):
            await asyncio.wait_for(task, 5)


async def test_an_unreachable_server_is_retried_until_it_is_up(
    make_sandbox: MakeSandbox,
) -> None:
    port = free_port()
    states = States()
    endpoint = Endpoint("127.0.0.1", port, plaintext=True)
    async with responding(endpoint, Book(), states=states, connected=False) as (responder, task):
        await wait_for(lambda: responder.stats.reconnects >= 2)
        assert states.kinds[-1] is ConnectionState.DISCONNECTED
        server = await make_sandbox(grpc_port=port, stall_relay=False)
        await wait_for(lambda: bool(server.lookups.streams), timeout=10)
        assert (await server.lookups.ask(CALLER)).name == "Carol"
        assert not task.done()


async def test_a_server_back_after_an_outage_is_used_long_before_the_backoff_ends(
    make_sandbox: MakeSandbox,
) -> None:
    """However long the backoff has grown, the probe notices the server coming back."""
    port = free_port()
    # The first delay is 100 to 200 s; the stream must be back well within it.
    config = LookupConfig(max_age=1800.0, backoff_initial=200.0, backoff_max=200.0)
    endpoint = Endpoint("127.0.0.1", port, plaintext=True)
    async with responding(endpoint, Book(), config=config, connected=False) as (responder, _):
        await wait_for(
            lambda: (responder.status.retry_in or 0.0) >= 100.0, message="waiting out a backoff"
        )
        server = await make_sandbox(grpc_port=port, stall_relay=False)
        await wait_for(lambda: bool(server.lookups.streams), timeout=30)
        assert (await server.lookups.ask(CALLER)).name == "Carol"


async def test_stop_before_and_during_run(sandbox: SandboxServer) -> None:
    responder = NumberLookupResponder(endpoint_of(sandbox), Book(), config=FAST)
    await responder.stop()
    await asyncio.wait_for(responder.run(), 30)  # stopped first: returns without connecting
    assert not sandbox.lookups.streams

    async with responding(sandbox, Book()) as (responder, _):
        with pytest.raises(RuntimeError, match="already running"):
            await responder.run()
    await wait_for(lambda: not sandbox.lookups.streams)
    with pytest.raises(NoAnswerError):
        await sandbox.lookups.ask(CALLER)


async def test_a_failing_state_callback_does_not_stop_answers(sandbox: SandboxServer) -> None:
    def broken(status: ConnectionStatus) -> None:
        raise RuntimeError("callback bug")

    responder = NumberLookupResponder(endpoint_of(sandbox), Book(), config=FAST, on_state=broken)
    task = asyncio.create_task(responder.run())
    try:
        await wait_for(lambda: bool(sandbox.lookups.streams))
        assert (await sandbox.lookups.ask(CALLER)).name == "Carol"
    finally:
        await responder.stop()
    assert task.done()
    assert not task.cancelled()


def test_cache_time_below_the_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 900"):
        LookupConfig(max_age=60)
    assert LookupConfig(max_age=900).max_age == 900


async def test_a_stream_the_server_closes_cleanly_is_opened_again(sandbox: SandboxServer) -> None:
    states = States()
    async with responding(sandbox, Book(), states=states) as (responder, _):
        assert responder.config is FAST
        sandbox.lookups.end_streams(grpc.StatusCode.OK)
        await wait_for(lambda: states.kinds.count(ConnectionState.CONNECTED) == 2)
        assert (await sandbox.lookups.ask(CALLER)).name == "Carol"

    assert states.states[2].reason == "stream ended by server"
    assert responder.stats.reconnects == 1


async def test_an_unreachable_token_endpoint_is_retried(
    sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    token_provider = TokenProvider(
        session,
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        LOOKUP_SCOPES,
        token_url=f"http://127.0.0.1:{free_port()}/oauth2/token",
    )
    states = States()
    async with responding(
        sandbox, Book(), token_provider=token_provider, states=states, connected=False
    ) as (responder, task):
        await wait_for(lambda: responder.stats.reconnects >= 2)
        assert not task.done()
        assert states.kinds[-1] is ConnectionState.DISCONNECTED
        assert "token endpoint unreachable" in (states.states[-1].reason or "")
    assert not sandbox.lookups.streams


async def test_cancelled_from_outside_run_raises(sandbox: SandboxServer) -> None:
    """Only stop() ends run() quietly; a cancellation from elsewhere propagates."""
    responder = NumberLookupResponder(endpoint_of(sandbox), Book(), config=FAST)
    task = asyncio.create_task(responder.run())
    await wait_for(lambda: bool(sandbox.lookups.streams))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_for(lambda: not sandbox.lookups.streams)
    # It can run again afterwards.
    async with responding(sandbox, Book()):
        assert (await sandbox.lookups.ask(CALLER)).name == "Carol"


async def test_streams_ended_while_a_request_is_answered(sandbox: SandboxServer) -> None:
    """The server ends the stream right after asking: the responder reconnects every time."""
    async with responding(sandbox, Book()) as (responder, task):
        for round_ in range(1, 11):
            await wait_for(lambda: bool(sandbox.lookups.streams))
            asking = asyncio.create_task(sandbox.lookups.ask(CALLER, timeout=1))
            await asyncio.sleep(0)
            sandbox.lookups.end_streams()
            with contextlib.suppress(NoAnswerError):
                await asking
            await wait_for(lambda: responder.stats.reconnects == round_)  # noqa: B023
        assert not task.done()
        await wait_for(lambda: bool(sandbox.lookups.streams))
        assert (await sandbox.lookups.ask(CALLER)).name == "Carol"
