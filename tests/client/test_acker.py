"""Concurrent acks: bounded, drained at the end, token refresh, status without suspending."""

from __future__ import annotations

import asyncio

import aiohttp
import grpc
import pytest

from custom_components.wgtwo.client import SubscriptionStats, TokenProvider, acker as acker_module
from custom_components.wgtwo.client.acker import Acker, finished_code
from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2_grpc
from tests.sandbox_fixtures import TEST_CLIENT_ID, TEST_CLIENT_SECRET
from wgtwo_sandbox import SandboxServer

from .helpers import Recorder, endpoint_of, fast_config, publish_voice, running, wait_for


class _SlowStatus:
    async def code(self) -> grpc.StatusCode:
        await asyncio.sleep(0)
        return grpc.StatusCode.OK


class _BrokenStatus:
    async def code(self) -> grpc.StatusCode:
        raise RuntimeError("no status")


async def test_finished_code_never_suspends() -> None:
    assert finished_code(_SlowStatus()) is None
    assert finished_code(_BrokenStatus()) is None


async def test_finished_code_reads_a_real_finished_call(sandbox: SandboxServer) -> None:
    channel = endpoint_of(sandbox).create_channel()
    try:
        stub = events_pb2_grpc.EventsServiceStub(channel)
        from custom_components.wgtwo.client.proto.wgtwo.events.v0 import events_pb2

        call = stub.Ack(events_pb2.AckRequest(inbox="x", sequence=1))
        await call
        assert finished_code(call) is grpc.StatusCode.OK
        bad = stub.Ack(events_pb2.AckRequest())
        with pytest.raises(grpc.aio.AioRpcError):
            await bad
        assert finished_code(bad) is grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await channel.close()


async def test_acks_still_count_when_the_status_is_not_ready(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(acker_module, "finished_code", lambda _call: None)
    recorder = Recorder()
    async with running(sandbox, fast_config(), recorder) as (sub, _):
        await publish_voice(sandbox, 3)
        await wait_for(lambda: sub.stats.acked == 3)
    assert sandbox.stats["acks"] == 3
    stats = SubscriptionStats()
    acker = Acker(stats, None, limit=5, rpc_timeout=5.0)
    channel = endpoint_of(sandbox).create_channel()
    try:
        acker.bind(events_pb2_grpc.EventsServiceStub(channel).Ack)
        await acker.send("", 0)  # refused by the server
        await acker.drain(2)
    finally:
        await channel.close()
    assert stats.ack_failures == 1


async def test_sends_wait_for_room_and_drain_cancels_stuck_acks(sandbox: SandboxServer) -> None:
    stats = SubscriptionStats()
    acker = Acker(stats, None, limit=1, rpc_timeout=30.0)
    channel = endpoint_of(sandbox).create_channel()
    try:
        await channel.channel_ready()
        acker.bind(events_pb2_grpc.EventsServiceStub(channel).Ack)
        sandbox.set_stalled(True)  # acks get no answer
        await acker.send("inbox", 1)
        assert acker.in_flight == 1
        second = asyncio.create_task(acker.send("inbox", 2))
        await asyncio.sleep(0.05)
        assert not second.done()  # no room: waits
        await acker.drain(0.05)
        await asyncio.wait_for(second, 30)  # room again after the stuck ack was cancelled
        await acker.drain(0.05)
        assert acker.in_flight == 0
        assert stats.acked == 0
        assert stats.ack_failures == 2
    finally:
        sandbox.set_stalled(False)
        await channel.close()


async def test_ack_with_expired_token_fetches_one_and_retries(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    provider = TokenProvider(
        session,
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        frozenset({"events.voice.subscribe"}),
        token_url=auth_sandbox.token_url,
    )
    stats = SubscriptionStats()
    acker = Acker(stats, provider, limit=10, rpc_timeout=5.0)
    channel = endpoint_of(auth_sandbox).create_channel()
    try:
        acker.bind(events_pb2_grpc.EventsServiceStub(channel).Ack)
        await acker.send("inbox", 1)  # no token yet: fetched first
        await acker.drain(2)
        auth_sandbox.expire_tokens()  # the cached token now gets rejected: refresh once
        await acker.send("inbox", 2)
        await acker.send("inbox", 3)
        await acker.drain(2)
        assert stats.acked == 3
        assert provider.requests == 2
        auth_sandbox.authority.client_secret = "rotated"  # the next token request fails
        provider.invalidate()
        await acker.send("inbox", 4)
        await acker.drain(2)
        assert stats.ack_failures == 1
    finally:
        await channel.close()


async def test_slow_path_failures_and_drain(
    auth_sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    provider = TokenProvider(
        session, TEST_CLIENT_ID, TEST_CLIENT_SECRET, frozenset(), token_url=auth_sandbox.token_url
    )
    stats = SubscriptionStats()
    acker = Acker(stats, provider, limit=5, rpc_timeout=5.0)
    channel = endpoint_of(auth_sandbox).create_channel()
    try:
        acker.bind(events_pb2_grpc.EventsServiceStub(channel).Ack)
        await acker.send("", 0)  # token fetched first, then the server refuses the ack
        await acker.drain(2)
        assert stats.ack_failures == 1
        provider.invalidate()
        await channel.channel_ready()
        auth_sandbox.set_stalled(True)
        await acker.send("inbox", 1)  # token fetched (HTTP), then the ack hangs
        await wait_for(lambda: provider.requests == 2)
        await acker.drain(0.1)
        assert acker.in_flight == 0
    finally:
        auth_sandbox.set_stalled(False)
        await channel.close()
