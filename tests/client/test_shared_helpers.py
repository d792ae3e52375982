"""Helpers the loop, the check, the acker and the actions share."""

from __future__ import annotations

import asyncio
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from custom_components.wgtwo.client import actions
from custom_components.wgtwo.client.accept import stream_accepted
from custom_components.wgtwo.client.auth import bearer_metadata
from custom_components.wgtwo.client.models import _EPOCH, timestamp_to_datetime


class FakeCall:
    """A Subscribe call whose headers and end the test controls."""

    def __init__(self, *, headers: bool, ends: bool) -> None:
        self._headers = headers
        self._ends = ends
        self._done = False

    async def initial_metadata(self) -> tuple[()]:
        if not self._headers:
            await asyncio.Event().wait()
        if self._ends:
            self._done = True  # a refusal: empty headers together with the status
        return ()

    def done(self) -> bool:
        return self._done


class ReadyChannel:
    async def channel_ready(self) -> None:
        return None


async def _accepted(call: FakeCall, silent_after: float = 0.05) -> bool:
    channel: Any = ReadyChannel()
    return await stream_accepted(call, channel, silent_after)


async def test_headers_on_an_open_stream_mean_accepted() -> None:
    assert await _accepted(FakeCall(headers=True, ends=False))


async def test_headers_with_a_status_mean_refused() -> None:
    assert not await _accepted(FakeCall(headers=True, ends=True))


async def test_a_silent_open_stream_is_accepted_after_the_wait() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await _accepted(FakeCall(headers=False, ends=False), silent_after=0.05)
    assert loop.time() - started >= 0.1  # the header wait, then as long again on a ready link


def test_bearer_metadata() -> None:
    assert bearer_metadata("t0k") == (("authorization", "Bearer t0k"),)


def test_one_timestamp_decoder_for_events_and_actions() -> None:
    stamp = Timestamp(seconds=1722593335, nanos=668065022)
    decoded = timestamp_to_datetime(stamp)
    assert decoded.isoformat() == "2024-08-02T10:08:55.668065+00:00"
    assert actions._time(stamp, True) == decoded
    assert actions._time(stamp, False) is None
    assert actions._time(Timestamp(seconds=10**15), True) == _EPOCH  # broken clock
