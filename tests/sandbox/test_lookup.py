"""The sandbox's NumberLookupService: asking, the control endpoint, call announcements."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import grpc
import pytest

from custom_components.wgtwo.client import TokenProvider
from custom_components.wgtwo.client.auth import bearer_metadata
from custom_components.wgtwo.client.proto.wgtwo.lookup.v0 import lookup_pb2, lookup_pb2_grpc
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET, MakeSandbox
from wgtwo_sandbox import SandboxServer, lookup_service
from wgtwo_sandbox.lookup_service import NoAnswerError
from wgtwo_sandbox.scopes import LOOKUP, LOOKUP_DETAILED

from .conftest import Client, eventually, read

ALICE = "+4791234567"
BOB = "+4798765432"
CALLER = "+4722334455"

Answer = Callable[[lookup_pb2.NumberLookupRequest], lookup_pb2.NumberLookupResponse | None]


def named(name: str) -> Answer:
    """Answer every request with ``name``, echoing it."""

    def answer(request: lookup_pb2.NumberLookupRequest) -> lookup_pb2.NumberLookupResponse:
        reply = lookup_pb2.NumberLookupResponse(number_lookup_request=request)
        reply.result.name = name
        reply.cache_control.max_age.seconds = 1200
        return reply

    return answer


class Product:
    """A raw NumberLookup stream that answers as told and records the requests."""

    def __init__(self, target: str, answer: Answer, metadata: Any = None) -> None:
        self.channel = grpc.aio.insecure_channel(target)
        self.call = lookup_pb2_grpc.NumberLookupServiceStub(self.channel).NumberLookup(
            metadata=metadata
        )
        self.answer = answer
        self.requests: list[lookup_pb2.NumberLookupRequest] = []
        self.task = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        async for request in self.call:
            self.requests.append(request)
            reply = self.answer(request)
            if reply is not None:
                await self.call.write(reply)

    async def close(self) -> None:
        self.call.cancel()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
            await self.task
        await self.channel.close()


@pytest.fixture
async def product() -> AsyncIterator[Callable[..., Any]]:
    """Open lookup streams that the sandbox has accepted; all closed at teardown."""
    products: list[Product] = []

    async def open_stream(
        server: SandboxServer, answer: Answer, metadata: Any = None, accepted: bool = True
    ) -> Product:
        opened = server.stats["lookup"]["streams_opened"]
        stream = Product(server.grpc_target, answer, metadata)
        products.append(stream)
        if accepted:
            await eventually(lambda: server.stats["lookup"]["streams_opened"] == opened + 1)
        return stream

    yield open_stream
    for stream in products:
        await stream.close()


async def token(server: SandboxServer, *scopes: str) -> tuple[tuple[str, str], ...]:
    async with aiohttp.ClientSession() as session:
        provider = TokenProvider(
            session, TEST_CLIENT_ID, TEST_CLIENT_SECRET, scopes, token_url=server.token_url
        )
        return bearer_metadata(await provider.get_token())


async def test_ask_returns_the_products_answer(
    sandbox: SandboxServer, product: Callable[..., Any]
) -> None:
    stream = await product(sandbox, named("Carol"))

    answer = await sandbox.lookups.ask(CALLER, ALICE)

    assert (answer.name, answer.error, answer.max_age) == ("Carol", None, 1200.0)
    (request,) = stream.requests
    assert request.number.e164 == CALLER
    assert request.id
    # No tokens required: the sandbox names the recipient to every stream.
    assert request.recipient.e164 == ALICE
    assert sandbox.stats["lookup"] | {"streams_opened": 0} == {
        "open_streams": 1,
        "streams_opened": 0,
        "asked": 1,
        "answered": 1,
        "named": 1,
        "unknown": 0,
        "errors": 0,
        "timeouts": 0,
        "echo_mismatches": 0,
    }


async def test_recipient_only_with_the_detailed_scope(
    auth_sandbox: SandboxServer, product: Callable[..., Any]
) -> None:
    basic = await product(auth_sandbox, named("A"), await token(auth_sandbox, LOOKUP))
    await auth_sandbox.lookups.ask(CALLER, ALICE)
    await basic.close()
    await eventually(lambda: not auth_sandbox.lookups.streams)
    detailed = await product(
        auth_sandbox, named("B"), await token(auth_sandbox, LOOKUP, LOOKUP_DETAILED)
    )
    await auth_sandbox.lookups.ask(CALLER, ALICE)

    assert not basic.requests[0].HasField("recipient")
    assert detailed.requests[0].recipient.e164 == ALICE


async def test_streams_need_a_token_with_the_lookup_scope(
    auth_sandbox: SandboxServer, product: Callable[..., Any]
) -> None:
    anonymous = await product(auth_sandbox, named("A"), accepted=False)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await anonymous.task
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

    metadata = await token(auth_sandbox, "events.voice.subscribe")
    unscoped = await product(auth_sandbox, named("A"), metadata, accepted=False)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await unscoped.task
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert LOOKUP in (caught.value.details() or "")
    assert auth_sandbox.stats["lookup"]["streams_opened"] == 0


async def test_errors_empty_answers_and_bad_echoes_are_counted(
    sandbox: SandboxServer, product: Callable[..., Any]
) -> None:
    def answer(request: lookup_pb2.NumberLookupRequest) -> lookup_pb2.NumberLookupResponse:
        reply = lookup_pb2.NumberLookupResponse(number_lookup_request=request)
        if request.number.e164 == CALLER:
            reply.error.message = "phonebook down"
        elif request.number.e164 == BOB:
            reply.number_lookup_request.number.e164 = ALICE  # echoes something else
        return reply  # neither result nor error: an empty result

    await product(sandbox, answer)
    error = await sandbox.lookups.ask(CALLER)
    empty = await sandbox.lookups.ask(ALICE)
    await sandbox.lookups.ask(BOB)

    assert (error.name, error.error, error.max_age) == (None, "phonebook down", None)
    assert (empty.name, empty.error) == ("", None)
    lookup = sandbox.stats["lookup"]
    assert (lookup["errors"], lookup["unknown"], lookup["echo_mismatches"]) == (1, 2, 1)


async def test_no_stream_or_no_answer(sandbox: SandboxServer, product: Callable[..., Any]) -> None:
    with pytest.raises(NoAnswerError, match="no lookup stream"):
        await sandbox.lookups.ask(CALLER)
    await product(sandbox, lambda request: None)
    with pytest.raises(NoAnswerError, match="in time"):
        async with asyncio.timeout(30):  # the product never answers: only ask's timeout ends it
            await sandbox.lookups.ask(CALLER, timeout=0.2)
    assert sandbox.stats["lookup"]["timeouts"] == 1


async def test_a_stream_that_closes_while_asked(
    sandbox: SandboxServer, product: Callable[..., Any]
) -> None:
    stream = await product(sandbox, lambda request: None)
    asking = asyncio.create_task(sandbox.lookups.ask(CALLER, timeout=5))
    await eventually(lambda: bool(stream.requests))
    sandbox.lookups.end_streams()
    with pytest.raises(NoAnswerError, match="closed"):
        await asking
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stream.task
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_the_newest_stream_is_asked(
    sandbox: SandboxServer, product: Callable[..., Any]
) -> None:
    await product(sandbox, named("old"))
    await product(sandbox, named("new"))
    assert (await sandbox.lookups.ask(CALLER)).name == "new"


async def test_control_endpoint(sandbox: SandboxServer, product: Callable[..., Any]) -> None:
    url = f"{sandbox.http_url}/control/lookup"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"number": CALLER}) as response:
            assert response.status == 504
            assert "no lookup stream" in (await response.json())["error"]
        async with session.post(url, json={"recipient": ALICE}) as response:
            assert response.status == 400
        async with session.post(url, json=[CALLER]) as response:
            assert response.status == 400
        stream = await product(sandbox, named("Carol"))
        async with session.post(url, json={"number": CALLER, "recipient": ALICE}) as response:
            assert response.status == 200
            assert await response.json() == {"name": "Carol", "max_age": 1200.0}
        assert stream.requests[-1].recipient.e164 == ALICE

        await stream.close()
        await eventually(lambda: not sandbox.lookups.streams)

        def failing(request: lookup_pb2.NumberLookupRequest) -> lookup_pb2.NumberLookupResponse:
            reply = lookup_pb2.NumberLookupResponse(number_lookup_request=request)
            reply.error.message = "nope"
            return reply

        await product(sandbox, failing)
        async with session.post(url, json={"number": CALLER}) as response:
            assert await response.json() == {"error": "nope", "max_age": None}


async def test_control_endpoint_times_out_after_two_seconds(
    sandbox: SandboxServer, product: Callable[..., Any]
) -> None:
    await product(sandbox, lambda request: None)
    started = time.monotonic()
    async with (
        asyncio.timeout(30),
        aiohttp.ClientSession() as session,
        session.post(f"{sandbox.http_url}/control/lookup", json={"number": CALLER}) as response,
    ):
        assert response.status == 504
    assert time.monotonic() - started >= 1.9  # a lower bound: a busy machine only adds to it


def voice(kind: str, call_id: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "callId": call_id,
        "type": kind,
        "fromNumber": {"e164": fields.get("caller", CALLER)},
        "toNumber": {"e164": fields.get("callee", ALICE)},
        "callerIdHidden": fields.get("hidden", False),
    }
    owner = fields.get("owner", ALICE)
    return {"event": {"voiceEvent": event, "owner": {"phoneNumber": {"e164": owner}}}}


async def test_a_ringing_call_asks_once_and_logs_the_name(
    sandbox: SandboxServer, product: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wgtwo_sandbox.lookup")
    stream = await product(sandbox, named("Carol"))
    await sandbox.publish(
        [
            voice("CALL_INITIATED", "c1"),
            voice("CALL_RINGING", "c1"),
            voice("CALL_ANSWERED", "c1"),
            # Not asked: an outgoing call, a hidden caller, no caller.
            voice("CALL_INITIATED", "c2", caller=ALICE, callee=BOB),
            voice("CALL_RINGING", "c3", hidden=True),
            voice("CALL_RINGING", "c4", caller=""),
        ]
    )
    await eventually(lambda: "would show" in caplog.text)
    await sandbox.publish([voice("CALL_RINGING", "c5", callee=BOB, owner=BOB)])
    await eventually(lambda: caplog.text.count("would show") == 2)

    assert [request.number.e164 for request in stream.requests] == [CALLER, CALLER]
    assert [request.recipient.e164 for request in stream.requests] == [ALICE, BOB]
    lines = [r.getMessage() for r in caplog.records if r.name == "wgtwo_sandbox.lookup"]
    assert lines == ['subscriber #1 would show "Carol"', 'subscriber #2 would show "Carol"']
    for number in (CALLER, ALICE, BOB):
        assert number[1:] not in caplog.text


@pytest.mark.parametrize(
    ("answer", "logged"),
    [
        (named(""), "subscriber #1 would show the number (no name known)"),
        (lambda request: None, "subscriber #1 would show the number (no answer in time)"),
    ],
)
async def test_a_call_without_a_name_logs_why(
    sandbox: SandboxServer,
    product: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    answer: Answer,
    logged: str,
) -> None:
    caplog.set_level(logging.INFO, logger="wgtwo_sandbox.lookup")
    await product(sandbox, answer)
    await sandbox.publish([voice("CALL_RINGING", "c1")])
    await eventually(lambda: "would show" in caplog.text)
    assert logged in caplog.text


async def test_a_failed_lookup_is_logged(
    sandbox: SandboxServer, product: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    def failing(request: lookup_pb2.NumberLookupRequest) -> lookup_pb2.NumberLookupResponse:
        reply = lookup_pb2.NumberLookupResponse(number_lookup_request=request)
        reply.error.message = "nope"
        return reply

    caplog.set_level(logging.INFO, logger="wgtwo_sandbox.lookup")
    await product(sandbox, failing)
    await sandbox.publish([voice("CALL_RINGING", "c1")])
    await eventually(lambda: "would show" in caplog.text)
    assert "subscriber #1 would show the number (the lookup failed)" in caplog.text


async def test_a_slow_product_does_not_hold_up_events(
    sandbox: SandboxServer,
    product: Callable[..., Any],
    connect: Callable[..., Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The call's events go out at once while its lookup waits for an answer."""
    # The product never answers: the lookup waits a minute, the event must not.
    monkeypatch.setattr(lookup_service, "CALL_ASK_TIMEOUT", 60.0)
    events = await connect(sandbox).subscribe()
    await product(sandbox, lambda request: None)
    await sandbox.publish([voice("CALL_RINGING", "c1")])

    received = await read(events, within=30)

    assert received.event.voice_event.call_id == "c1"
    lookup = sandbox.stats["lookup"]
    assert (lookup["asked"], lookup["answered"], lookup["timeouts"]) == (1, 0, 0)


async def test_calls_without_a_stream_ask_nothing(
    sandbox: SandboxServer, product: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wgtwo_sandbox.lookup")
    await sandbox.publish([voice("CALL_RINGING", "c1")])
    # A call once a product is there: its announcement comes after anything c1 did.
    await product(sandbox, named("Carol"))
    await sandbox.publish([voice("CALL_RINGING", "c2")])
    await eventually(lambda: "would show" in caplog.text)
    assert sandbox.stats["lookup"]["asked"] == 1
    assert [r.getMessage() for r in caplog.records if "would show" in r.getMessage()] == [
        'subscriber #1 would show "Carol"'
    ]


async def test_pending_call_lookups_end_with_the_server(
    make_sandbox: MakeSandbox, product: Callable[..., Any]
) -> None:
    server = await make_sandbox()
    await product(server, lambda request: None)
    await server.publish([voice("CALL_RINGING", "c1")])
    await eventually(lambda: server.stats["lookup"]["asked"] == 1)
    await server.stop()
    assert not server.lookups.streams
